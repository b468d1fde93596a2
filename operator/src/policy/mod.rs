//! IAM policy documents: building the tenant agent's trust and inline policies, and comparing
//! documents semantically (statement order, string vs array, action case, Sid), so the operator
//! never re-applies a policy that only looks different.
//!
//! Owns: what a tenant agent may do. Must never: emit a `*` resource where the resource can be
//! named (see the tests and the isolation drill). The evaluator of documents is `eval`.

mod eval;

pub use eval::{effective, evaluate, Decision, Request};

use std::collections::BTreeSet;

use crds::api::{AgentKind, AgentSpec};
use crds::naming::{ArnContext, TenantName};
use serde_json::{json, Map, Value};

/// What a tenant agent's inline policy is built from.
#[derive(Debug, Clone)]
pub struct PolicyInputs<'a> {
    pub arn: &'a ArnContext,
    pub tenant: &'a TenantName,
    pub agent: &'a AgentSpec,
    pub tenant_bucket: &'a str,
    /// With IAM database authentication: the tenant's database user ARN.
    pub db_user_arn: Option<&'a str>,
}

/// Trust policy: only ECS tasks of this account may assume the role (confused-deputy guard).
pub fn trust_policy(arn: &ArnContext) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EcsTasksOfThisAccountOnly",
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": arn.account_id},
                "ArnLike": {"aws:SourceArn": format!("arn:{}:ecs:{}:{}:*", arn.partition, arn.region, arn.account_id)}
            }
        }]
    })
}

/// Inference profile ids carry a geography prefix (`us.`, `eu.`, `apac.`, `global.`).
fn inference_profile_base(model: &str) -> Option<&str> {
    let (prefix, rest) = model.split_once('.')?;
    matches!(prefix, "us" | "eu" | "apac" | "us-gov" | "global").then_some(rest)
}

/// Least-privilege inline policy of one agent's role: its own secrets, its own model, its own S3
/// prefix and its own log group. Nothing else.
pub fn agent_policy(p: &PolicyInputs<'_>) -> Value {
    let kind: AgentKind = p.agent.kind;
    let db_secret = p.arn.secret_arn_pattern(&p.tenant.db_secret_name());
    let oauth: Vec<String> = p
        .agent
        .integrations
        .iter()
        .map(|i| p.arn.secret_arn_pattern(&p.tenant.oauth_secret_name(*i)))
        .collect();
    let mut read_secrets = vec![db_secret];
    read_secrets.extend(oauth.iter().cloned());

    let model_resources: Vec<String> = match inference_profile_base(&p.agent.model) {
        Some(base) => vec![
            format!(
                "arn:{}:bedrock:{}:{}:inference-profile/{}",
                p.arn.partition, p.arn.region, p.arn.account_id, p.agent.model
            ),
            // A cross-region profile routes to the base model in any of its regions.
            format!(
                "arn:{}:bedrock:*::foundation-model/{}",
                p.arn.partition, base
            ),
        ],
        None => vec![p.arn.foundation_model_arn(&p.agent.model)],
    };
    let bucket = p.arn.bucket_arn(p.tenant_bucket);
    let prefix = p.tenant.s3_prefix();

    let mut statements = vec![
        json!({
            "Sid": "ReadOwnSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": read_secrets,
        }),
        json!({
            "Sid": "InvokeOwnModel",
            "Effect": "Allow",
            "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
            "Resource": model_resources,
        }),
        json!({
            "Sid": "OwnObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [format!("{bucket}/{prefix}*")],
        }),
        json!({
            "Sid": "ListOwnPrefix",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket],
            "Condition": {"StringLike": {"s3:prefix": [format!("{prefix}*")]}},
        }),
        json!({
            "Sid": "OwnLogStreams",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [format!("{}:log-stream:*", p.arn.log_group_arn(p.tenant, kind))],
        }),
    ];
    if let Some(user) = p.db_user_arn {
        statements.push(json!({
            "Sid": "ConnectAsOwnDatabaseUser",
            "Effect": "Allow",
            "Action": ["rds-db:connect"],
            "Resource": [user],
        }));
    }
    if !oauth.is_empty() {
        // Agents refresh OAuth access tokens and store the rotated grant in their own secret.
        statements.insert(
            1,
            json!({
                "Sid": "RotateOwnOAuthGrants",
                "Effect": "Allow",
                "Action": ["secretsmanager:PutSecretValue"],
                "Resource": oauth,
            }),
        );
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// IAM returns policy documents URL-encoded; this decodes and parses one.
pub fn decode_document(encoded: &str) -> Option<Value> {
    let decoded = urlencoding::decode(encoded).ok()?;
    serde_json::from_str(&decoded).ok()
}

const LIST_KEYS: [&str; 6] = [
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
];

fn as_sorted_set(v: &Value, lowercase: bool) -> Value {
    let items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    let set: BTreeSet<String> = items
        .into_iter()
        .map(|i| {
            let s = match i {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if lowercase {
                s.to_lowercase()
            } else {
                s
            }
        })
        .collect();
    Value::Array(set.into_iter().map(Value::String).collect())
}

fn normalize_principal(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), as_sorted_set(v, false)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn normalize_condition(v: &Value) -> Value {
    match v {
        Value::Object(ops) => Value::Object(
            ops.iter()
                .map(|(op, keys)| {
                    let keys = match keys {
                        Value::Object(km) => Value::Object(
                            km.iter()
                                .map(|(k, v)| (k.to_lowercase(), as_sorted_set(v, false)))
                                .collect(),
                        ),
                        other => other.clone(),
                    };
                    (op.clone(), keys)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn normalize_statement(s: &Value) -> Value {
    let Value::Object(m) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "Sid" => {}
            "Principal" | "NotPrincipal" => {
                out.insert(k.clone(), normalize_principal(v));
            }
            "Condition" => {
                out.insert(k.clone(), normalize_condition(v));
            }
            key if LIST_KEYS.contains(&key) => {
                let lower = key.ends_with("Action");
                out.insert(k.clone(), as_sorted_set(v, lower));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A canonical form: two documents that grant the same thing normalise to the same value.
pub fn normalize(doc: &Value) -> Value {
    let statements: Vec<Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().map(normalize_statement).collect(),
        Some(single) => vec![normalize_statement(single)],
        None => vec![],
    };
    let mut keyed: Vec<(String, Value)> =
        statements.into_iter().map(|s| (s.to_string(), s)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    json!({
        "Version": doc.get("Version").cloned().unwrap_or(Value::Null),
        "Statement": keyed.into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
    })
}

/// The statements `after` adds to `before` and those it removes, compared in canonical form, for
/// `openclaw plan` (`- Statement: {…s3:*…}` when someone widened a policy).
/// With no `before` document, every statement is added.
pub fn statement_changes(before: Option<&Value>, after: &Value) -> Vec<crds::diff::Change> {
    let statements = |d: &Value| match normalize(d).get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let (b, a) = (
        before.map(statements).unwrap_or_default(),
        statements(after),
    );
    let removed = b
        .iter()
        .filter(|s| !a.contains(s))
        .map(|s| crds::diff::Change {
            path: "Statement".into(),
            before: Some(s.clone()),
            after: None,
        });
    let added = a
        .iter()
        .filter(|s| !b.contains(s))
        .map(|s| crds::diff::Change {
            path: "Statement".into(),
            before: None,
            after: Some(s.clone()),
        });
    removed.chain(added).collect()
}

pub fn semantically_equal(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

/// Every resource ARN or pattern a document names, with the actions it is named for.
pub fn resources(doc: &Value) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    if let Some(Value::Array(stmts)) = normalize(doc).get("Statement") {
        for s in stmts {
            let actions: Vec<String> = s
                .get("Action")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Array(rs)) = s.get("Resource") {
                for r in rs.iter().filter_map(|r| r.as_str()) {
                    out.push((actions.clone(), r.to_owned()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::api::Integration;

    #[test]
    fn statement_changes_name_what_was_added_and_removed_ignoring_form() {
        let ours = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/tenants/t/*"]},
        ]});
        // The same grant in another form, plus one statement someone added.
        let theirs = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "x", "Effect": "Allow", "Action": "s3:getobject", "Resource": "arn:aws:s3:::b/tenants/t/*"},
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        ]});
        let changes = statement_changes(Some(&theirs), &ours);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].path, "Statement");
        assert!(changes[0].after.is_none());
        assert!(changes[0]
            .before
            .as_ref()
            .is_some_and(|b| b.to_string().contains("s3:*")));
        let back = statement_changes(Some(&ours), &theirs);
        assert!(back.len() == 1 && back[0].before.is_none(), "{back:?}");
        assert!(statement_changes(Some(&ours), &ours).is_empty());
        // No document at all: every statement is added.
        assert_eq!(statement_changes(None, &ours).len(), 1);
    }

    fn ctx() -> ArnContext {
        ArnContext {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }

    fn spec(kind: AgentKind, integrations: &[Integration], model: &str) -> AgentSpec {
        AgentSpec {
            kind,
            model: model.into(),
            desired_count: 1,
            cpu: 256,
            memory: 512,
            image: None,
            integrations: integrations.iter().copied().collect(),
            schedules: Vec::new(),
        }
    }

    fn policy_for(tenant: &str, agent: &AgentSpec) -> Value {
        let t = TenantName::parse(tenant).expect("name");
        agent_policy(&PolicyInputs {
            arn: &ctx(),
            tenant: &t,
            agent,
            tenant_bucket: "openclaw-tenants-prod",
            db_user_arn: None,
        })
    }

    #[test]
    fn butler_policy_names_only_its_own_resources() {
        let agent = spec(
            AgentKind::Butler,
            &[Integration::Gmail, Integration::Calendar],
            "anthropic.claude-3-5-haiku-20241022-v1:0",
        );
        let doc = policy_for("acme", &agent);
        let res: BTreeSet<String> = resources(&doc).into_iter().map(|(_, r)| r).collect();
        let want: BTreeSet<String> = [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:/openclaw/acme/db-??????",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:/openclaw/acme/gmail-oauth-??????",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:/openclaw/acme/calendar-oauth-??????",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
            "arn:aws:s3:::openclaw-tenants-prod/tenants/acme/*",
            "arn:aws:s3:::openclaw-tenants-prod",
            "arn:aws:logs:us-east-1:123456789012:log-group:/openclaw/acme/butler:log-stream:*",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(res, want);
        assert!(!res.contains("*"));
    }

    #[test]
    fn iam_mode_grants_exactly_one_database_user_the_tenants_own() {
        let spec = spec(AgentKind::Scout, &[], "amazon.nova-lite-v1:0");
        let acme = TenantName::parse("acme").expect("name");
        let acme_db = crds::naming::DbName::parse("t0123456789abcdef0123456789abcdef").expect("db");
        let user = ctx().db_user_arn("db-ABCDEF123", &acme_db).expect("arn");
        let doc = agent_policy(&PolicyInputs {
            arn: &ctx(),
            tenant: &acme,
            agent: &spec,
            tenant_bucket: "openclaw-tenants-prod",
            db_user_arn: Some(&user),
        });
        let connects: Vec<String> = resources(&doc)
            .into_iter()
            .filter(|(a, _)| a.iter().any(|x| x == "rds-db:connect"))
            .map(|(_, r)| r)
            .collect();
        assert_eq!(connects, vec![user.clone()]);
        let user_part = user.rsplit('/').next().unwrap_or_default();
        assert!(!crds::policy_match::has_wildcard(user_part) && user_part == acme_db.role());
        for other in [
            "t0123456789abcdef0123456789abcdee",
            "t1123456789abcdef0123456789abcdef",
            "tenant_acme",
        ] {
            let o = crds::naming::DbName::parse(other).expect("db");
            let theirs = ctx().db_user_arn("db-ABCDEF123", &o).expect("arn");
            let req = Request {
                action: "rds-db:connect",
                resource: &theirs,
                context: vec![],
            };
            assert_eq!(evaluate(&[&doc], &req), Decision::NotAllowed, "{theirs}");
        }
        let own = Request {
            action: "rds-db:connect",
            resource: &user,
            context: vec![],
        };
        assert_eq!(evaluate(&[&doc], &own), Decision::Allow);
        // Password mode grants no database connect at all.
        assert!(!policy_for("acme", &spec).to_string().contains("rds-db"));
    }

    #[test]
    fn scout_gets_no_oauth_and_no_put_secret() {
        let doc = policy_for(
            "acme",
            &spec(AgentKind::Scout, &[], "amazon.nova-lite-v1:0"),
        );
        let text = doc.to_string();
        assert!(!text.contains("oauth"), "{text}");
        assert!(!text.contains("PutSecretValue"), "{text}");
    }

    #[test]
    fn inference_profiles_name_the_profile_and_base_model() {
        let doc = policy_for(
            "acme",
            &spec(
                AgentKind::Scout,
                &[],
                "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            ),
        );
        let res: Vec<String> = resources(&doc).into_iter().map(|(_, r)| r).collect();
        assert!(res.contains(&"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0".to_owned()));
        assert!(res.contains(
            &"arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"
                .to_owned()
        ));
    }

    #[test]
    fn one_tenants_policy_never_matches_anothers_arns() {
        let agent = spec(
            AgentKind::Strategist,
            &[Integration::Hubspot],
            "amazon.nova-lite-v1:0",
        );
        let a = policy_for("acme", &agent);
        // `acme-b` shares a prefix with `acme`: the classic spill-over case.
        let b = TenantName::parse("acme-b").expect("name");
        let others = [
            format!(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}-AbCdEf",
                b.db_secret_name()
            ),
            format!(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}-AbCdEf",
                b.oauth_secret_name(Integration::Hubspot)
            ),
            format!("arn:aws:s3:::openclaw-tenants-prod/{}x", b.s3_prefix()),
            format!(
                "arn:aws:logs:us-east-1:123456789012:log-group:{}:log-stream:x",
                b.log_group(AgentKind::Strategist)
            ),
        ];
        for (_, pattern) in resources(&a) {
            for other in &others {
                assert!(
                    !crds::policy_match::arn_like(&pattern, other),
                    "{pattern} matches {other}"
                );
            }
        }
    }

    #[test]
    fn semantic_equality_ignores_form() {
        let a = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:x"},
            {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": ["arn:y"]}
        ]});
        let b = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["logs:putlogevents"], "Resource": "arn:y"},
            {"Sid": "Other", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObject"], "Resource": ["arn:x"]}
        ]});
        assert!(semantically_equal(&a, &b));
        let widened = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["logs:putlogevents"], "Resource": "arn:y"},
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": ["arn:x", "*"]}
        ]});
        assert!(!semantically_equal(&a, &widened));
        let single = json!({"Version": "2012-10-17", "Statement":
            {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:y"}});
        let list = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": ["arn:y"]}]});
        assert!(semantically_equal(&single, &list));
    }

    #[test]
    fn trust_policy_carries_confused_deputy_conditions() {
        let t = trust_policy(&ctx());
        assert_eq!(
            t["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
        assert_eq!(
            t["Statement"][0]["Principal"]["Service"],
            "ecs-tasks.amazonaws.com"
        );
        let encoded = urlencoding::encode(&t.to_string()).into_owned();
        assert_eq!(decode_document(&encoded), Some(t));
    }
}
