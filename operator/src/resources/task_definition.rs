//! An agent's ECS task definition family `openclaw-T-<agent>`. Revisions are immutable: a new one
//! is registered only when the rendered content's hash (kept in a tag) changes. The family keeps
//! one ACTIVE revision: those a content change superseded, or that a retried registration added,
//! are deregistered once the current one is ours.
//!
//! RegisterTaskDefinition has no client token, so it is sent once (no SDK retry); when it fails
//! in a way that may have committed, the family's newest revision is read back and taken if it
//! carries the rendered hash, so a retry never adds a revision.
//!
//! Owns: registering revisions, knowing the current one, deregistering and then deleting the
//! family's revisions on teardown (a deregistered revision lingers until deleted), and the cache
//! of revisions already described. Must never: register a revision whose content matches the
//! current one, or deregister or delete a family that is not ours.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KernelCapabilities, KeyValuePair, LinuxParameters,
    LogConfiguration, LogDriver, NetworkMode, TaskDefinitionField, TaskDefinitionStatus,
};
use crds::api::AgentKind;
use crds::naming::{self, TenantName, TenantRef};

use crate::aws::{AwsError, Clients};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::render::{DesiredAgent, DesiredTenant, TaskDefinition};
use crate::resources::{tags, Change, Operation, Ownership, Tags, Verb};
use crate::throttle::Bucket;

/// The tag that records a task definition's rendered content hash.
pub const TAG_SPEC_HASH: &str = "openclaw:spec-hash";
/// The tag that records the revision's image (what `plan` shows before → after).
pub const TAG_IMAGE: &str = "openclaw:image";

/// The tags a revision is registered with: the agent's, its content hash and its image (cut to
/// ECS's 256 characters for a tag value).
fn revision_tags(a: &DesiredAgent) -> Tags {
    let mut tags = a.tags.clone();
    tags.insert(TAG_SPEC_HASH.to_owned(), a.task.hash());
    tags.insert(
        TAG_IMAGE.to_owned(),
        a.task.image.chars().take(256).collect(),
    );
    tags
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedTaskDefinition {
    pub arn: String,
    pub family: String,
    pub revision: i32,
    pub tags: Tags,
}

impl ObservedTaskDefinition {
    pub fn spec_hash(&self) -> Option<&str> {
        self.tags.get(TAG_SPEC_HASH).map(String::as_str)
    }
}

/// Task definitions by ARN. Revisions are immutable, so an entry never goes stale.
#[derive(Debug, Default)]
pub struct TaskDefinitionCache {
    by_arn: Mutex<HashMap<String, ObservedTaskDefinition>>,
}

impl TaskDefinitionCache {
    pub fn get(&self, arn: &str) -> Option<ObservedTaskDefinition> {
        self.by_arn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(arn)
            .cloned()
    }

    pub fn insert(&self, td: ObservedTaskDefinition) {
        self.by_arn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(td.arn.clone(), td);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Register {
        kind: AgentKind,
    },
    /// Every ACTIVE revision of the family, then every revision deleted.
    Deregister {
        kind: AgentKind,
    },
    /// The INACTIVE revisions a deregistration left (a teardown cut short) deleted.
    Delete {
        kind: AgentKind,
    },
    /// Every ACTIVE revision but the current one deregistered (superseded, or added by a retry).
    Prune {
        kind: AgentKind,
    },
}

impl Op {
    fn kind(&self) -> AgentKind {
        let (Op::Register { kind }
        | Op::Deregister { kind }
        | Op::Delete { kind }
        | Op::Prune { kind }) = self;
        *kind
    }
}

impl Operation for Op {
    fn resource(&self, tenant: &TenantRef) -> (Kind, String) {
        (Kind::TaskDefinition, tenant.task_family(self.kind()))
    }

    fn verb(&self) -> Verb {
        match self {
            Op::Register { .. } => Verb::Register,
            Op::Deregister { .. } | Op::Prune { .. } => Verb::Deregister,
            Op::Delete { .. } => Verb::Delete,
        }
    }

    fn rank(&self) -> u8 {
        3
    }

    fn agent(&self) -> Option<AgentKind> {
        Some(self.kind())
    }
}

/// The ARN of the current revision when its content is the rendered one.
pub fn current_arn<'a>(
    a: &DesiredAgent,
    observed: Option<&'a ObservedTaskDefinition>,
) -> Option<&'a str> {
    observed
        .filter(|td| td.spec_hash() == Some(a.task.hash().as_str()))
        .map(|td| td.arn.as_str())
}

/// The revision number at the end of a task definition ARN (`…/family:7`).
pub fn revision_of(arn: &str) -> Option<i32> {
    arn.rsplit_once(':').and_then(|(_, r)| r.parse().ok())
}

/// Plans one live agent's task definition (pure). `superseded`: the family's other ACTIVE
/// revisions, deregistered once the current one carries the rendered content.
pub fn diff(
    own: &Ownership<'_>,
    a: &DesiredAgent,
    observed: Option<&ObservedTaskDefinition>,
    superseded: &[String],
) -> Result<Vec<Change<Op>>> {
    let kind = a.kind;
    let Some(td) = observed else {
        return Ok(vec![Change::new(
            Op::Register { kind },
            "no active revision",
            false,
        )]);
    };
    own.require_owned(Kind::TaskDefinition, &a.task.family, &td.tags)?;
    let hash = a.task.hash();
    if td.spec_hash() == Some(hash.as_str()) {
        if superseded.is_empty() {
            return Ok(Vec::new());
        }
        let mut revisions: Vec<i32> = superseded.iter().filter_map(|a| revision_of(a)).collect();
        revisions.sort_unstable();
        let mut all = revisions.clone();
        all.push(td.revision);
        return Ok(vec![Change::new(
            Op::Prune { kind },
            format!(
                "{} more ACTIVE revisions than the current one ({})",
                superseded.len(),
                td.revision
            ),
            false,
        )
        .with_fields(vec![crds::diff::Change {
            path: "activeRevisions".into(),
            before: Some(all.into()),
            after: Some(vec![td.revision].into()),
        }])]);
    }
    let field = |path: &str, before: serde_json::Value, after: &str| crds::diff::Change {
        path: path.into(),
        before: Some(before),
        after: Some(after.into()),
    };
    Ok(vec![Change::new(
        Op::Register { kind },
        format!(
            "content changed (revision {} has hash {}, rendered {hash})",
            td.revision,
            td.spec_hash().unwrap_or("none")
        ),
        false,
    )
    .with_fields({
        let mut fields = vec![
            field("revision", td.revision.into(), "(a new revision)"),
            field("specHash", td.spec_hash().unwrap_or("none").into(), &hash),
        ];
        let image = td.tags.get(TAG_IMAGE).map(String::as_str);
        if image != Some(a.task.image.as_str()) {
            fields.push(field(
                "image",
                image.unwrap_or("(not recorded)").into(),
                &a.task.image,
            ));
        }
        fields
    })])
}

/// Plans the deregistration of an agent's family, if it is ours, or the deletion of the
/// INACTIVE revisions of ours that are left (`inactive`: observed on teardown only) (pure).
pub fn teardown(
    own: &Ownership<'_>,
    kind: AgentKind,
    observed: Option<&ObservedTaskDefinition>,
    inactive: usize,
    why: &str,
) -> Vec<Change<Op>> {
    match observed {
        Some(td) if own.owned(Kind::TaskDefinition, &td.family, &td.tags) => {
            vec![Change::new(Op::Deregister { kind }, why, false)]
        }
        None if inactive > 0 => vec![Change::new(
            Op::Delete { kind },
            format!("{why}: {inactive} deregistered revisions left"),
            false,
        )],
        _ => Vec::new(),
    }
}

pub async fn apply(
    c: &Clients,
    cache: &TaskDefinitionCache,
    tenant: &TenantName,
    desired: Option<&DesiredTenant>,
    op: &Op,
) -> Result<Option<String>> {
    match op {
        Op::Register { kind } => {
            let a = desired
                .and_then(|d| d.agents.iter().find(|a| a.kind == *kind))
                .ok_or_else(|| ReconcileError::Internal(format!("no rendered {kind} agent")))?;
            let (arn, revision) = register(c, cache, a).await?;
            cache.insert(ObservedTaskDefinition {
                arn: arn.clone(),
                family: a.task.family.clone(),
                revision,
                tags: revision_tags(a),
            });
            Ok(Some(arn))
        }
        Op::Deregister { kind } => {
            let family = tenant.task_family(*kind);
            deregister_family(c, &family).await?;
            delete_revisions(
                c,
                &list_family(c, &family, TaskDefinitionStatus::Inactive).await?,
            )
            .await?;
            Ok(None)
        }
        Op::Delete { kind } => {
            let family = tenant.task_family(*kind);
            delete_revisions(
                c,
                &list_family(c, &family, TaskDefinitionStatus::Inactive).await?,
            )
            .await?;
            Ok(None)
        }
        Op::Prune { kind } => {
            let a = desired
                .and_then(|d| d.agents.iter().find(|a| a.kind == *kind))
                .ok_or_else(|| ReconcileError::Internal(format!("no rendered {kind} agent")))?;
            let (current, superseded) = observe(c, cache, &a.task.family).await?;
            // Read again: only a family whose newest revision is ours and current is pruned.
            if current_arn(a, current.as_ref()).is_none() {
                return Ok(None);
            }
            for arn in superseded {
                deregister(c, &arn).await?;
            }
            Ok(None)
        }
    }
}

/// Deregisters one revision; one already INACTIVE (a retry of a deregistration that committed)
/// counts as done.
async fn deregister(c: &Clients, arn: &str) -> Result<()> {
    c.throttle.acquire(Bucket::EcsTaskDefinitionWrite).await;
    match c
        .ecs
        .deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = AwsError::from_sdk("ECS", "DeregisterTaskDefinition", &e);
            // ECS answers a revision already INACTIVE with a ClientException.
            if err.code == "ClientException" && is_inactive(c, arn).await? {
                return Ok(());
            }
            Err(err.into())
        }
    }
}

/// Whether a revision is INACTIVE (or gone).
async fn is_inactive(c: &Clients, arn: &str) -> Result<bool> {
    c.throttle.acquire(Bucket::EcsTaskDefinitionRead).await;
    match c
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
    {
        Ok(r) => Ok(r
            .task_definition()
            .and_then(|td| td.status())
            .is_none_or(|s| *s != TaskDefinitionStatus::Active)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_client_exception()) =>
        {
            Ok(true)
        }
        Err(e) => Err(AwsError::from_sdk("ECS", "DescribeTaskDefinition", &e).into()),
    }
}

/// DeleteTaskDefinitions takes at most this many revisions.
const DELETE_BATCH: usize = 10;

/// Deletes deregistered revisions (ECS refuses ACTIVE ones).
async fn delete_revisions(c: &Clients, arns: &[String]) -> Result<()> {
    for chunk in arns.chunks(DELETE_BATCH) {
        c.throttle.acquire(Bucket::EcsTaskDefinitionWrite).await;
        let r = c
            .ecs
            .delete_task_definitions()
            .set_task_definitions(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DeleteTaskDefinitions", &e))?;
        // A revision already deleted (a retry of a call that committed) is done.
        let gone = |reason: &str| {
            reason.contains("does not exist") || reason.contains("DELETE_IN_PROGRESS")
        };
        if let Some(f) = r.failures().iter().find(|f| !f.reason().is_some_and(gone)) {
            return Err(AwsError {
                service: "ECS",
                operation: "DeleteTaskDefinitions",
                code: f.reason().unwrap_or("Failure").to_owned(),
                message: format!(
                    "{} of {} revisions not deleted",
                    r.failures()
                        .iter()
                        .filter(|f| !f.reason().is_some_and(gone))
                        .count(),
                    chunk.len()
                ),
            }
            .into());
        }
    }
    Ok(())
}

/// The INACTIVE revisions of `family` when they are ours (the newest one carries our tag);
/// empty otherwise. Teardown only: what a deregistration cut short left.
pub async fn inactive_ours(c: &Clients, family: &str) -> Result<Vec<String>> {
    let arns = list_family(c, family, TaskDefinitionStatus::Inactive).await?;
    let Some(newest) = arns.last() else {
        return Ok(arns);
    };
    c.throttle.acquire(Bucket::EcsTaskDefinitionRead).await;
    let r = c
        .ecs
        .describe_task_definition()
        .task_definition(newest)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ECS", "DescribeTaskDefinition", &e))?;
    let ours = r.tags().iter().any(|t| {
        t.key() == Some(crds::naming::TAG_MANAGED_BY)
            && t.value() == Some(crds::naming::MANAGED_BY_VALUE)
    });
    Ok(if ours { arns } else { Vec::new() })
}

/// The agent's container (pure): read-only root, an unprivileged user, every capability dropped.
pub fn container(t: &TaskDefinition) -> Result<ContainerDefinition> {
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &t.log_group)
        .options("awslogs-region", &t.region)
        .options("awslogs-stream-prefix", "agent")
        .build()
        .map_err(|e| ReconcileError::unbuildable("log configuration", e))?;
    let container = ContainerDefinition::builder()
        .name("agent")
        .image(&t.image)
        .essential(true)
        .set_environment(Some(
            t.environment
                .iter()
                .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                .collect(),
        ))
        .log_configuration(log)
        .readonly_root_filesystem(true)
        .user("10001:10001")
        .privileged(false)
        .linux_parameters(
            LinuxParameters::builder()
                .capabilities(KernelCapabilities::builder().drop("ALL").build())
                .init_process_enabled(true)
                .build(),
        )
        .build();
    Ok(container)
}

/// Registers the rendered revision once. On a failure that may have committed (a 5xx, a reset,
/// a timeout), the family's newest revision is read back: if it carries the rendered hash, it
/// is the one just registered.
async fn register(
    c: &Clients,
    cache: &TaskDefinitionCache,
    a: &DesiredAgent,
) -> Result<(String, i32)> {
    let t = &a.task;
    let container = container(t)?;
    let tags = revision_tags(a);
    c.throttle.acquire(Bucket::EcsTaskDefinitionWrite).await;
    let sent = c
        .ecs
        .register_task_definition()
        .family(&t.family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu(&t.cpu)
        .memory(&t.memory)
        .task_role_arn(&t.task_role_arn)
        .execution_role_arn(&t.execution_role_arn)
        .container_definitions(container)
        .set_tags(Some(tags::to_ecs(&tags)))
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default()
                .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await;
    let r = match sent {
        Ok(r) => r,
        Err(e) => {
            let err = AwsError::from_sdk("ECS", "RegisterTaskDefinition", &e);
            if err.is_terminal() {
                return Err(err.into());
            }
            let (current, _) = observe(c, cache, &t.family).await?;
            return match current_arn(a, current.as_ref()) {
                Some(arn) => Ok((arn.to_owned(), revision_of(arn).unwrap_or_default())),
                None => Err(err.into()),
            };
        }
    };
    r.task_definition()
        .and_then(|td| Some((td.task_definition_arn()?.to_owned(), td.revision())))
        .ok_or_else(|| ReconcileError::Internal("RegisterTaskDefinition returned no ARN".into()))
}

/// Deregisters every ACTIVE revision of `family`.
pub async fn deregister_family(c: &Clients, family: &str) -> Result<()> {
    for arn in list_family(c, family, TaskDefinitionStatus::Active).await? {
        deregister(c, &arn).await?;
    }
    Ok(())
}

/// The revisions of exactly `family` in `status`.
async fn list_family(
    c: &Clients,
    family: &str,
    status: TaskDefinitionStatus,
) -> Result<Vec<String>> {
    let mut arns = list(c, Some(family), status).await?;
    // AWS takes the prefix as the whole family name; keep exactly that family's either way.
    arns.retain(|a| family_of(a) == Some(family));
    Ok(arns)
}

/// Every page of ListTaskDefinitions in `status`, of one family or of the account.
async fn list(
    c: &Clients,
    family: Option<&str>,
    status: TaskDefinitionStatus,
) -> Result<Vec<String>> {
    let mut token: Option<String> = None;
    let mut arns = Vec::new();
    loop {
        c.throttle.acquire(Bucket::EcsTaskDefinitionRead).await;
        let r = c
            .ecs
            .list_task_definitions()
            .set_family_prefix(family.map(str::to_owned))
            .status(status.clone())
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "ListTaskDefinitions", &e))?;
        arns.extend(r.task_definition_arns().iter().cloned());
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(arns)
}

/// The newest ACTIVE revision of a family, with its tags (described once, then cached), and the
/// family's other ACTIVE revisions: one listing, and a description only of a revision not seen.
pub async fn observe(
    clients: &Clients,
    cache: &TaskDefinitionCache,
    family: &str,
) -> Result<(Option<ObservedTaskDefinition>, Vec<String>)> {
    let mut arns = list_family(clients, family, TaskDefinitionStatus::Active).await?;
    arns.sort_by_key(|a| revision_of(a));
    let Some(newest) = arns.pop() else {
        return Ok((None, Vec::new()));
    };
    let td = by_arn(clients, cache, family, &newest).await?;
    Ok((td, arns))
}

/// Every ACTIVE revision of the account's agent families, per family: the inventory's one
/// paged listing.
pub async fn list_active(clients: &Clients) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for arn in list(clients, None, TaskDefinitionStatus::Active).await? {
        if let Some(f) = family_of(&arn).filter(|f| f.starts_with(naming::AGENT_RESOURCE_PREFIX)) {
            out.entry(f.to_owned()).or_default().push(arn.clone());
        }
    }
    Ok(out)
}

/// The family named in a task definition ARN (`…/family:7`).
fn family_of(arn: &str) -> Option<&str> {
    arn.rsplit_once('/')
        .and_then(|(_, fr)| fr.rsplit_once(':'))
        .map(|(f, _)| f)
}

/// One revision by ARN, from the cache or described once (the batched observation).
pub async fn by_arn(
    clients: &Clients,
    cache: &TaskDefinitionCache,
    family: &str,
    arn: &str,
) -> Result<Option<ObservedTaskDefinition>> {
    if let Some(td) = cache.get(arn) {
        return Ok(Some(td));
    }
    clients
        .throttle
        .acquire(Bucket::EcsTaskDefinitionRead)
        .await;
    let r = clients
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ECS", "DescribeTaskDefinition", &e))?;
    let Some(d) = r.task_definition() else {
        return Ok(None);
    };
    let td = ObservedTaskDefinition {
        arn: arn.to_owned(),
        family: family.to_owned(),
        revision: d.revision(),
        tags: tags::from_ecs(r.tags()),
    };
    cache.insert(td.clone());
    Ok(Some(td))
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// Revision 1, registered from `a`'s rendered content.
    pub fn converged(a: &DesiredAgent) -> ObservedTaskDefinition {
        ObservedTaskDefinition {
            arn: format!("arn:td/{}:1", a.task.family),
            family: a.task.family.clone(),
            revision: 1,
            tags: revision_tags(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render_agent;
    use crate::render::tests::{agent, cell};
    use crate::resources::fixtures::{lines, tenant};
    use crate::resources::Recorded;

    #[test]
    fn diff_table() {
        let a = render_agent(
            &cell(),
            &tenant(),
            crds::api::Tier::Standard,
            &agent(AgentKind::Scout),
        );
        let mut spec = agent(AgentKind::Scout);
        spec.cpu = 512;
        spec.memory = 1024;
        let bigger = render_agent(&cell(), &tenant(), crds::api::Tier::Standard, &spec);
        let current = fixtures::converged(&a);
        let mut untagged = current.clone();
        untagged.tags.remove(TAG_SPEC_HASH);
        let register = vec!["register task_definition openclaw-acme-scout"];
        let cases: Vec<(
            &str,
            &DesiredAgent,
            Option<&ObservedTaskDefinition>,
            Vec<&str>,
        )> = vec![
            ("no revision", &a, None, register.clone()),
            ("current content", &a, Some(&current), vec![]),
            ("content changed", &bigger, Some(&current), register.clone()),
            ("no hash tag", &a, Some(&untagged), register.clone()),
        ];
        let recorded = Recorded::new();
        let own = Ownership {
            recorded: &recorded,
        };
        for (case, want, obs, expect) in cases {
            let got = diff(&own, want, obs, &[]).expect(case);
            assert_eq!(lines(&got), expect, "{case}");
            assert!(got.iter().all(|c| !c.security), "{case}");
        }
        // Other ACTIVE revisions are deregistered once the current one is ours, not before.
        let others = vec![
            "arn:td/openclaw-acme-scout:3".to_owned(),
            "arn:td/openclaw-acme-scout:2".to_owned(),
        ];
        let mut newest = current.clone();
        newest.revision = 4;
        let pruned = diff(&own, &a, Some(&newest), &others).expect("prune");
        assert_eq!(
            lines(&pruned),
            ["deregister task_definition openclaw-acme-scout"]
        );
        assert_eq!(
            pruned[0].op,
            Op::Prune {
                kind: AgentKind::Scout
            }
        );
        let f = &pruned[0].fields[0];
        assert_eq!(f.path, "activeRevisions");
        assert_eq!(f.before, Some(serde_json::json!([2, 3, 4])));
        assert_eq!(f.after, Some(serde_json::json!([4])));
        assert_eq!(
            lines(&diff(&own, &bigger, Some(&newest), &others).expect("changed")),
            register,
            "a pending registration goes first; the pruning waits for it"
        );
        assert_eq!(
            revision_of("arn:aws:ecs:r:1:task-definition/f-x:12"),
            Some(12)
        );
        assert_eq!(revision_of("nonsense"), None);
        // A new image shows before → after; content changed otherwise shows no image line.
        let mut spec = agent(AgentKind::Scout);
        spec.image = Some("registry.example/agent@sha256:2222".into());
        let newer = render_agent(&cell(), &tenant(), crds::api::Tier::Standard, &spec);
        let planned = diff(&own, &newer, Some(&current), &[]).expect("new image");
        let image = planned[0]
            .fields
            .iter()
            .find(|f| f.path == "image")
            .expect("an image field");
        assert_eq!(image.before, Some(a.task.image.clone().into()));
        assert_eq!(
            image.after,
            Some("registry.example/agent@sha256:2222".into())
        );
        let planned = diff(&own, &bigger, Some(&current), &[]).expect("bigger");
        assert!(planned[0].fields.iter().all(|f| f.path != "image"));
        assert_eq!(current_arn(&a, Some(&current)), Some(current.arn.as_str()));
        assert_eq!(current_arn(&bigger, Some(&current)), None);
        assert_eq!(current_arn(&a, None), None);
    }

    #[test]
    fn the_container_runs_unprivileged_on_a_read_only_root() {
        let a = render_agent(
            &cell(),
            &tenant(),
            crds::api::Tier::Standard,
            &agent(AgentKind::Scout),
        );
        let c = container(&a.task).expect("container");
        assert_eq!(c.readonly_root_filesystem(), Some(true));
        assert_eq!(c.user(), Some("10001:10001"));
        assert_eq!(c.privileged(), Some(false));
        let caps = c
            .linux_parameters()
            .and_then(|l| l.capabilities())
            .map(|k| k.drop().to_vec());
        assert_eq!(caps, Some(vec!["ALL".to_owned()]));
        let env: Vec<(&str, &str)> = c
            .environment()
            .iter()
            .filter_map(|kv| Some((kv.name()?, kv.value()?)))
            .collect();
        assert_eq!(env.len(), a.task.environment.len());
        assert!(env.contains(&("OPENCLAW_TENANT", "acme")));
        let log = c.log_configuration().expect("logs");
        assert_eq!(
            log.options()
                .and_then(|o| o.get("awslogs-group"))
                .map(String::as_str),
            Some(a.task.log_group.as_str())
        );
        assert!(
            log.options()
                .is_some_and(|o| !o.contains_key("awslogs-create-group")),
            "the operator creates the group, with its key and retention; ECS must not"
        );
    }

    #[test]
    fn only_our_families_are_touched() {
        let a = render_agent(
            &cell(),
            &tenant(),
            crds::api::Tier::Standard,
            &agent(AgentKind::Scout),
        );
        let mut foreign = fixtures::converged(&a);
        foreign.tags.clear();
        let recorded = Recorded::new();
        let own = Ownership {
            recorded: &recorded,
        };
        assert!(diff(&own, &a, Some(&foreign), &[]).is_err());
        assert!(
            diff(&own, &a, Some(&foreign), &["arn:td/x:1".into()]).is_err(),
            "no pruning in a family that is not ours"
        );
        assert!(teardown(&own, a.kind, Some(&foreign), 0, "agent deleted").is_empty());
        assert_eq!(
            lines(&teardown(
                &own,
                a.kind,
                Some(&fixtures::converged(&a)),
                2,
                "agent deleted"
            )),
            ["deregister task_definition openclaw-acme-scout"]
        );
        // A teardown cut short between deregistering and deleting: the rest are deleted.
        let left = teardown(&own, a.kind, None, 2, "tenant deleted");
        assert_eq!(lines(&left), ["delete task_definition openclaw-acme-scout"]);
        assert!(
            left[0].reason.contains("2 deregistered"),
            "{}",
            left[0].reason
        );
        assert!(teardown(&own, a.kind, None, 0, "tenant deleted").is_empty());
    }
}
