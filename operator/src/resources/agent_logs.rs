//! The agents' CloudWatch log groups, `/openclaw/T/<agent>`: what the agents logged, which is the
//! tenant's data too. The operator creates each one (task definitions do not ask ECS to, and the
//! execution role may not) with the cell's KMS key, the tier's retention and the ownership tags;
//! it repairs them, and deletes them with their agent or tenant.
//!
//! Observation: targeted, one DescribeLogGroups of the tenant's prefix and one GetResources for
//! the tags of the tenant's groups; batched, the same two calls for the whole cell, paged. A group
//! GetResources leaves out (it lags behind tagging) has its tags read with ListTagsForResource. An
//! untagged group at an agent's name is one ECS created for an older release
//! (`awslogs-create-group`): it is adopted and tagged. A group tagged by someone else is a
//! conflict.
//!
//! Owns: the groups' existence, key, retention and tags. Must never: touch a group outside
//! `/openclaw/T/` of its tenant, or read a log event.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use crds::api::AgentKind;
use crds::naming::{self, TenantRef};

use crate::aws::{AwsError, Clients};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::render::{DesiredLogGroup, DesiredTenant};
use crate::resources::{tags, Change, ObservedTenant, Operation, Ownership, Tags, Verb};
use crate::throttle::Bucket;

/// A log group as CloudWatch Logs describes it, with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedLogGroup {
    pub name: String,
    /// Without the `:*` suffix DescribeLogGroups' `arn` carries (what tagging calls take).
    pub arn: String,
    /// `None`: never expires.
    pub retention_days: Option<i32>,
    pub kms_key_id: Option<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// CreateLogGroup with the key and tags, then its retention.
    Create {
        name: String,
    },
    /// AssociateKmsKey: the cell's key, after someone removed or replaced it.
    AssociateKey {
        name: String,
    },
    /// PutRetentionPolicy.
    SetRetention {
        name: String,
    },
    Tag {
        name: String,
    },
    Delete {
        name: String,
    },
}

impl Op {
    fn name(&self) -> &str {
        match self {
            Op::Create { name }
            | Op::AssociateKey { name }
            | Op::SetRetention { name }
            | Op::Tag { name }
            | Op::Delete { name } => name,
        }
    }
}

impl Operation for Op {
    fn resource(&self, _tenant: &TenantRef) -> (Kind, String) {
        (Kind::LogGroup, self.name().to_owned())
    }

    fn verb(&self) -> Verb {
        match self {
            Op::Create { .. } => Verb::Create,
            Op::AssociateKey { .. } => Verb::Restore,
            Op::SetRetention { .. } => Verb::Update,
            Op::Tag { .. } => Verb::Tag,
            Op::Delete { .. } => Verb::Delete,
        }
    }

    /// Before the services (rank 4) start tasks that write to it; deleted after they stopped.
    fn rank(&self) -> u8 {
        1
    }

    fn agent(&self) -> Option<AgentKind> {
        self.name().rsplit('/').next().and_then(AgentKind::parse)
    }
}

/// Plans one agent's group (pure).
pub fn diff(
    own: &Ownership<'_>,
    desired: &DesiredLogGroup,
    observed: Option<&ObservedLogGroup>,
) -> Result<Vec<Change<Op>>> {
    let name = || desired.name.clone();
    let Some(o) = observed else {
        return Ok(vec![Change::new(
            Op::Create { name: name() },
            "log group missing",
            false,
        )]);
    };
    // Untagged: created by ECS for an older release, adopted. Tagged by another: not ours.
    if !o.tags.is_empty() {
        own.require_owned(Kind::LogGroup, &desired.name, &o.tags)?;
    }
    let mut out = Vec::new();
    match o.kms_key_id.as_deref() {
        Some(key) if key == desired.kms_key_arn => {}
        None => out.push(Change::new(
            Op::AssociateKey { name: name() },
            "KMS key removed: new events would be stored without the cell's key",
            true,
        )),
        Some(other) => out.push(Change::new(
            Op::AssociateKey { name: name() },
            format!("encrypted with {other}, not the cell's key"),
            true,
        )),
    }
    if o.retention_days != Some(desired.retention_days) {
        let now = o
            .retention_days
            .map_or("never expires".to_owned(), |d| format!("kept {d} days"));
        out.push(Change::new(
            Op::SetRetention { name: name() },
            format!("{now}; the tier keeps {} days", desired.retention_days),
            false,
        ));
    }
    out.extend(tags::change(
        Op::Tag { name: name() },
        &o.tags,
        &desired.tags,
    ));
    Ok(out)
}

/// The group of an agent that is gone from a live tenant (pure): deleted when it is ours or
/// untagged (see the module comment).
pub fn teardown_agent(
    own: &Ownership<'_>,
    observed: Option<&ObservedLogGroup>,
    why: &str,
) -> Vec<Change<Op>> {
    observed
        .filter(|o| o.tags.is_empty() || own.owned(Kind::LogGroup, &o.name, &o.tags))
        .map(|o| {
            Change::new(
                Op::Delete {
                    name: o.name.clone(),
                },
                why,
                false,
            )
        })
        .into_iter()
        .collect()
}

/// Plans the deletion of every group under the deleted tenant's prefix (pure).
pub fn teardown(observed: &BTreeMap<String, ObservedLogGroup>) -> Vec<Change<Op>> {
    observed
        .keys()
        .map(|name| Change::new(Op::Delete { name: name.clone() }, "tenant deleted", false))
        .collect()
}

/// The tenant's log groups: every group under `/openclaw/T/`, with its tags.
pub async fn observe(
    c: &Clients,
    tenant: &TenantRef,
) -> Result<BTreeMap<String, ObservedLogGroup>> {
    let prefix = tenant.log_group_prefix();
    let mut groups = describe(c, &prefix).await?;
    if !groups.is_empty() {
        let tags = tags_of_ours(c, Some(tenant.as_str())).await?;
        attach_tags(c, &mut groups, tags).await?;
    }
    Ok(groups)
}

/// Every log group of the cell under `/openclaw/`, with its tags (the inventory's read).
pub async fn list_ours(c: &Clients) -> Result<BTreeMap<String, ObservedLogGroup>> {
    let mut groups = describe(c, naming::LOG_GROUP_PREFIX).await?;
    if !groups.is_empty() {
        let tags = tags_of_ours(c, None).await?;
        attach_tags(c, &mut groups, tags).await?;
    }
    Ok(groups)
}

/// GetResources is eventually consistent (a group tagged a moment ago may be missing from it),
/// so a group it leaves out has its tags read from CloudWatch Logs itself before it counts as
/// untagged. In the steady state every group is in the answer and this costs no call.
async fn attach_tags(
    c: &Clients,
    groups: &mut BTreeMap<String, ObservedLogGroup>,
    mut tags: BTreeMap<String, Tags>,
) -> Result<()> {
    for g in groups.values_mut() {
        g.tags = match tags.remove(&g.name) {
            Some(t) => t,
            None => tags_of_group(c, &g.arn).await?,
        };
    }
    Ok(())
}

/// ListTagsForResource of one group; a group deleted meanwhile has none.
async fn tags_of_group(c: &Clients, arn: &str) -> Result<Tags> {
    c.throttle.acquire(Bucket::Logs).await;
    match c
        .logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(r) => Ok(r
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Tags::new()),
        Err(e) => Err(AwsError::from_sdk("CloudWatchLogs", "ListTagsForResource", &e).into()),
    }
}

/// DescribeLogGroups of a prefix, every page; tags left empty.
async fn describe(c: &Clients, prefix: &str) -> Result<BTreeMap<String, ObservedLogGroup>> {
    let mut token: Option<String> = None;
    let mut out = BTreeMap::new();
    loop {
        c.throttle.acquire(Bucket::Logs).await;
        let r = c
            .logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CloudWatchLogs", "DescribeLogGroups", &e))?;
        for g in r.log_groups() {
            let Some(name) = g.log_group_name().filter(|n| n.starts_with(prefix)) else {
                continue;
            };
            let arn = g
                .log_group_arn()
                .map(str::to_owned)
                .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_owned()))
                .unwrap_or_default();
            out.insert(
                name.to_owned(),
                ObservedLogGroup {
                    name: name.to_owned(),
                    arn,
                    retention_days: g.retention_in_days(),
                    kms_key_id: g.kms_key_id().map(str::to_owned),
                    tags: Tags::new(),
                },
            );
        }
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The tags of every log group tagged ours (of one tenant, when given), by group name: one
/// GetResources page per 100 groups. A group missing from the answer may have lost our tag.
async fn tags_of_ours(c: &Clients, tenant: Option<&str>) -> Result<BTreeMap<String, Tags>> {
    let filter = |key: &str, value: &str| {
        TagFilter::builder()
            .key(key)
            .values(value.to_owned())
            .build()
    };
    let mut filters = vec![filter(naming::TAG_MANAGED_BY, naming::MANAGED_BY_VALUE)];
    if let Some(t) = tenant {
        filters.push(filter(naming::TAG_TENANT, t));
    }
    let mut token: Option<String> = None;
    let mut out = BTreeMap::new();
    loop {
        c.throttle.acquire(Bucket::Tagging).await;
        let r = c
            .tagging
            .get_resources()
            .resource_type_filters("logs")
            .set_tag_filters(Some(filters.clone()))
            .resources_per_page(100)
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ResourceGroupsTagging", "GetResources", &e))?;
        for m in r.resource_tag_mapping_list() {
            let Some(name) = m.resource_arn().and_then(group_name) else {
                continue;
            };
            let tags: Tags = m
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            out.insert(name.to_owned(), tags);
        }
        token = r
            .pagination_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// `arn:…:log-group:NAME` (with or without `:*`) → NAME.
fn group_name(arn: &str) -> Option<&str> {
    let (_, name) = arn.split_once(":log-group:")?;
    Some(name.trim_end_matches(":*"))
}

pub async fn apply(
    c: &Clients,
    tenant: &TenantRef,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    op: &Op,
) -> Result<()> {
    let name = op.name();
    let prefix = tenant.log_group_prefix();
    if !name.starts_with(&prefix) {
        return Err(ReconcileError::Internal(format!(
            "refusing to change log group {name}: not under {prefix}"
        )));
    }
    let rendered = || {
        desired
            .and_then(|d| d.agents.iter().find(|a| a.log_group.name == name))
            .map(|a| &a.log_group)
            .ok_or_else(|| ReconcileError::Internal(format!("no rendered log group {name}")))
    };
    let not_found = |code: Option<&str>| code == Some("ResourceNotFoundException");
    match op {
        Op::Create { .. } => {
            let d = rendered()?;
            c.throttle.acquire(Bucket::Logs).await;
            match c
                .logs
                .create_log_group()
                .log_group_name(name)
                .kms_key_id(&d.kms_key_arn)
                .set_tags(Some(d.tags.clone().into_iter().collect()))
                .send()
                .await
            {
                Ok(_) => {}
                // A retry after a create that committed: the next pass checks key and tags.
                Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {}
                Err(e) => {
                    return Err(AwsError::from_sdk("CloudWatchLogs", "CreateLogGroup", &e).into())
                }
            }
            put_retention(c, name, d.retention_days).await
        }
        Op::AssociateKey { .. } => {
            let d = rendered()?;
            c.throttle.acquire(Bucket::Logs).await;
            c.logs
                .associate_kms_key()
                .log_group_name(name)
                .kms_key_id(&d.kms_key_arn)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CloudWatchLogs", "AssociateKmsKey", &e))?;
            Ok(())
        }
        Op::SetRetention { .. } => put_retention(c, name, rendered()?.retention_days).await,
        Op::Tag { .. } => {
            let d = rendered()?;
            let arn = observed
                .log_groups
                .get(name)
                .map(|g| g.arn.clone())
                .ok_or_else(|| ReconcileError::Internal(format!("no observed log group {name}")))?;
            c.throttle.acquire(Bucket::Logs).await;
            c.logs
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(d.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CloudWatchLogs", "TagResource", &e))?;
            Ok(())
        }
        Op::Delete { .. } => {
            c.throttle.acquire(Bucket::Logs).await;
            match c.logs.delete_log_group().log_group_name(name).send().await {
                Ok(_) => Ok(()),
                // Gone already: a retry after a delete that committed.
                Err(e) if not_found(e.code()) => Ok(()),
                Err(e) => Err(AwsError::from_sdk("CloudWatchLogs", "DeleteLogGroup", &e).into()),
            }
        }
    }
}

async fn put_retention(c: &Clients, name: &str, days: i32) -> Result<()> {
    c.throttle.acquire(Bucket::Logs).await;
    c.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CloudWatchLogs", "PutRetentionPolicy", &e))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// The group as it is once `d` is converged.
    pub fn converged(d: &DesiredLogGroup) -> ObservedLogGroup {
        ObservedLogGroup {
            name: d.name.clone(),
            arn: format!("arn:aws:logs:us-east-1:123456789012:log-group:{}", d.name),
            retention_days: Some(d.retention_days),
            kms_key_id: Some(d.kms_key_arn.clone()),
            tags: d.tags.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::fixtures::{desired, lines, no_records, tenant};
    use crate::resources::Recorded;

    fn group() -> DesiredLogGroup {
        desired().agents[0].log_group.clone()
    }

    fn plan(observed: Option<&ObservedLogGroup>) -> Result<Vec<Change<Op>>> {
        let recorded = no_records();
        diff(
            &Ownership {
                recorded: &recorded,
            },
            &group(),
            observed,
        )
    }

    #[test]
    fn converged_plans_nothing_and_missing_is_created() {
        let d = group();
        assert!(plan(Some(&fixtures::converged(&d)))
            .expect("plan")
            .is_empty());
        let got = plan(None).expect("plan");
        assert_eq!(lines(&got), ["create log_group /openclaw/acme/scout"]);
        assert!(!got[0].security);
    }

    #[test]
    fn drift_table() {
        let d = group();
        let ours = fixtures::converged(&d);
        let with = |f: &dyn Fn(&mut ObservedLogGroup)| {
            let mut o = ours.clone();
            f(&mut o);
            o
        };
        let cases: Vec<(&str, ObservedLogGroup, Vec<&str>, bool)> = vec![
            (
                "key removed",
                with(&|o| o.kms_key_id = None),
                vec!["restore log_group /openclaw/acme/scout"],
                true,
            ),
            (
                "another key",
                with(&|o| o.kms_key_id = Some("arn:aws:kms:us-east-1:1:key/theirs".into())),
                vec!["restore log_group /openclaw/acme/scout"],
                true,
            ),
            (
                "retention shortened",
                with(&|o| o.retention_days = Some(1)),
                vec!["update log_group /openclaw/acme/scout"],
                false,
            ),
            (
                "never expires",
                with(&|o| o.retention_days = None),
                vec!["update log_group /openclaw/acme/scout"],
                false,
            ),
            (
                "one tag changed",
                with(&|o| {
                    o.tags.insert(naming::TAG_CELL.into(), "elsewhere".into());
                }),
                vec!["tag log_group /openclaw/acme/scout"],
                false,
            ),
            (
                "an ECS-created group of an older release: adopted",
                with(&|o| {
                    o.tags.clear();
                    o.kms_key_id = None;
                    o.retention_days = None;
                }),
                vec![
                    "restore log_group /openclaw/acme/scout",
                    "update log_group /openclaw/acme/scout",
                    "tag log_group /openclaw/acme/scout",
                ],
                true,
            ),
        ];
        for (what, observed, want, security) in cases {
            let got = plan(Some(&observed)).expect(what);
            assert_eq!(lines(&got), want, "{what}");
            assert_eq!(got.iter().any(|c| c.security), security, "{what}");
        }
    }

    #[test]
    fn a_group_tagged_by_someone_else_is_a_conflict() {
        let mut theirs = fixtures::converged(&group());
        theirs.tags = [("team".to_owned(), "payments".to_owned())].into();
        let err = plan(Some(&theirs)).expect_err("conflict");
        assert!(matches!(err, ReconcileError::Conflict { .. }), "{err:?}");
        let recorded: Recorded = [("log_group".to_owned(), theirs.name.clone())].into();
        let own = Ownership {
            recorded: &recorded,
        };
        let got = diff(&own, &group(), Some(&theirs)).expect("recorded as ours");
        assert_eq!(lines(&got), ["tag log_group /openclaw/acme/scout"]);
    }

    #[test]
    fn a_removed_agents_group_goes_unless_someone_else_tagged_it() {
        let recorded = no_records();
        let own = Ownership {
            recorded: &recorded,
        };
        let ours = fixtures::converged(&group());
        assert_eq!(
            lines(&teardown_agent(&own, Some(&ours), "agent deleted")),
            ["delete log_group /openclaw/acme/scout"]
        );
        let mut theirs = ours.clone();
        theirs.tags = [("team".to_owned(), "payments".to_owned())].into();
        assert!(teardown_agent(&own, Some(&theirs), "agent deleted").is_empty());
        assert!(teardown_agent(&own, None, "agent deleted").is_empty());
    }

    #[test]
    fn every_observed_group_of_a_deleted_tenant_is_deleted() {
        assert!(teardown(&BTreeMap::new()).is_empty());
        let d = group();
        let mut seen = BTreeMap::new();
        for name in ["/openclaw/acme/butler", "/openclaw/acme/scout"] {
            let mut g = fixtures::converged(&d);
            g.name = name.into();
            seen.insert(name.to_owned(), g);
        }
        assert_eq!(
            lines(&teardown(&seen)),
            [
                "delete log_group /openclaw/acme/butler",
                "delete log_group /openclaw/acme/scout"
            ]
        );
    }

    #[test]
    fn arns_name_their_group() {
        assert_eq!(
            group_name("arn:aws:logs:us-east-1:1:log-group:/openclaw/acme/scout:*"),
            Some("/openclaw/acme/scout")
        );
        assert_eq!(
            group_name("arn:aws:logs:us-east-1:1:log-group:/openclaw/acme/scout"),
            Some("/openclaw/acme/scout")
        );
        assert_eq!(group_name("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn an_agent_is_read_from_the_group_name() {
        let op = Op::Delete {
            name: "/openclaw/acme/butler".into(),
        };
        assert_eq!(op.agent(), Some(AgentKind::Butler));
    }

    #[tokio::test]
    async fn a_group_of_another_tenant_is_refused_before_any_call() {
        let clients = crate::resources::fixtures::clients().await;
        let observed = ObservedTenant::default();
        for other in [
            "/openclaw/acme-b/scout",
            "/openclaw/acmex",
            "/other/acme/scout",
        ] {
            for op in [
                Op::Delete { name: other.into() },
                Op::Create { name: other.into() },
                Op::AssociateKey { name: other.into() },
            ] {
                let err = apply(&clients, &tenant(), Some(&desired()), &observed, &op)
                    .await
                    .expect_err(other);
                assert!(err.to_string().contains("refusing"), "{err}");
            }
        }
        assert_eq!(clients.counter.snapshot(), (0, 0), "no call was made");
    }
}
