//! A small IAM policy evaluator, from AWS's documented evaluation logic: explicit deny wins,
//! then some allow must match; the permissions boundary caps; policy variables resolve from the
//! request's context. The tests and `openclaw audit isolation` prove isolation claims with it
//! where the emulator enforces nothing.
//!
//! Owns: the decision for one request. Must never: do I/O, or allow what AWS would deny.

use serde_json::Value;

/// The result of evaluating a request against policy documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allows it (implicit deny).
    NotAllowed,
    /// A Deny statement matches (explicit deny wins over any allow).
    Denied,
}

/// One request: action, resource ARN and the condition context keys it carries. The context
/// also resolves policy variables: `${aws:PrincipalTag/openclaw:tenant}` is the value of the
/// context key `aws:PrincipalTag/openclaw:tenant`.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: Vec<(&'a str, &'a str)>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

/// `pattern` with every `${key}` replaced by the request's value for `key`; `None` when the request
/// has no such key (AWS: an unresolvable variable makes the element match nothing).
fn resolve(pattern: &str, req: &Request<'_>) -> Option<String> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}')? + start;
        let key = &rest[start + 2..end];
        let (_, value) = req
            .context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))?;
        // A substituted value is literal: wildcards in it must not widen the pattern.
        if value.contains(['*', '?']) {
            return None;
        }
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn pattern_matches(pattern: &str, value: &str, req: &Request<'_>) -> bool {
    resolve(pattern, req).is_some_and(|p| crds::policy_match::arn_like(&p, value))
}

/// Actions match case-insensitively, with `*` and `?` wildcards.
fn action_matches(pattern: &str, action: &str) -> bool {
    crds::policy_match::arn_like(&pattern.to_lowercase(), &action.to_lowercase())
}

/// Condition operators we evaluate. An unknown operator, or a key the request does not carry,
/// makes the condition false (AWS: a missing key fails every operator except the ...IfExists
/// forms, which we do not use).
fn condition_holds(cond: &Value, req: &Request<'_>) -> bool {
    let Some(ops) = cond.as_object() else {
        return true;
    };
    ops.iter().all(|(op, keys)| {
        let Some(keys) = keys.as_object() else {
            return false;
        };
        keys.iter().all(|(key, wanted)| {
            let Some((_, have)) = req
                .context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
            else {
                return false;
            };
            let wanted: Vec<String> = strings(Some(wanted))
                .iter()
                .filter_map(|w| resolve(w, req))
                .collect();
            match op.as_str() {
                "StringEquals" | "ArnEquals" => wanted.iter().any(|w| w == have),
                "StringLike" | "ArnLike" => {
                    wanted.iter().any(|w| crds::policy_match::arn_like(w, have))
                }
                "StringNotEquals" => wanted.iter().all(|w| w != have),
                _ => false,
            }
        })
    })
}

fn statement_matches(s: &Value, req: &Request<'_>) -> bool {
    let action_ok = if s.get("NotAction").is_some() {
        !strings(s.get("NotAction"))
            .iter()
            .any(|a| action_matches(a, req.action))
    } else {
        strings(s.get("Action"))
            .iter()
            .any(|a| action_matches(a, req.action))
    };
    let resource_ok = if s.get("NotResource").is_some() {
        !strings(s.get("NotResource"))
            .iter()
            .any(|r| pattern_matches(r, req.resource, req))
    } else {
        strings(s.get("Resource"))
            .iter()
            .any(|r| pattern_matches(r, req.resource, req))
    };
    action_ok && resource_ok && s.get("Condition").is_none_or(|c| condition_holds(c, req))
}

/// AWS's evaluation for one identity policy set: an explicit Deny wins; otherwise some Allow
/// must match; otherwise the request is implicitly denied.
pub fn evaluate(docs: &[&Value], req: &Request<'_>) -> Decision {
    let mut allowed = false;
    for doc in docs {
        let stmts: Vec<&Value> = match doc.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(one) => vec![one],
            None => vec![],
        };
        for s in stmts {
            if !statement_matches(s, req) {
                continue;
            }
            match s.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return Decision::Denied,
                Some("Allow") => allowed = true,
                _ => {}
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::NotAllowed
    }
}

/// Effective permission of a role: allowed by its identity policies AND by its permissions
/// boundary (AWS: the boundary caps, it never grants).
pub fn effective(identity: &[&Value], boundary: Option<&Value>, req: &Request<'_>) -> Decision {
    let id = evaluate(identity, req);
    if id != Decision::Allow {
        return id;
    }
    match boundary {
        None => Decision::Allow,
        Some(b) => evaluate(&[b], req),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req<'a>(action: &'a str, resource: &'a str) -> Request<'a> {
        Request {
            action,
            resource,
            context: vec![],
        }
    }

    #[test]
    fn policy_variables_resolve_from_the_principal_tags() {
        let wall = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::b/tenants/${aws:PrincipalTag/openclaw:tenant}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
             "Condition": {"StringLike": {"s3:prefix": "tenants/${aws:PrincipalTag/openclaw:tenant}/*"}}}]});
        let as_tenant = |tenant: &'static str,
                         action: &'static str,
                         resource: &'static str,
                         prefix: &'static str| {
            let mut context = vec![("s3:prefix", prefix)];
            if !tenant.is_empty() {
                context.push(("aws:PrincipalTag/openclaw:tenant", tenant));
            }
            evaluate(
                &[&wall],
                &Request {
                    action,
                    resource,
                    context,
                },
            )
        };
        let object = "arn:aws:s3:::b/tenants/acme/x";
        let cases = [
            ("acme", "s3:GetObject", object, "", Decision::Allow),
            ("globex", "s3:GetObject", object, "", Decision::NotAllowed),
            // A look-alike prefix is another tenant.
            ("acm", "s3:GetObject", object, "", Decision::NotAllowed),
            // No tag: the variable resolves to nothing and the statement matches nothing.
            ("", "s3:GetObject", object, "", Decision::NotAllowed),
            // A tag value is literal, never a wildcard.
            ("*", "s3:GetObject", object, "", Decision::NotAllowed),
            (
                "acme",
                "s3:ListBucket",
                "arn:aws:s3:::b",
                "tenants/acme/",
                Decision::Allow,
            ),
            (
                "acme",
                "s3:ListBucket",
                "arn:aws:s3:::b",
                "tenants/globex/",
                Decision::NotAllowed,
            ),
        ];
        for (tenant, action, resource, prefix, want) in cases {
            assert_eq!(
                as_tenant(tenant, action, resource, prefix),
                want,
                "{tenant} {action} {resource} {prefix}"
            );
        }
    }

    // Cases from the IAM User Guide's policy evaluation logic: explicit deny overrides allow;
    // default deny; wildcards; NotAction; conditions; boundaries cap.
    #[test]
    fn evaluation_logic_table() {
        let allow_s3 = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/tenants/a/*"}]});
        let deny_all_s3 = json!({"Version": "2012-10-17", "Statement":
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}});
        let not_action = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]});
        let cond = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
             "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}]});
        let cases: Vec<(Vec<&Value>, Request<'_>, Decision)> = vec![
            (
                vec![&allow_s3],
                req("s3:GetObject", "arn:aws:s3:::b/tenants/a/x"),
                Decision::Allow,
            ),
            (
                vec![&allow_s3],
                req("S3:getobject", "arn:aws:s3:::b/tenants/a/x"),
                Decision::Allow,
            ),
            (
                vec![&allow_s3],
                req("s3:PutObject", "arn:aws:s3:::b/tenants/a/x"),
                Decision::NotAllowed,
            ),
            (
                vec![&allow_s3],
                req("s3:GetObject", "arn:aws:s3:::b/tenants/ab/x"),
                Decision::NotAllowed,
            ),
            (
                vec![&allow_s3, &deny_all_s3],
                req("s3:GetObject", "arn:aws:s3:::b/tenants/a/x"),
                Decision::Denied,
            ),
            (
                vec![&not_action],
                req("iam:CreateRole", "*"),
                Decision::NotAllowed,
            ),
            (
                vec![&not_action],
                req("s3:ListBucket", "arn:aws:s3:::b"),
                Decision::Allow,
            ),
            (
                vec![&cond],
                req("iam:PassRole", "arn:aws:iam::1:role/x"),
                Decision::NotAllowed,
            ),
            (
                vec![&cond],
                Request {
                    action: "iam:PassRole",
                    resource: "arn:aws:iam::1:role/x",
                    context: vec![("iam:PassedToService", "ecs-tasks.amazonaws.com")],
                },
                Decision::Allow,
            ),
            (
                vec![&cond],
                Request {
                    action: "iam:PassRole",
                    resource: "arn:aws:iam::1:role/x",
                    context: vec![("iam:PassedToService", "ec2.amazonaws.com")],
                },
                Decision::NotAllowed,
            ),
        ];
        for (docs, r, want) in cases {
            assert_eq!(evaluate(&docs, &r), want, "{r:?}");
        }
    }

    #[test]
    fn a_boundary_caps_but_never_grants() {
        let identity = json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "iam:CreateRole"], "Resource": "*"}]});
        let boundary =
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
        assert_eq!(
            effective(&[&identity], Some(&boundary), &req("s3:GetObject", "x")),
            Decision::Allow
        );
        assert_eq!(
            effective(&[&identity], Some(&boundary), &req("iam:CreateRole", "x")),
            Decision::NotAllowed
        );
        assert_eq!(
            effective(&[&identity], Some(&boundary), &req("s3:PutObject", "x")),
            Decision::NotAllowed
        );
        assert_eq!(
            effective(&[&identity], None, &req("iam:CreateRole", "x")),
            Decision::Allow
        );
    }
}
