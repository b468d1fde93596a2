//! Terraform agrees with the operator:
//! - every action and resource the operator's rendered tenant policies use is allowed by the
//!   tenant permissions boundary (deploy/policies/tenant-boundary.json.tpl, which Terraform and
//!   the local stack both render);
//! - every AWS action the operator calls (found in its own source) is allowed by the operator
//!   role policy in Terraform (terraform/modules/operator/operator-policy.json.tpl).
//!
//! Both checks are shown to fail on a mutated copy that lacks one needed action.

use std::collections::BTreeSet;

use crds::api::{AgentKind, AgentSpec, Integration};
use crds::naming::{DbName, TenantName, TenantRef};
use operator::config::CellConfig;
use operator::policy::{self, Decision, Request};
use serde_json::Value;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const CLUSTER: &str = "openclaw-prod";
const BUCKET: &str = "openclaw-tenants-prod";
const DB_RESOURCE_ID: &str = "db-ABCDEFGHIJKLMNOP";
const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/openclaw/openclaw-tenant-boundary";
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/openclaw-task-execution";

fn repo(path: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(path),
    )
    .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Renders a `${name}` template as Terraform's templatefile would, with these values.
fn render(template: &str, vars: &[(&str, &str)]) -> Value {
    let mut t = template.to_owned();
    for (k, v) in vars {
        t = t.replace(&format!("${{{k}}}"), v);
    }
    // `$${…}` is Terraform's escape for a literal `${…}`: an IAM policy variable.
    t = t.replace("$${", "${");
    assert!(
        !t.replace("${aws:", "").contains("${"),
        "unrendered placeholder left in:\n{t}"
    );
    serde_json::from_str(&t).expect("template renders to JSON")
}

fn boundary() -> Value {
    render(
        &repo("deploy/policies/tenant-boundary.json.tpl"),
        &[
            ("partition", "aws"),
            ("region", REGION),
            ("account_id", ACCOUNT),
            ("tenant_bucket", BUCKET),
            ("db_resource_id", DB_RESOURCE_ID),
        ],
    )
}

fn operator_policy() -> Value {
    render(
        &repo("terraform/modules/operator/operator-policy.json.tpl"),
        &[
            ("partition", "aws"),
            ("region", REGION),
            ("account_id", ACCOUNT),
            ("cluster_name", CLUSTER),
            ("boundary_arn", BOUNDARY),
            ("execution_role_arn", EXECUTION_ROLE),
            ("db_identifier", "openclaw-prod"),
            ("operator_service", "openclaw-operator"),
            ("tenant_bucket", BUCKET),
        ],
    )
}

fn cell() -> CellConfig {
    CellConfig {
        name: "prod".into(),
        region: REGION.into(),
        account_id: ACCOUNT.into(),
        partition: "aws".into(),
        aws_endpoint_url: None,
        ecs_cluster: CLUSTER.into(),
        subnets: vec!["subnet-1".into()],
        security_groups: vec!["sg-1".into()],
        agent_image: "openclaw/agent:1".into(),
        execution_role_arn: EXECUTION_ROLE.into(),
        permissions_boundary_arn: BOUNDARY.into(),
        tenant_bucket: BUCKET.into(),
        agent_logs: operator::config::AgentLogsConfig {
            kms_key_arn: format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/logs"),
            retention_days: 30,
            retention_days_by_tier: Default::default(),
        },
        agent_otlp_endpoint: None,
        agent_database_host: None,
        db_auth: Default::default(),
        database: None,
        db_resource_id: None,
        agent_db: None,
    }
}

/// A tenant by name, with an opaque database name of its own (deterministic, for the tables).
fn tenant(name: &str) -> TenantRef {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    let x = h.finish();
    TenantRef::new(
        TenantName::parse(name).expect("name"),
        DbName::parse(&format!("t{x:016x}{:016x}", x.rotate_left(17))).expect("db name"),
    )
}

/// Concrete resources a tenant agent touches under its rendered policy: each pattern with its
/// wildcards filled in the way AWS would (a secret's random suffix, an object key, a stream).
fn concrete(pattern: &str) -> String {
    pattern.replace("??????", "AbC123").replace('*', "x")
}

/// (action, resource) pairs the boundary must allow, for every kind with every integration.
fn tenant_requests() -> Vec<(String, String)> {
    let t = tenant("acme-corp");
    let mut out = Vec::new();
    // Both database login modes: password (no rds-db) and IAM (rds-db:connect on its user).
    let mut iam_cell = cell();
    iam_cell.db_auth = operator::config::DbAuth::Iam;
    iam_cell.db_resource_id = Some(DB_RESOURCE_ID.into());
    for (kind, integrations, model) in [
        (
            AgentKind::Butler,
            vec![Integration::Gmail, Integration::Calendar],
            "anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        (AgentKind::Scout, vec![], "us.amazon.nova-lite-v1:0"),
        (
            AgentKind::Strategist,
            vec![Integration::Hubspot, Integration::Salesforce],
            "amazon.nova-pro-v1:0",
        ),
    ] {
        let spec = AgentSpec {
            kind,
            model: model.into(),
            desired_count: 1,
            cpu: 256,
            memory: 512,
            image: None,
            integrations: integrations.into_iter().collect(),
            schedules: Vec::new(),
        };
        for c in [cell(), iam_cell.clone()] {
            let doc = operator::render::render_agent(&c, &t, crds::api::Tier::Standard, &spec)
                .inline_policy;
            for (actions, resource) in policy::resources(&doc) {
                for a in actions {
                    out.push((a, concrete(&resource)));
                }
            }
        }
    }
    assert!(
        out.iter().any(|(a, _)| a == "rds-db:connect"),
        "IAM mode must be covered"
    );
    out
}

/// The request context of an agent role of `t`: the principal tags the operator puts on it,
/// and a listing of its own prefix.
fn principal(t: &TenantRef, s3_prefix: &'static str) -> Vec<(&'static str, String)> {
    vec![
        ("aws:PrincipalTag/openclaw:tenant", t.to_string()),
        ("aws:PrincipalTag/openclaw:db-user", t.db.role().to_owned()),
        ("s3:prefix", s3_prefix.to_owned()),
    ]
}

fn context<'a>(c: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    c.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn boundary_gaps(boundary: &Value) -> Vec<String> {
    let acme = principal(&tenant("acme-corp"), "tenants/acme-corp/");
    tenant_requests()
        .into_iter()
        .filter(|(a, r)| {
            let req = Request {
                action: a,
                resource: r,
                context: context(&acme),
            };
            policy::evaluate(&[boundary], &req) != Decision::Allow
        })
        .map(|(a, r)| format!("{a} on {r}"))
        .collect()
}

/// The AWS operations the operator's code calls: `.ecs.create_service()` and the like, found in
/// its source, as IAM actions (`ecs:CreateService`).
fn operator_actions() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../operator/src");
    let mut out = BTreeSet::new();
    let mut files = vec![dir.clone()];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).expect("read dir") {
                files.push(e.expect("entry").path());
            }
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("read");
        let compact: String = text.split_whitespace().collect();
        for (client, prefix) in [
            (".ecs.", "ecs"),
            (".iam.", "iam"),
            (".secrets.", "secretsmanager"),
            (".rds.", "rds"),
            (".s3.", "s3"),
            (".logs.", "logs"),
            (".tagging.", "tag"),
        ] {
            for (i, _) in compact.match_indices(client) {
                let rest = &compact[i + client.len()..];
                let op: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                // AWS operations are two words or more (`get_role`); collection methods on
                // fields that happen to share a client's name (`secrets.iter()`) are not.
                if !op.contains('_') || !rest[op.len()..].starts_with("()") {
                    continue;
                }
                let camel: String = op
                    .split('_')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                // S3 authorises some operations under other action names.
                match format!("{prefix}:{camel}").as_str() {
                    "s3:ListObjectVersions" => {
                        out.insert("s3:ListBucketVersions".into());
                    }
                    "s3:DeleteObjects" => {
                        out.insert("s3:DeleteObject".into());
                        out.insert("s3:DeleteObjectVersion".into());
                    }
                    a => {
                        out.insert(a.to_owned());
                    }
                }
            }
        }
    }
    out
}

/// AWS's documented dependent actions: calls that also need these permissions.
fn dependents(action: &str) -> Vec<&'static str> {
    match action {
        "ecs:RegisterTaskDefinition" => vec!["iam:PassRole", "ecs:TagResource"],
        "ecs:CreateService" => vec!["ecs:TagResource"],
        "iam:CreateRole" => vec!["iam:TagRole"],
        "secretsmanager:CreateSecret" => vec!["secretsmanager:TagResource"],
        "logs:CreateLogGroup" => vec!["logs:TagResource"],
        _ => vec![],
    }
}

/// The resources each operator action is called on, and the condition keys the call carries.
fn operator_requests(action: &str) -> Vec<(String, Vec<(&'static str, String)>)> {
    let arn = |s: &str| format!("arn:aws:{s}");
    let role = arn(&format!(
        "iam::{ACCOUNT}:role/openclaw/tenants/openclaw-acme-scout"
    ));
    let secret = arn(&format!(
        "secretsmanager:{REGION}:{ACCOUNT}:secret:/openclaw/acme/db-AbC123"
    ));
    let cluster = arn(&format!("ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"));
    let service = arn(&format!(
        "ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/openclaw-acme-scout"
    ));
    let task_def = arn(&format!(
        "ecs:{REGION}:{ACCOUNT}:task-definition/openclaw-acme-scout:3"
    ));
    let ecs_ctx = vec![
        ("ecs:cluster", cluster.clone()),
        ("ecs:task-definition", task_def.clone()),
    ];
    match action {
        "iam:GetAccountAuthorizationDetails"
        | "secretsmanager:ListSecrets"
        | "secretsmanager:BatchGetSecretValue" => {
            vec![("*".into(), vec![])]
        }
        "iam:PassRole" => vec![
            (
                role,
                vec![("iam:PassedToService", "ecs-tasks.amazonaws.com".into())],
            ),
            (
                EXECUTION_ROLE.into(),
                vec![("iam:PassedToService", "ecs-tasks.amazonaws.com".into())],
            ),
        ],
        "iam:GetPolicy" | "iam:GetPolicyVersion" => vec![(BOUNDARY.into(), vec![])],
        a if a.starts_with("iam:") => {
            vec![(role, vec![("iam:PermissionsBoundary", BOUNDARY.into())])]
        }
        a if a.starts_with("secretsmanager:") => vec![(secret, vec![])],
        "ecs:ListServices" => vec![("*".into(), ecs_ctx)],
        "ecs:RegisterTaskDefinition"
        | "ecs:DescribeTaskDefinition"
        | "ecs:DeregisterTaskDefinition" => {
            vec![(task_def, ecs_ctx)]
        }
        "ecs:ListTaskDefinitions" => vec![("*".into(), ecs_ctx)],
        "ecs:TagResource" => vec![(service, ecs_ctx.clone()), (task_def, ecs_ctx)],
        a if a.starts_with("ecs:") => vec![(service, ecs_ctx)],
        "logs:DescribeLogGroups" => {
            vec![(arn(&format!("logs:{REGION}:{ACCOUNT}:log-group:*")), vec![])]
        }
        "tag:GetResources" => vec![("*".into(), vec![])],
        "logs:DeleteLogGroup"
        | "logs:CreateLogGroup"
        | "logs:PutRetentionPolicy"
        | "logs:AssociateKmsKey"
        | "logs:ListTagsForResource"
        | "logs:TagResource" => vec![(
            arn(&format!(
                "logs:{REGION}:{ACCOUNT}:log-group:/openclaw/acme/scout"
            )),
            vec![],
        )],
        "s3:ListBucketVersions" => vec![(
            format!("arn:aws:s3:::{BUCKET}"),
            vec![("s3:prefix", "tenants/acme/".into())],
        )],
        "s3:DeleteObject" | "s3:DeleteObjectVersion" => {
            vec![(
                format!("arn:aws:s3:::{BUCKET}/tenants/acme/notes.txt"),
                vec![],
            )]
        }
        a if a.starts_with("rds:") => vec![(
            arn(&format!("rds:{REGION}:{ACCOUNT}:db:openclaw-prod")),
            vec![],
        )],
        other => panic!("no resource known for {other}: teach operator_requests"),
    }
}

fn operator_gaps(policy_doc: &Value) -> Vec<String> {
    let mut actions = operator_actions();
    let deps: Vec<String> = actions
        .iter()
        .flat_map(|a| dependents(a))
        .map(str::to_owned)
        .collect();
    actions.extend(deps);
    let mut gaps = Vec::new();
    for a in &actions {
        for (resource, ctx) in operator_requests(a) {
            let req = Request {
                action: a,
                resource: &resource,
                context: ctx.iter().map(|(k, v)| (*k, v.as_str())).collect(),
            };
            if policy::evaluate(&[policy_doc], &req) != Decision::Allow {
                gaps.push(format!("{a} on {resource}"));
            }
        }
    }
    gaps
}

fn remove_action(doc: &Value, action: &str) -> Value {
    let mut doc = doc.clone();
    for s in doc["Statement"].as_array_mut().expect("statements") {
        if let Some(Value::Array(a)) = s.get_mut("Action") {
            a.retain(|x| x.as_str() != Some(action));
        } else if s.get("Action").and_then(Value::as_str) == Some(action) {
            s["Action"] = Value::Array(vec![]);
        }
    }
    doc
}

#[test]
fn the_operator_source_is_scanned_for_its_calls() {
    let actions = operator_actions();
    for must in [
        "ecs:CreateService",
        "iam:PutRolePolicy",
        "secretsmanager:CreateSecret",
        "iam:GetAccountAuthorizationDetails",
        "ecs:DescribeServices",
        "ecs:DeleteTaskDefinitions",
        "s3:ListBucketVersions",
        "s3:DeleteObjectVersion",
        "logs:DeleteLogGroup",
        "logs:CreateLogGroup",
        "logs:AssociateKmsKey",
        "logs:ListTagsForResource",
        "tag:GetResources",
    ] {
        assert!(
            actions.contains(must),
            "{must} not found in the operator's source: {actions:?}"
        );
    }
    assert!(actions.len() >= 25, "{actions:?}");
}

#[test]
fn the_boundary_allows_everything_tenant_policies_grant() {
    let gaps = boundary_gaps(&boundary());
    assert!(
        gaps.is_empty(),
        "the boundary refuses what tenant policies grant:\n{}",
        gaps.join("\n")
    );
}

#[test]
fn the_operator_role_allows_every_call_the_operator_makes() {
    let gaps = operator_gaps(&operator_policy());
    assert!(
        gaps.is_empty(),
        "the operator role in Terraform lacks:\n{}",
        gaps.join("\n")
    );
}

#[test]
fn a_boundary_missing_a_needed_action_is_caught() {
    let mutated = remove_action(&boundary(), "bedrock:InvokeModel");
    let gaps = boundary_gaps(&mutated);
    assert!(
        !gaps.is_empty()
            && gaps
                .iter()
                .all(|g| g.to_lowercase().starts_with("bedrock:invokemodel on")),
        "{gaps:?}"
    );
}

#[test]
fn an_operator_role_missing_a_needed_action_is_caught() {
    for action in [
        "iam:PutRolePolicy",
        "ecs:RegisterTaskDefinition",
        "secretsmanager:RestoreSecret",
        "iam:PassRole",
    ] {
        let mutated = remove_action(&operator_policy(), action);
        let gaps = operator_gaps(&mutated);
        assert!(
            gaps.iter().any(|g| g.starts_with(&format!("{action} on"))),
            "{action}: {gaps:?}"
        );
        assert!(
            gaps.iter().all(|g| g.starts_with(&format!("{action} on"))),
            "{action}: {gaps:?}"
        );
    }
}

#[test]
fn tenant_policies_never_reach_another_tenants_resources_through_the_boundary() {
    // Effective permissions (inline policy ∩ boundary) of tenant acme-corp against tenant
    // acme-corp-b (a prefix look-alike) and globex: all denied; its own: allowed.
    let b = boundary();
    let me = tenant("acme-corp");
    let spec = AgentSpec {
        kind: AgentKind::Butler,
        model: "amazon.nova-lite-v1:0".into(),
        desired_count: 1,
        cpu: 256,
        memory: 512,
        image: None,
        integrations: [Integration::Gmail].into(),
        schedules: Vec::new(),
    };
    let doc = operator::render::render_agent(&cell(), &me, crds::api::Tier::Standard, &spec)
        .inline_policy;
    let tags = principal(&me, "tenants/acme-corp/");
    let check = |t: &TenantRef, want: Decision| {
        let secret = format!(
            "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{}-AbC123",
            t.db_secret_name()
        );
        let object = format!("arn:aws:s3:::{BUCKET}/{}notes.txt", t.s3_prefix());
        let log = format!(
            "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}:log-stream:s",
            t.log_group(AgentKind::Butler)
        );
        for (action, resource) in [
            ("secretsmanager:GetSecretValue", secret),
            ("s3:GetObject", object),
            ("logs:PutLogEvents", log),
        ] {
            let req = Request {
                action,
                resource: &resource,
                context: context(&tags),
            };
            assert_eq!(
                policy::effective(&[&doc], Some(&b), &req),
                want,
                "{action} on {resource}"
            );
        }
    };
    check(&me, Decision::Allow);
    check(&tenant("acme-corp-b"), Decision::NotAllowed);
    check(&tenant("globex"), Decision::NotAllowed);
}

#[test]
fn the_boundary_alone_keeps_a_widened_tenant_role_out_of_other_tenants_data() {
    // Tenant acme-corp's inline policy widened by hand (or by a bug) to every secret and the
    // whole bucket: the boundary's per-tenant wall must still deny every other tenant's data.
    let b = boundary();
    let widened = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "s3:GetObject",
         "s3:ListBucket", "logs:PutLogEvents", "rds-db:connect"], "Resource": "*"}]});
    let me = tenant("acme-corp");
    let reach = |action: &str, resource: &str, prefix: &str| {
        let tenant = me.to_string();
        let user = me.db.role().to_owned();
        let req = Request {
            action,
            resource,
            context: vec![
                ("aws:PrincipalTag/openclaw:tenant", tenant.as_str()),
                ("aws:PrincipalTag/openclaw:db-user", user.as_str()),
                ("s3:prefix", prefix),
            ],
        };
        policy::effective(&[&widened], Some(&b), &req)
    };
    for (t, want) in [
        (me.clone(), Decision::Allow),
        (tenant("acme-corp-b"), Decision::NotAllowed),
        (tenant("globex"), Decision::NotAllowed),
    ] {
        let secret = format!(
            "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{}-AbC123",
            t.db_secret_name()
        );
        let object = format!("arn:aws:s3:::{BUCKET}/{}notes.txt", t.s3_prefix());
        let bucket = format!("arn:aws:s3:::{BUCKET}");
        let log = format!(
            "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}:log-stream:s",
            t.log_group(AgentKind::Butler)
        );
        let user = format!(
            "arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:{DB_RESOURCE_ID}/{}",
            t.db.role()
        );
        for (action, resource) in [
            ("secretsmanager:GetSecretValue", &secret),
            ("s3:GetObject", &object),
            ("s3:ListBucket", &bucket),
            ("logs:PutLogEvents", &log),
            ("rds-db:connect", &user),
        ] {
            assert_eq!(
                reach(action, resource, &t.s3_prefix()),
                want,
                "{action} on {resource} by a widened role of {me}"
            );
        }
    }
    // A role without the operator's tags (one it did not make) is admitted nowhere.
    let untagged = Request {
        action: "secretsmanager:GetSecretValue",
        resource: &format!(
            "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{}-AbC123",
            me.db_secret_name()
        ),
        context: vec![],
    };
    assert_ne!(
        policy::effective(&[&widened], Some(&b), &untagged),
        Decision::Allow
    );
}

/// The operator reads a tenant's database secret (the login probe) and no other secret: OAuth
/// grants stay write-only to it.
#[test]
fn the_operator_reads_database_secrets_only() {
    let doc = operator_policy();
    let read = |name: &str| {
        let resource = format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbC123");
        policy::evaluate(
            &[&doc],
            &Request {
                action: "secretsmanager:GetSecretValue",
                resource: &resource,
                context: vec![],
            },
        )
    };
    assert_eq!(read("/openclaw/acme/db"), Decision::Allow);
    for other in [
        "/openclaw/acme/gmail-oauth",
        "/openclaw/acme/hubspot-oauth",
        "openclaw-operator/database-url",
    ] {
        assert_eq!(read(other), Decision::NotAllowed, "{other}");
    }
}

const GATEWAY_CLIENTS: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:/openclaw-gateway/oauth-clients-AbC123";

fn gateway_policy() -> Value {
    render(
        &repo("deploy/policies/gateway.json.tpl"),
        &[
            ("partition", "aws"),
            ("region", REGION),
            ("account_id", ACCOUNT),
            ("clients_secret_arn", GATEWAY_CLIENTS),
        ],
    )
}

/// The gateway's Secrets Manager calls, found in its source.
fn gateway_calls() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../operator/gateway/src");
    let mut calls = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("gateway src") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        for (snake, action) in [
            (".put_secret_value()", "PutSecretValue"),
            (".describe_secret()", "DescribeSecret"),
            (".get_secret_value()", "GetSecretValue"),
            (".create_secret()", "CreateSecret"),
            (".delete_secret()", "DeleteSecret"),
            (".list_secrets()", "ListSecrets"),
            (".batch_get_secret_value()", "BatchGetSecretValue"),
        ] {
            if text.contains(snake) {
                calls.insert(action.to_owned());
            }
        }
    }
    calls
}

/// The gateway's own isolation drill, for its AWS role: it may put grants into the operator's
/// `-oauth` secrets and read its own client configuration, and read no secret value of any tenant.
#[test]
fn the_gateway_role_writes_grants_only_and_reads_no_tenant_secret() {
    let doc = gateway_policy();
    assert_eq!(
        gateway_calls(),
        ["DescribeSecret", "GetSecretValue", "PutSecretValue"]
            .map(str::to_owned)
            .into(),
        "the gateway's calls changed: review deploy/policies/gateway.json.tpl"
    );
    let arn =
        |name: &str| format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbC123");
    let ours = [(
        "secretsmanager:ResourceTag/openclaw:managed-by",
        "openclaw-operator",
    )];
    let decide = |action: &str, resource: &str, tagged: bool| {
        policy::evaluate(
            &[&doc],
            &Request {
                action,
                resource,
                context: if tagged { ours.to_vec() } else { vec![] },
            },
        )
    };
    for t in ["acme", "globex-inc"] {
        for i in Integration::ALL {
            let grant = arn(&format!("/openclaw/{t}/{i}-oauth"));
            for a in [
                "secretsmanager:PutSecretValue",
                "secretsmanager:DescribeSecret",
            ] {
                assert_eq!(decide(a, &grant, true), Decision::Allow, "{a} on {grant}");
                assert_ne!(
                    decide(a, &grant, false),
                    Decision::Allow,
                    "untagged {grant}"
                );
            }
            assert_eq!(
                decide("secretsmanager:GetSecretValue", &grant, true),
                Decision::Denied,
                "{grant}"
            );
        }
        let db = arn(&format!("/openclaw/{t}/db"));
        for a in [
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            "secretsmanager:BatchGetSecretValue",
        ] {
            assert_ne!(decide(a, &db, true), Decision::Allow, "{a} on {db}");
        }
    }
    assert_eq!(
        decide("secretsmanager:GetSecretValue", GATEWAY_CLIENTS, false),
        Decision::Allow
    );
    for a in [
        "secretsmanager:ListSecrets",
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
    ] {
        assert_ne!(decide(a, "*", true), Decision::Allow, "{a}");
    }
    let operator_db = arn("openclaw-operator/database-url");
    assert_ne!(
        decide("secretsmanager:GetSecretValue", &operator_db, false),
        Decision::Allow
    );
}
