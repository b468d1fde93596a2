//! `openclaw audit isolation`: walks the live deployment (IAM, Secrets Manager, PostgreSQL) and
//! reports every path by which one tenant's identity could reach another tenant's resource, or by
//! which anything but a tenant's own roles and the operator could reach its secrets.
//!
//! Owns: the findings. Must never: change anything (drift repair does that), or print a secret.
//! It over-reports rather than under-reports: a tenant role's inline policies are evaluated on
//! their own, without the boundary's narrowing, and any attached managed policy is a finding.

use std::collections::BTreeMap;
use std::fmt;

use crds::api::AgentKind;
use crds::naming::{self, ArnContext, DbName, TenantName, TenantRef};
use serde_json::Value;
use sqlx::PgPool;

use crate::aws::AwsError;
use crate::error::Result;
use crate::policy::{self, Decision, Request};
use crate::reconcile::Reconciler;
use crate::resources::{
    iam_role, pg_tenant, secrets_manager, shared_rls, ObservedRole, ObservedSecret,
};

/// One path across a tenant boundary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// iam_policy, iam_wildcard, iam_trust, iam_managed_policy, iam_boundary, secret_policy,
    /// secret_reader, pg_grant, pg_membership, pg_role_attribute, pg_role_setting, pg_rls,
    /// pg_control_connect, pg_control_session.
    pub kind: &'static str,
    /// Who could act (a role).
    pub subject: String,
    /// What it could reach.
    pub reaches: String,
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<18} {} -> {}: {}",
            self.kind, self.subject, self.reaches, self.detail
        )
    }
}

fn docs(role: &ObservedRole) -> Vec<&Value> {
    role.inline_policies.values().flatten().collect()
}

/// Actions that support no resource-level permission: `*` is the only resource they take.
const NO_RESOURCE_LEVEL: [&str; 3] = [
    "secretsmanager:listsecrets",
    "iam:getaccountauthorizationdetails",
    "ecs:listservices",
];

/// IAM paths (pure): every role in the account against every tenant's secrets; tenant roles
/// also against other tenants' objects and logs, for wildcards, and for their trust policy.
pub fn iam_findings(
    tenants: &[TenantName],
    roles: &[ObservedRole],
    secrets: &BTreeMap<String, ObservedSecret>,
    arn: &ArnContext,
    bucket: &str,
    operator_role: Option<&str>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for role in roles {
        let owner = (role.path == naming::TENANT_ROLE_PATH)
            .then(|| naming::parse_agent_resource_name(&role.name).map(|(t, _)| t))
            .flatten();
        if operator_role.is_some_and(|o| o == role.arn || o == role.name) {
            continue;
        }
        let docs = docs(role);
        for (name, secret) in secrets {
            let Some(secret_tenant) = naming::parse_secret_name(name) else {
                continue;
            };
            if owner.as_ref() == Some(&secret_tenant) || !tenants.contains(&secret_tenant) {
                continue;
            }
            for action in [
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
            ] {
                let req = Request {
                    action,
                    resource: &secret.arn,
                    context: vec![],
                };
                if policy::evaluate(&docs, &req) == Decision::Allow {
                    out.push(Finding {
                        kind: if owner.is_some() {
                            "iam_policy"
                        } else {
                            "secret_reader"
                        },
                        subject: role.arn.clone(),
                        reaches: secret.arn.clone(),
                        detail: format!("{action} is allowed"),
                    });
                }
            }
        }
        let Some(owner) = owner else { continue };
        for other in tenants.iter().filter(|t| **t != owner) {
            let object = format!("{}/{}any-object", arn.bucket_arn(bucket), other.s3_prefix());
            let mut targets = vec![("s3:GetObject", object.clone()), ("s3:PutObject", object)];
            for kind in AgentKind::ALL {
                targets.push((
                    "logs:PutLogEvents",
                    format!("{}:log-stream:any", arn.log_group_arn(other, kind)),
                ));
            }
            for (action, resource) in targets {
                let req = Request {
                    action,
                    resource: &resource,
                    context: vec![],
                };
                if policy::evaluate(&docs, &req) == Decision::Allow {
                    out.push(Finding {
                        kind: "iam_policy",
                        subject: role.arn.clone(),
                        reaches: resource,
                        detail: format!("{action} on tenant {other}'s resource is allowed"),
                    });
                }
            }
        }
        for doc in &docs {
            for (actions, resource) in policy::resources(doc) {
                let scoped: Vec<&String> = actions
                    .iter()
                    .filter(|a| !NO_RESOURCE_LEVEL.contains(&a.as_str()))
                    .collect();
                if resource == "*" && !scoped.is_empty() {
                    out.push(Finding {
                        kind: "iam_wildcard",
                        subject: role.arn.clone(),
                        reaches: "*".into(),
                        detail: format!("{scoped:?} on every resource"),
                    });
                }
            }
        }
        for arn_attached in &role.attached_policies {
            out.push(Finding {
                kind: "iam_managed_policy",
                subject: role.arn.clone(),
                reaches: arn_attached.clone(),
                detail: "a managed policy is attached to a tenant role (OpenClaw attaches none)"
                    .into(),
            });
        }
        if let Some(trust) = &role.trust_policy {
            let stmts: Vec<&Value> = match trust.get("Statement") {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(one) => vec![one],
                None => vec![],
            };
            for s in stmts {
                if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                let principal = s.get("Principal").cloned().unwrap_or(Value::Null);
                let only_ecs = principal.as_object().is_some_and(|p| {
                    p.len() == 1
                        && p.get("Service").is_some_and(|v| {
                            v == "ecs-tasks.amazonaws.com"
                                || v.as_array().is_some_and(|a| {
                                    a.iter().all(|x| x == "ecs-tasks.amazonaws.com")
                                })
                        })
                });
                if !only_ecs {
                    out.push(Finding {
                        kind: "iam_trust",
                        subject: principal.to_string(),
                        reaches: role.arn.clone(),
                        detail: "may assume a tenant role (only ECS tasks should)".into(),
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The permissions boundary (pure): with its inline policy widened to every resource, an agent
/// role of one tenant must still reach no other tenant's secret, object, listing, log group or
/// database user, by the boundary alone. Probed with two synthetic tenants and the principal tags
/// the operator puts on every agent role.
pub fn boundary_findings(
    boundary_arn: &str,
    boundary: &Value,
    arn: &ArnContext,
    bucket: &str,
    db_resource_id: Option<&str>,
) -> Vec<Finding> {
    let probe = |name: &str, db: &str| {
        Some(TenantRef::new(
            TenantName::parse(name).ok()?,
            DbName::parse(db).ok()?,
        ))
    };
    let (Some(me), Some(other)) = (
        probe("probe-a", "t0000000000000000000000000000000a"),
        probe("probe-b", "t0000000000000000000000000000000b"),
    ) else {
        return Vec::new();
    };
    let tenant = me.to_string();
    let user = me.db.role().to_owned();
    let prefix = other.s3_prefix();
    let db_user = arn
        .db_user_arn(db_resource_id.unwrap_or("db-PROBE"), &other.db)
        .unwrap_or_default();
    let targets = [
        (
            "secretsmanager:GetSecretValue",
            arn.secret_arn_pattern(&other.db_secret_name())
                .replace("??????", "AbC123"),
            "secret",
        ),
        (
            "s3:GetObject",
            format!("{}/{prefix}any-object", arn.bucket_arn(bucket)),
            "objects",
        ),
        ("s3:ListBucket", arn.bucket_arn(bucket), "object listing"),
        (
            "logs:PutLogEvents",
            format!(
                "{}:log-stream:any",
                arn.log_group_arn(&other, AgentKind::Scout)
            ),
            "log group",
        ),
        ("rds-db:connect", db_user, "database user"),
    ];
    let mut out = Vec::new();
    for (action, resource, what) in targets {
        let req = Request {
            action,
            resource: &resource,
            context: vec![
                ("aws:PrincipalTag/openclaw:tenant", tenant.as_str()),
                ("aws:PrincipalTag/openclaw:db-user", user.as_str()),
                ("s3:prefix", prefix.as_str()),
            ],
        };
        if policy::evaluate(&[boundary], &req) == Decision::Allow {
            out.push(Finding {
                kind: "iam_boundary",
                subject: boundary_arn.to_owned(),
                reaches: format!("another tenant's {what}"),
                detail: format!(
                    "{action} on another tenant's {what} passes the boundary: it has no per-tenant condition (aws:PrincipalTag/{}), so a widened inline policy crosses tenants",
                    naming::TAG_TENANT
                ),
            });
        }
    }
    out
}

/// The default version of a managed policy, decoded.
async fn policy_document(r: &Reconciler, arn: &str) -> Result<Option<Value>> {
    r.clients
        .throttle
        .acquire(crate::throttle::Bucket::Iam)
        .await;
    let p = r
        .clients
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("IAM", "GetPolicy", &e))?;
    let Some(version) = p.policy().and_then(|p| p.default_version_id()) else {
        return Ok(None);
    };
    r.clients
        .throttle
        .acquire(crate::throttle::Bucket::Iam)
        .await;
    let v = r
        .clients
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("IAM", "GetPolicyVersion", &e))?;
    Ok(v.policy_version()
        .and_then(|v| v.document())
        .and_then(policy::decode_document))
}

/// Who may connect to the control store: nobody but its owner and superusers. A tenant role (or
/// PUBLIC, or the tenant group) with CONNECT there could lock, hear and list the control plane.
/// The roles are looked up in the control store's own server, where they may not exist at all.
pub async fn control_store_findings(
    control: &PgPool,
    tenants: &[TenantRef],
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let public: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a \
         WHERE d.datname = current_database() AND a.grantee = 0 AND a.privilege_type = 'CONNECT') \
         OR (SELECT datacl IS NULL FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(control)
    .await?;
    if public {
        out.push(Finding {
            kind: "pg_control_connect",
            subject: "PUBLIC".into(),
            reaches: "the control store".into(),
            detail: "every login of the server may connect to the control database".into(),
        });
    }
    let mut names: Vec<String> = tenants.iter().map(|t| t.db.role().to_owned()).collect();
    names.push(crate::resources::pg_tenant::TENANT_GROUP.to_owned());
    let connecting: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1) \
         AND has_database_privilege(oid, current_database(), 'CONNECT') ORDER BY rolname",
    )
    .bind(&names)
    .fetch_all(control)
    .await?;
    // A session opened before CONNECT was taken away lives on.
    let lingering: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT usename::text FROM pg_stat_activity \
         WHERE datname = current_database() AND usesysid IS NOT NULL \
         AND NOT has_database_privilege(usesysid, current_database(), 'CONNECT') ORDER BY 1",
    )
    .fetch_all(control)
    .await?;
    for role in lingering {
        out.push(Finding {
            kind: "pg_control_session",
            subject: role,
            reaches: "the control store".into(),
            detail: "has a session open on the control database, though it may not connect".into(),
        });
    }
    for role in connecting {
        out.push(Finding {
            kind: "pg_control_connect",
            subject: role,
            reaches: "the control store".into(),
            detail: "may connect to the control database (LISTEN, locks, catalog of every tenant)"
                .into(),
        });
    }
    Ok(out)
}

/// Tenants whose role and schema still spell their name (`tenant_T`, from before opaque database
/// names): every session of the tenant database reads it in `pg_roles` and `pg_namespace` (pure).
pub fn legacy_name_findings(tenants: &[TenantRef]) -> Vec<Finding> {
    tenants
        .iter()
        .filter(|t| t.db.is_legacy())
        .map(|t| Finding {
            kind: "pg_name",
            subject: t.db.role().to_owned(),
            reaches: "every tenant's sessions".into(),
            detail: format!(
                "role and schema spell the tenant name {t}: other tenants read it in pg_roles, \
                 pg_namespace and the statistics views"
            ),
        })
        .collect()
}

/// PostgreSQL paths: role attributes, memberships, grants across tenant schemas or on the control
/// plane, and the shared tables' RLS guard.
pub async fn pg_findings(pool: &PgPool, tenants: &[TenantRef]) -> Result<Vec<Finding>> {
    let mut out = legacy_name_findings(tenants);
    let names: Vec<String> = tenants.iter().map(|t| t.db.role().to_owned()).collect();
    let attrs: Vec<(String, bool, bool, bool, bool, bool)> = sqlx::query_as(
        "SELECT rolname::text, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication \
         FROM pg_roles WHERE rolname = ANY($1)",
    )
    .bind(&names)
    .fetch_all(pool)
    .await?;
    for (role, sup, bypass, createrole, createdb, repl) in attrs {
        for (on, what) in [
            (sup, "SUPERUSER"),
            (bypass, "BYPASSRLS"),
            (createrole, "CREATEROLE"),
            (createdb, "CREATEDB"),
            (repl, "REPLICATION"),
        ] {
            if on {
                out.push(Finding {
                    kind: "pg_role_attribute",
                    subject: role.clone(),
                    reaches: "every tenant's rows".into(),
                    detail: format!("role has {what}"),
                });
            }
        }
    }
    let members: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.rolname::text, g.rolname::text FROM pg_auth_members m \
         JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
         WHERE u.rolname = ANY($1) AND g.rolname NOT IN ('openclaw_tenant', 'rds_iam')",
    )
    .bind(&names)
    .fetch_all(pool)
    .await?;
    for (role, group) in members {
        out.push(Finding {
            kind: "pg_membership",
            subject: role,
            reaches: group.clone(),
            detail: format!("member of {group}: inherits its rights"),
        });
    }
    // From the tables' ACLs: information_schema hides grants the (non-superuser) caller has no
    // part in.
    let grants: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT r.rolname::text, n.nspname::text, c.relname::text, a.privilege_type::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a \
         JOIN pg_roles r ON r.oid = a.grantee \
         WHERE r.rolname = ANY($1) AND n.nspname <> r.rolname AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
    )
    .bind(&names)
    .fetch_all(pool)
    .await?;
    for (role, schema, table, privilege) in grants {
        out.push(Finding {
            kind: "pg_grant",
            subject: role,
            reaches: format!("{schema}.{table}"),
            detail: format!("{privilege} granted outside its own schema"),
        });
    }
    let schema_acl: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.rolname::text, n.nspname::text FROM pg_namespace n, aclexplode(n.nspacl) a \
         JOIN pg_roles r ON r.oid = a.grantee WHERE r.rolname = ANY($1) AND n.nspname <> r.rolname \
         GROUP BY 1, 2",
    )
    .bind(&names)
    .fetch_all(pool)
    .await?;
    for (role, schema) in schema_acl {
        out.push(Finding {
            kind: "pg_grant",
            subject: role,
            reaches: schema.clone(),
            detail: format!("rights on schema {schema}"),
        });
    }
    for (role, settings) in pg_tenant::role_settings(pool, &names).await? {
        let foreign = pg_tenant::foreign_settings(&settings);
        if !foreign.is_empty() {
            out.push(Finding {
                kind: "pg_role_setting",
                subject: role,
                reaches: "the server every tenant shares".into(),
                detail: format!("settings not set by the operator: {}", foreign.join(", ")),
            });
        }
    }
    let rls = shared_rls::observe(pool).await?;
    if !rls.intact() {
        out.push(Finding {
            kind: "pg_rls",
            subject: "every tenant role".into(),
            reaches: "shared.usage".into(),
            detail: format!("row-level security weakened: {rls:?}"),
        });
    }
    out.sort();
    Ok(out)
}

/// Secret resource policies: OpenClaw sets none, so any policy is a path to review.
async fn secret_policy_findings(
    r: &Reconciler,
    secrets: &BTreeMap<String, ObservedSecret>,
    tenants: &[TenantName],
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for (name, s) in secrets {
        if !naming::parse_secret_name(name).is_some_and(|t| tenants.contains(&t)) {
            continue;
        }
        r.clients
            .throttle
            .acquire(crate::throttle::Bucket::SecretsRead)
            .await;
        let resp = r
            .clients
            .secrets
            .get_resource_policy()
            .secret_id(&s.arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SecretsManager", "GetResourcePolicy", &e))?;
        if let Some(p) = resp.resource_policy().filter(|p| !p.trim().is_empty()) {
            let grants = serde_json::from_str::<Value>(p)
                .ok()
                .map(|d| {
                    let stmts = d["Statement"].as_array().cloned().unwrap_or_default();
                    stmts
                        .iter()
                        .filter(|x| x["Effect"] == "Allow")
                        .map(|x| x["Principal"].to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|| "unparseable policy".into());
            out.push(Finding {
                kind: "secret_policy",
                subject: grants,
                reaches: s.arn.clone(),
                detail: "the secret has a resource policy (OpenClaw sets none)".into(),
            });
        }
    }
    Ok(out)
}

/// Every finding in the deployment, for the tenants in the store.
pub async fn audit(r: &Reconciler, operator_role: Option<&str>) -> Result<Vec<Finding>> {
    let refs: Vec<TenantRef> = {
        let mut conn = r
            .pool
            .acquire()
            .await
            .map_err(crate::store::StoreError::from)?;
        crate::store::list_tenants(&mut conn)
            .await?
            .iter()
            .filter_map(|t| t.tenant_ref().ok())
            .collect()
    };
    let tenants: Vec<TenantName> = refs.iter().map(|t| t.name.clone()).collect();
    let roles = iam_role::account_roles(&r.clients, None).await?;
    let secrets: BTreeMap<String, ObservedSecret> =
        secrets_manager::list(&r.clients, naming::SECRET_PREFIX)
            .await?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
    let mut out = iam_findings(
        &tenants,
        &roles,
        &secrets,
        &r.cell.arn_context(),
        &r.cell.tenant_bucket,
        operator_role,
    );
    out.extend(secret_policy_findings(r, &secrets, &tenants).await?);
    out.extend(pg_findings(&r.tenant_db, &refs).await?);
    out.extend(control_store_findings(&r.pool, &refs).await?);
    let boundary_arn = &r.cell.permissions_boundary_arn;
    match policy_document(r, boundary_arn).await? {
        Some(doc) => out.extend(boundary_findings(
            boundary_arn,
            &doc,
            &r.cell.arn_context(),
            &r.cell.tenant_bucket,
            r.cell.db_resource_id.as_deref(),
        )),
        None => out.push(Finding {
            kind: "iam_boundary",
            subject: boundary_arn.clone(),
            reaches: "every tenant".into(),
            detail: "the permissions boundary has no readable default version".into(),
        }),
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render_agent;
    use crate::render::tests::{agent, cell};
    use serde_json::json;

    /// The repository's boundary template, rendered as bootstrap.sh and Terraform render it.
    fn rendered_boundary() -> Value {
        let t = include_str!("../../deploy/policies/tenant-boundary.json.tpl")
            .replace("${partition}", "aws")
            .replace("${region}", "us-east-1")
            .replace("${account_id}", "123456789012")
            .replace("${tenant_bucket}", "tenants-bucket")
            .replace("${db_resource_id}", "db-ABC")
            .replace("$${", "${");
        serde_json::from_str(&t).expect("boundary JSON")
    }

    #[test]
    fn a_boundary_without_the_per_tenant_wall_is_a_finding() {
        let c = cell();
        let arn = c.arn_context();
        let b = rendered_boundary();
        assert!(
            boundary_findings("b", &b, &arn, "tenants-bucket", Some("db-ABC")).is_empty(),
            "{:?}",
            boundary_findings("b", &b, &arn, "tenants-bucket", Some("db-ABC"))
        );
        // The boundary as it was: every tenant's secrets, objects, listing, logs and users.
        let open = serde_json::to_string(&b)
            .expect("json")
            .replace("${aws:PrincipalTag/openclaw:tenant}", "*")
            .replace("${aws:PrincipalTag/openclaw:db-user}", "*");
        let mut open: Value = serde_json::from_str(&open).expect("json");
        for st in open["Statement"].as_array_mut().expect("statements") {
            if let Some(o) = st.as_object_mut() {
                o.remove("Condition");
            }
        }
        let found: Vec<String> =
            boundary_findings("b", &open, &arn, "tenants-bucket", Some("db-ABC"))
                .into_iter()
                .map(|f| f.reaches)
                .collect();
        assert_eq!(
            found,
            [
                "another tenant's secret",
                "another tenant's objects",
                "another tenant's object listing",
                "another tenant's log group",
                "another tenant's database user"
            ]
        );
    }

    fn role_for(t: &TenantName, kind: AgentKind) -> ObservedRole {
        let d = render_agent(
            &cell(),
            &TenantRef::legacy(t.clone()),
            crds::api::Tier::Standard,
            &agent(kind),
        );
        ObservedRole {
            name: d.role_name.clone(),
            arn: d.role_arn.clone(),
            path: naming::TENANT_ROLE_PATH.into(),
            boundary_arn: Some(d.boundary_arn.clone()),
            trust_policy: Some(d.trust_policy.clone()),
            tags: d.tags.clone(),
            inline_policies: [(d.inline_policy_name.clone(), Some(d.inline_policy.clone()))].into(),
            attached_policies: vec![],
        }
    }

    #[test]
    fn a_tenant_on_a_legacy_database_name_is_a_finding() {
        let legacy = TenantRef::legacy(TenantName::parse("acme").expect("name"));
        let opaque = TenantRef::new(
            TenantName::parse("globex").expect("name"),
            DbName::parse("t0123456789abcdef0123456789abcdef").expect("db"),
        );
        let found = legacy_name_findings(&[legacy, opaque]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, "pg_name");
        assert_eq!(found[0].subject, "tenant_acme");
    }

    fn secret(t: &TenantName) -> (String, ObservedSecret) {
        let name = t.db_secret_name();
        (
            name.clone(),
            ObservedSecret {
                arn: format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbC123"),
                name,
                scheduled_for_deletion: false,
                tags: Default::default(),
            },
        )
    }

    #[test]
    fn rendered_roles_have_no_cross_tenant_paths_and_each_plant_is_found() {
        let a = TenantName::parse("acme").expect("a");
        let b = TenantName::parse("acme-b").expect("b");
        let tenants = vec![a.clone(), b.clone()];
        let secrets: BTreeMap<_, _> = [secret(&a), secret(&b)].into();
        let ctx = cell().arn_context();
        let clean = vec![
            role_for(&a, AgentKind::Scout),
            role_for(&b, AgentKind::Scout),
        ];
        let f = |roles: &[ObservedRole]| {
            iam_findings(
                &tenants,
                roles,
                &secrets,
                &ctx,
                "openclaw-tenants-test",
                None,
            )
        };
        assert_eq!(f(&clean), vec![]);

        let mut widened = clean.clone();
        widened[0].inline_policies.insert(
            "extra".into(),
            Some(json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secrets[&b.db_secret_name()].arn}]})),
        );
        let got = f(&widened);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].kind, "iam_policy");

        let mut wildcard = clean.clone();
        wildcard[0].inline_policies.insert(
            "extra".into(),
            Some(json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})),
        );
        let kinds: Vec<&str> = f(&wildcard).iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            ["iam_policy", "iam_wildcard"],
            "reads b's objects, and is a wildcard"
        );

        let mut trust = clean.clone();
        trust[1].trust_policy = Some(
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": clean[0].arn}, "Action": "sts:AssumeRole"}]}),
        );
        let got = f(&trust);
        assert_eq!(
            got.iter().map(|x| x.kind).collect::<Vec<_>>(),
            ["iam_trust"]
        );

        let mut reader = clean.clone();
        reader.push(ObservedRole {
            name: "openclaw-task-execution".into(),
            arn: "arn:aws:iam::123456789012:role/openclaw-task-execution".into(),
            path: "/".into(),
            boundary_arn: None,
            trust_policy: None,
            tags: Default::default(),
            inline_policies: [("x".into(), Some(json!({"Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "arn:aws:secretsmanager:*:*:secret:/openclaw/*"}]})))].into(),
            attached_policies: vec![],
        });
        let got = f(&reader);
        assert_eq!(
            got.iter().filter(|x| x.kind == "secret_reader").count(),
            4,
            "{got:#?}"
        );
        // The operator may read and write secrets.
        let op = iam_findings(
            &tenants,
            &reader,
            &secrets,
            &ctx,
            "openclaw-tenants-test",
            Some("openclaw-task-execution"),
        );
        assert_eq!(op, vec![]);
    }
}
