//! An agent's IAM role `openclaw-T-<agent>` under the tenant path, with its trust policy, the
//! cell's permissions boundary, ownership tags, and its one inline policy.
//!
//! Owns: the role and its inline policy, and taking away whatever else someone attached (other
//! inline policies, managed policies). Must never: plan a change to a role at another path or one
//! that is not ours, or delete a role without first removing its policies.

use std::collections::BTreeMap;

use aws_sdk_iam::types::EntityType;
use crds::api::AgentKind;
use crds::naming::{self, TenantName, TenantRef};
use serde_json::Value;

use crate::aws::{AwsError, Clients};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::policy;
use crate::render::{DesiredAgent, DesiredTenant};
use crate::resources::{tags, Change, Operation, Ownership, Tags, Verb};
use crate::throttle::Bucket;

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedRole {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub boundary_arn: Option<String>,
    pub trust_policy: Option<Value>,
    pub tags: Tags,
    /// Inline policies by name, decoded.
    pub inline_policies: BTreeMap<String, Option<Value>>,
    /// Managed policies attached to the role (we attach none).
    pub attached_policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create { kind: AgentKind },
    UpdateTrustPolicy { kind: AgentKind },
    PutBoundary { kind: AgentKind },
    PutInlinePolicy { kind: AgentKind },
    DeleteForeignInlinePolicy { kind: AgentKind, policy: String },
    DetachPolicy { kind: AgentKind, arn: String },
    Tag { kind: AgentKind },
    Delete { kind: AgentKind },
}

impl Op {
    fn kind(&self) -> AgentKind {
        match self {
            Op::Create { kind }
            | Op::UpdateTrustPolicy { kind }
            | Op::PutBoundary { kind }
            | Op::PutInlinePolicy { kind }
            | Op::DeleteForeignInlinePolicy { kind, .. }
            | Op::DetachPolicy { kind, .. }
            | Op::Tag { kind }
            | Op::Delete { kind } => *kind,
        }
    }
}

impl Operation for Op {
    fn resource(&self, tenant: &TenantRef) -> (Kind, String) {
        match self {
            Op::PutInlinePolicy { kind } | Op::DeleteForeignInlinePolicy { kind, .. } => {
                (Kind::IamInlinePolicy, tenant.policy_name(*kind))
            }
            _ => (Kind::IamRole, tenant.role_name(self.kind())),
        }
    }

    fn verb(&self) -> Verb {
        match self {
            Op::Create { .. } => Verb::Create,
            Op::UpdateTrustPolicy { .. } | Op::PutBoundary { .. } | Op::PutInlinePolicy { .. } => {
                Verb::Update
            }
            Op::DeleteForeignInlinePolicy { .. } | Op::DetachPolicy { .. } => Verb::Revoke,
            Op::Tag { .. } => Verb::Tag,
            Op::Delete { .. } => Verb::Delete,
        }
    }

    fn rank(&self) -> u8 {
        2
    }

    fn agent(&self) -> Option<AgentKind> {
        Some(self.kind())
    }

    fn removes_also(&self, tenant: &TenantRef) -> Vec<(Kind, String)> {
        match self {
            Op::Delete { kind } => vec![(Kind::IamInlinePolicy, tenant.policy_name(*kind))],
            _ => Vec::new(),
        }
    }
}

/// Plans one live agent's role (pure).
pub fn diff(
    own: &Ownership<'_>,
    a: &DesiredAgent,
    observed: Option<&ObservedRole>,
) -> Result<Vec<Change<Op>>> {
    let kind = a.kind;
    let mut out = Vec::new();
    let Some(r) = observed else {
        out.push(Change::new(Op::Create { kind }, "role missing", false));
        out.push(Change::new(
            Op::PutInlinePolicy { kind },
            "role missing",
            false,
        ));
        return Ok(out);
    };
    own.require_owned(Kind::IamRole, &a.role_name, &r.tags)?;
    if r.path != naming::TENANT_ROLE_PATH {
        return Err(ReconcileError::Conflict {
            resource: format!("iam_role {} (path {})", a.role_name, r.path),
            tag: naming::TAG_MANAGED_BY,
        });
    }
    if !r
        .trust_policy
        .as_ref()
        .is_some_and(|t| policy::semantically_equal(t, &a.trust_policy))
    {
        out.push(
            Change::new(Op::UpdateTrustPolicy { kind }, "trust policy changed", true).with_fields(
                policy::statement_changes(r.trust_policy.as_ref(), &a.trust_policy),
            ),
        );
    }
    if r.boundary_arn.as_deref() != Some(a.boundary_arn.as_str()) {
        out.push(Change::new(
            Op::PutBoundary { kind },
            match &r.boundary_arn {
                None => "permissions boundary removed".to_owned(),
                Some(b) => format!("permissions boundary is {b}"),
            },
            true,
        ));
    }
    match r.inline_policies.get(&a.inline_policy_name) {
        None => out.push(Change::new(
            Op::PutInlinePolicy { kind },
            "inline policy missing",
            false,
        )),
        Some(doc) => {
            if !doc
                .as_ref()
                .is_some_and(|d| policy::semantically_equal(d, &a.inline_policy))
            {
                out.push(
                    Change::new(
                        Op::PutInlinePolicy { kind },
                        "inline policy differs from the rendered one",
                        true,
                    )
                    .with_fields(policy::statement_changes(doc.as_ref(), &a.inline_policy)),
                );
            }
        }
    }
    for name in r.inline_policies.keys() {
        if name != &a.inline_policy_name {
            out.push(Change::new(
                Op::DeleteForeignInlinePolicy {
                    kind,
                    policy: name.clone(),
                },
                format!("inline policy {name} was added"),
                true,
            ));
        }
    }
    for arn in &r.attached_policies {
        out.push(Change::new(
            Op::DetachPolicy {
                kind,
                arn: arn.clone(),
            },
            format!("managed policy {arn} was attached"),
            true,
        ));
    }
    out.extend(tags::change(Op::Tag { kind }, &r.tags, &a.tags));
    Ok(out)
}

/// Plans the removal of an agent's role, if it is ours (pure).
pub fn teardown(
    own: &Ownership<'_>,
    kind: AgentKind,
    observed: Option<&ObservedRole>,
    why: &str,
) -> Vec<Change<Op>> {
    match observed {
        Some(r) if own.owned(Kind::IamRole, &r.name, &r.tags) => {
            vec![Change::new(Op::Delete { kind }, why, false)]
        }
        _ => Vec::new(),
    }
}

fn agent(desired: Option<&DesiredTenant>, kind: AgentKind) -> Result<&DesiredAgent> {
    desired
        .and_then(|d| d.agents.iter().find(|a| a.kind == kind))
        .ok_or_else(|| ReconcileError::Internal(format!("no rendered {kind} agent")))
}

pub async fn apply(
    c: &Clients,
    tenant: &TenantName,
    desired: Option<&DesiredTenant>,
    op: &Op,
) -> Result<Option<String>> {
    match op {
        Op::Create { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            match c
                .iam
                .create_role()
                .role_name(&a.role_name)
                .path(naming::TENANT_ROLE_PATH)
                .assume_role_policy_document(a.trust_policy.to_string())
                .permissions_boundary(&a.boundary_arn)
                .description(format!("OpenClaw {} agent of tenant {tenant}", a.kind))
                .set_tags(Some(tags::to_iam(&a.tags)?))
                .send()
                .await
            {
                Ok(r) => Ok(r.role().map(|r| r.arn().to_owned())),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_entity_already_exists_exception()) =>
                {
                    // Created by an earlier pass that died before recording it: verify it is ours.
                    match get(c, &a.role_name).await? {
                        Some(r)
                            if r.tags.get(naming::TAG_MANAGED_BY).map(String::as_str)
                                == Some(naming::MANAGED_BY_VALUE) =>
                        {
                            Ok(Some(r.arn))
                        }
                        _ => Err(ReconcileError::Conflict {
                            resource: format!("iam_role {}", a.role_name),
                            tag: naming::TAG_MANAGED_BY,
                        }),
                    }
                }
                Err(e) => Err(AwsError::from_sdk("IAM", "CreateRole", &e).into()),
            }
        }
        Op::UpdateTrustPolicy { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .update_assume_role_policy()
                .role_name(&a.role_name)
                .policy_document(a.trust_policy.to_string())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "UpdateAssumeRolePolicy", &e))?;
            Ok(Some(a.role_arn.clone()))
        }
        Op::PutBoundary { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .put_role_permissions_boundary()
                .role_name(&a.role_name)
                .permissions_boundary(&a.boundary_arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "PutRolePermissionsBoundary", &e))?;
            Ok(Some(a.role_arn.clone()))
        }
        Op::PutInlinePolicy { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .put_role_policy()
                .role_name(&a.role_name)
                .policy_name(&a.inline_policy_name)
                .policy_document(a.inline_policy.to_string())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "PutRolePolicy", &e))?;
            Ok(None)
        }
        Op::DeleteForeignInlinePolicy { kind, policy } => {
            delete_inline_policy(c, &tenant.role_name(*kind), policy).await?;
            Ok(None)
        }
        Op::DetachPolicy { kind, arn } => {
            detach_policy(c, &tenant.role_name(*kind), arn).await?;
            Ok(None)
        }
        Op::Tag { kind } => {
            let a = agent(desired, *kind)?;
            c.throttle.acquire(Bucket::Iam).await;
            c.iam
                .tag_role()
                .role_name(&a.role_name)
                .set_tags(Some(tags::to_iam(&a.tags)?))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("IAM", "TagRole", &e))?;
            Ok(Some(a.role_arn.clone()))
        }
        Op::Delete { kind } => delete(c, &tenant.role_name(*kind)).await.map(|()| None),
    }
}

/// An IAM delete that finds nothing to delete (NoSuchEntity) is done: the call may be the SDK's
/// retry of one that committed before its answer was lost, or a resumed teardown's last step.
fn gone_is_done<T, E, R>(
    sent: std::result::Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
    operation: &'static str,
) -> Result<()>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
    R: std::fmt::Debug,
{
    match sent {
        Ok(_) => Ok(()),
        Err(e) => match AwsError::from_sdk("IAM", operation, &e) {
            e if e.code == "NoSuchEntity" => Ok(()),
            e => Err(e.into()),
        },
    }
}

async fn delete_inline_policy(c: &Clients, role: &str, policy: &str) -> Result<()> {
    c.throttle.acquire(Bucket::Iam).await;
    let sent = c
        .iam
        .delete_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await;
    gone_is_done(sent, "DeleteRolePolicy")
}

async fn detach_policy(c: &Clients, role: &str, arn: &str) -> Result<()> {
    c.throttle.acquire(Bucket::Iam).await;
    let sent = c
        .iam
        .detach_role_policy()
        .role_name(role)
        .policy_arn(arn)
        .send()
        .await;
    gone_is_done(sent, "DetachRolePolicy")
}

/// Removes the role's policies, then the role; each already gone is done.
async fn delete(c: &Clients, name: &str) -> Result<()> {
    let Some((policies, attached)) = policy_names(c, name).await? else {
        return Ok(());
    };
    for p in policies {
        delete_inline_policy(c, name, &p).await?;
    }
    for arn in attached {
        detach_policy(c, name, &arn).await?;
    }
    c.throttle.acquire(Bucket::Iam).await;
    let sent = c.iam.delete_role().role_name(name).send().await;
    gone_is_done(sent, "DeleteRole")
}

/// One role with its inline and attached policies; `None` if it does not exist.
pub async fn get(clients: &Clients, name: &str) -> Result<Option<ObservedRole>> {
    clients.throttle.acquire(Bucket::Iam).await;
    let resp = match clients.iam.get_role().role_name(name).send().await {
        Ok(r) => r,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::from_sdk("IAM", "GetRole", &e).into()),
    };
    let Some(role) = resp.role() else {
        return Ok(None);
    };
    let mut observed = ObservedRole {
        name: role.role_name().to_owned(),
        arn: role.arn().to_owned(),
        path: role.path().to_owned(),
        boundary_arn: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
        trust_policy: role
            .assume_role_policy_document()
            .and_then(policy::decode_document),
        tags: tags::from_iam(role.tags()),
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
    };
    // Deleted between the two reads: as good as absent.
    let Some((names, attached)) = policy_names(clients, name).await? else {
        return Ok(None);
    };
    for pname in names {
        clients.throttle.acquire(Bucket::Iam).await;
        let doc = clients
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(&pname)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("IAM", "GetRolePolicy", &e))?;
        observed
            .inline_policies
            .insert(pname, policy::decode_document(doc.policy_document()));
    }
    observed.attached_policies = attached;
    Ok(Some(observed))
}

/// A role's inline policy names and attached managed policy ARNs; `None` if it does not exist.
pub async fn policy_names(
    clients: &Clients,
    name: &str,
) -> Result<Option<(Vec<String>, Vec<String>)>> {
    clients.throttle.acquire(Bucket::Iam).await;
    let names = match clients
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(AwsError::from_sdk("IAM", "ListRolePolicies", &e).into()),
    };
    clients.throttle.acquire(Bucket::Iam).await;
    let attached = clients
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("IAM", "ListAttachedRolePolicies", &e))?;
    Ok(Some((
        names.policy_names().to_vec(),
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect(),
    )))
}

/// Every role of the account (or those under `path`), with inline policies, boundary, tags and
/// attached policies, from GetAccountAuthorizationDetails (paginated): the batched observation.
pub async fn account_roles(clients: &Clients, path: Option<&str>) -> Result<Vec<ObservedRole>> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        clients.throttle.acquire(Bucket::Iam).await;
        let r = clients
            .iam
            .get_account_authorization_details()
            .filter(EntityType::Role)
            .max_items(1000)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("IAM", "GetAccountAuthorizationDetails", &e))?;
        for d in r.role_detail_list() {
            if path.is_some_and(|p| d.path() != Some(p)) {
                continue;
            }
            let (Some(name), Some(arn)) = (d.role_name(), d.arn()) else {
                continue;
            };
            out.push(ObservedRole {
                name: name.to_owned(),
                arn: arn.to_owned(),
                path: d.path().unwrap_or("/").to_owned(),
                boundary_arn: d
                    .permissions_boundary()
                    .and_then(|b| b.permissions_boundary_arn())
                    .map(str::to_owned),
                trust_policy: d
                    .assume_role_policy_document()
                    .and_then(policy::decode_document),
                tags: tags::from_iam(d.tags()),
                inline_policies: d
                    .role_policy_list()
                    .iter()
                    .filter_map(|p| {
                        Some((
                            p.policy_name()?.to_owned(),
                            p.policy_document().and_then(policy::decode_document),
                        ))
                    })
                    .collect(),
                attached_policies: d
                    .attached_managed_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned))
                    .collect(),
            });
        }
        marker = if r.is_truncated() {
            r.marker().map(str::to_owned)
        } else {
            None
        };
        if marker.is_none() {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// The role as it exists once `a` is converged.
    pub fn converged(a: &DesiredAgent) -> ObservedRole {
        ObservedRole {
            name: a.role_name.clone(),
            arn: a.role_arn.clone(),
            path: naming::TENANT_ROLE_PATH.into(),
            boundary_arn: Some(a.boundary_arn.clone()),
            trust_policy: Some(a.trust_policy.clone()),
            tags: a.tags.clone(),
            inline_policies: [(a.inline_policy_name.clone(), Some(a.inline_policy.clone()))].into(),
            attached_policies: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures::{desired, lines};
    use crate::resources::Recorded;

    #[test]
    fn diff_table() {
        let d = desired();
        let a = &d.agents[0];
        let ok = fixtures::converged(a);
        let with = |f: &dyn Fn(&mut ObservedRole)| {
            let mut r = ok.clone();
            f(&mut r);
            r
        };
        let role = "iam_role openclaw-acme-scout";
        let policy = "iam_inline_policy openclaw-acme-scout";
        // (case, observed, expected lines, all of them security repairs)
        let cases: Vec<(&str, Option<ObservedRole>, Vec<String>, bool)> = vec![
            (
                "missing",
                None,
                vec![format!("create {role}"), format!("update {policy}")],
                false,
            ),
            ("converged", Some(ok.clone()), vec![], false),
            (
                "trust policy widened",
                Some(with(&|r| {
                    r.trust_policy = Some(serde_json::json!({"Statement": []}))
                })),
                vec![format!("update {role}")],
                true,
            ),
            (
                "boundary removed",
                Some(with(&|r| r.boundary_arn = None)),
                vec![format!("update {role}")],
                true,
            ),
            (
                "inline policy edited",
                Some(with(&|r| {
                    r.inline_policies
                        .insert(a.inline_policy_name.clone(), Some(serde_json::json!({})));
                })),
                vec![format!("update {policy}")],
                true,
            ),
            (
                "inline policy deleted",
                Some(with(&|r| r.inline_policies.clear())),
                vec![format!("update {policy}")],
                false,
            ),
            (
                "a second inline policy and a managed policy added",
                Some(with(&|r| {
                    r.inline_policies.insert("backdoor".into(), None);
                    r.attached_policies
                        .push("arn:aws:iam::aws:policy/AdministratorAccess".into());
                })),
                vec![format!("revoke {policy}"), format!("revoke {role}")],
                true,
            ),
            (
                "a tag stripped",
                Some(with(&|r| {
                    r.tags.remove(naming::TAG_CELL);
                })),
                vec![format!("tag {role}")],
                false,
            ),
        ];
        let recorded = Recorded::new();
        let own = Ownership {
            recorded: &recorded,
        };
        for (case, obs, expect, security) in cases {
            let got = diff(&own, a, obs.as_ref()).expect(case);
            assert_eq!(lines(&got), expect, "{case}");
            assert!(got.iter().all(|c| c.security == security), "{case}");
        }
    }

    #[test]
    fn ownership_and_path_decide_what_may_be_touched() {
        let d = desired();
        let a = &d.agents[0];
        let mut stripped = fixtures::converged(a);
        stripped.tags.clear();
        let none = Recorded::new();
        let own = Ownership { recorded: &none };
        let err = diff(&own, a, Some(&stripped)).expect_err("not ours");
        assert!(
            err.to_string().contains("iam_role openclaw-acme-scout"),
            "{err}"
        );
        assert!(teardown(&own, a.kind, Some(&stripped), "agent deleted").is_empty());
        // The inventory proves we created it: the tags are put back instead.
        let recorded: Recorded = [("iam_role".to_owned(), a.role_name.clone())].into();
        let own = Ownership {
            recorded: &recorded,
        };
        assert_eq!(
            lines(&diff(&own, a, Some(&stripped)).expect("diff")),
            ["tag iam_role openclaw-acme-scout"]
        );
        assert_eq!(
            lines(&teardown(&own, a.kind, Some(&stripped), "agent deleted")),
            ["delete iam_role openclaw-acme-scout"]
        );
        let mut elsewhere = fixtures::converged(a);
        elsewhere.path = "/".into();
        assert!(diff(&own, a, Some(&elsewhere)).is_err());
    }
}
