//! The resource kinds, one module each, and the one registry that lists them.
//!
//! The contract every kind keeps (written the way ACK's `aws_resource_manager.go` writes its own):
//! - **Desired.** A kind reads its part of the rendered tenant (`render`, pure). The parts are
//!   rendered together because they name each other (a task definition names its role's ARN).
//! - **Observe.** A kind reads what exists, targeted for one tenant and, for the resync, from the
//!   batched [`inventory`]. Observation never writes and never reads a secret's value.
//! - **Diff.** A pure function: desired × observed × the inventory's proof of ownership → that
//!   kind's operations, each a [`Change`] with its reason and whether it takes away access someone
//!   added (security). A resource that carries our name but is neither tagged ours nor recorded
//!   in the inventory is a `Conflict`, never a change.
//! - **Apply.** One operation at a time, idempotent: deterministic names, client tokens where
//!   the API takes one, "already exists" read back and verified. It returns the resource's ARN
//!   when the call reveals it.
//! - **Teardown.** The diff with nothing desired: the removal of what is ours, and only that.
//! - **One kind never calls another.** What one needs from another (the service needs its task
//!   definition's ARN) the engine passes in through [`Links`].
//!
//! Owns: the list of every kind's operations ([`Action`]) and the dispatch to each kind's diff,
//! observation and apply. Must never: order, record or count operations (the engine does), or
//! hold a kind's own logic.

pub mod agent_logs;
pub mod db_secret;
pub mod ecs_service;
pub mod iam_role;
pub mod inventory;
pub mod oauth_secret;
pub mod pg_tenant;
pub mod secrets_manager;
pub mod shared_rls;
pub mod sql;
pub mod tags;
pub mod task_definition;
pub mod tenant_objects;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crds::api::AgentKind;
use crds::naming::{self, TenantRef};
use sqlx::PgPool;

use crate::aws::Clients;
use crate::config::{CellConfig, DbEndpoint};
use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::render::{DesiredTenant, SecretPurpose};

pub use agent_logs::ObservedLogGroup;
pub use ecs_service::ObservedService;
pub use iam_role::ObservedRole;
pub use pg_tenant::ObservedPg;
pub use secrets_manager::ObservedSecret;
pub use task_definition::{ObservedTaskDefinition, TaskDefinitionCache, TAG_SPEC_HASH};

pub type Tags = BTreeMap<String, String>;

/// Names the inventory table says we created, by (kind, name): proof of ownership when someone
/// strips our tags.
pub type Recorded = BTreeSet<(String, String)>;

/// Everything that exists for one tenant, keyed by resource name (task definitions by family).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedTenant {
    pub secrets: BTreeMap<String, ObservedSecret>,
    pub roles: BTreeMap<String, ObservedRole>,
    pub task_definitions: BTreeMap<String, ObservedTaskDefinition>,
    /// Per family, the ACTIVE revisions other than the current (newest) one.
    pub superseded_task_definitions: BTreeMap<String, Vec<String>>,
    pub services: BTreeMap<String, ObservedService>,
    pub pg: ObservedPg,
    /// A login with the password in the database secret (password mode only).
    pub db_login: db_secret::Login,
    /// What is left under the tenant's bucket prefix: observed only for a teardown.
    pub objects: tenant_objects::ObservedObjects,
    /// Deregistered revisions of ours left per family: observed only for a teardown.
    pub inactive_task_definitions: BTreeMap<String, Vec<String>>,
    /// The log groups under the tenant's prefix, by name.
    pub log_groups: BTreeMap<String, ObservedLogGroup>,
}

/// What an operation does, for the audit log, metrics and `openclaw plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Rotate,
    Restore,
    Tag,
    Update,
    Revoke,
    Register,
    Deregister,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Rotate => "rotate",
            Verb::Restore => "restore",
            Verb::Tag => "tag",
            Verb::Update => "update",
            Verb::Revoke => "revoke",
            Verb::Register => "register",
            Verb::Deregister => "deregister",
            Verb::Delete => "delete",
        }
    }

    /// The resource is gone afterwards: its inventory row goes too.
    pub fn removes(self) -> bool {
        matches!(self, Verb::Delete | Verb::Deregister)
    }

    /// Puts back what someone changed by hand (counted as a repair in the inventory).
    pub fn restores(self) -> bool {
        matches!(self, Verb::Restore | Verb::Tag | Verb::Revoke)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every kind's operation tells the engine about itself.
pub trait Operation {
    /// The (kind, name) it acts on: for status, metrics, the inventory and the audit log.
    fn resource(&self, tenant: &TenantRef) -> (Kind, String);
    fn verb(&self) -> Verb;
    /// The kind's place in the dependency order: a kind needs only kinds of a lower rank to
    /// exist first. Creation runs in rising rank, teardown in falling rank.
    fn rank(&self) -> u8;
    /// The agent the resource belongs to, if any.
    fn agent(&self) -> Option<AgentKind> {
        None
    }
    /// Inventory rows that go with this one when it is removed (a role's inline policy).
    fn removes_also(&self, _tenant: &TenantRef) -> Vec<(Kind, String)> {
        Vec::new()
    }
    /// What it erases beyond the resource itself, by class (an erasure's object versions, the
    /// tenant's shared rows), for the audit row and the erase record.
    fn counts(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// One kind's planned operation with the reason it is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<O> {
    pub op: O,
    pub reason: String,
    /// Takes away access someone added (security drift).
    pub security: bool,
    /// Field by field, what the operation changes, where the kind can say (`desiredCount: 1 → 3`).
    pub fields: Vec<crds::diff::Change>,
}

impl<O> Change<O> {
    pub fn new(op: O, reason: impl Into<String>, security: bool) -> Self {
        Change {
            op,
            reason: reason.into(),
            security,
            fields: Vec::new(),
        }
    }

    pub fn with_fields(mut self, fields: Vec<crds::diff::Change>) -> Self {
        self.fields = fields;
        self
    }

    fn into_planned(self, wrap: impl Fn(O) -> Action) -> Planned {
        Planned {
            action: wrap(self.op),
            reason: self.reason,
            security: self.security,
            fields: self.fields,
        }
    }
}

/// Every kind's operations: the one place that lists the kinds' operation types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Pg(pg_tenant::Op),
    DbSecret(db_secret::Op),
    OAuthSecret(oauth_secret::Op),
    IamRole(iam_role::Op),
    TaskDefinition(task_definition::Op),
    EcsService(ecs_service::Op),
    TenantObjects(tenant_objects::Op),
    AgentLogs(agent_logs::Op),
}

impl Action {
    fn op(&self) -> &dyn Operation {
        match self {
            Action::Pg(o) => o,
            Action::DbSecret(o) => o,
            Action::OAuthSecret(o) => o,
            Action::IamRole(o) => o,
            Action::TaskDefinition(o) => o,
            Action::EcsService(o) => o,
            Action::TenantObjects(o) => o,
            Action::AgentLogs(o) => o,
        }
    }

    pub fn resource(&self, tenant: &TenantRef) -> (Kind, String) {
        self.op().resource(tenant)
    }

    pub fn verb(&self) -> Verb {
        self.op().verb()
    }

    pub fn rank(&self) -> u8 {
        self.op().rank()
    }

    pub fn agent(&self) -> Option<AgentKind> {
        self.op().agent()
    }

    pub fn removes_also(&self, tenant: &TenantRef) -> Vec<(Kind, String)> {
        self.op().removes_also(tenant)
    }

    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        self.op().counts()
    }
}

/// One planned action with the reason it is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub action: Action,
    pub reason: String,
    /// Repairs widened access (security drift).
    pub security: bool,
    /// Before → after, field by field, where the kind can say.
    pub fields: Vec<crds::diff::Change>,
}

impl fmt::Display for Planned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.action, self.reason)
    }
}

/// Ownership as the kinds judge it: our tag, or a row in the inventory table.
pub struct Ownership<'a> {
    pub recorded: &'a Recorded,
}

impl Ownership<'_> {
    pub fn owned(&self, kind: Kind, name: &str, tags: &Tags) -> bool {
        tags.get(naming::TAG_MANAGED_BY).map(String::as_str) == Some(naming::MANAGED_BY_VALUE)
            || self
                .recorded
                .contains(&(kind.as_str().to_owned(), name.to_owned()))
    }

    pub fn require_owned(&self, kind: Kind, name: &str, tags: &Tags) -> Result<()> {
        if self.owned(kind, name, tags) {
            Ok(())
        } else {
            Err(ReconcileError::Conflict {
                resource: format!("{kind} {name}"),
                tag: naming::TAG_MANAGED_BY,
            })
        }
    }
}

/// ARNs one kind's apply needs from another's, by the (kind, name) that produced them. The
/// registry seeds it from what is observed; the engine adds each ARN an apply returns.
#[derive(Debug, Clone, Default)]
pub struct Links(BTreeMap<(Kind, String), String>);

impl Links {
    pub fn insert(&mut self, resource: (Kind, String), arn: String) {
        self.0.insert(resource, arn);
    }

    pub fn get(&self, kind: Kind, name: &str) -> Option<&str> {
        self.0.get(&(kind, name.to_owned())).map(String::as_str)
    }
}

/// What applying needs: the clients, the tenant database, the cell.
pub struct Ctx<'a> {
    pub clients: &'a Clients,
    /// The control store (inventory and audit rows).
    pub pool: &'a PgPool,
    /// The cell's tenant database (the PostgreSQL kinds).
    pub tenant_db: &'a PgPool,
    pub cell: &'a CellConfig,
    /// Where tenants connect (written into the database secret).
    pub db: &'a DbEndpoint,
    pub td_cache: &'a TaskDefinitionCache,
}

/// Every kind's changes for a live tenant (or, with `desired = None`, its teardown), unordered:
/// the engine orders them.
pub fn diff(
    tenant: &TenantRef,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    recorded: &Recorded,
) -> Result<Vec<Planned>> {
    let own = Ownership { recorded };
    let mut out = Vec::new();
    let db_secret_name = tenant.db_secret_name();
    let oauth_observed = observed
        .secrets
        .values()
        .filter(|s| s.name != db_secret_name);
    let db_observed = observed.secrets.get(&db_secret_name);
    let mut live_agents = BTreeSet::new();
    match desired {
        Some(d) => {
            let pg = pg_tenant::diff(&d.pg.role, &observed.pg, d.pg.iam_auth)?;
            let role_recreated = pg.iter().any(|c| c.op == pg_tenant::Op::CreateRole);
            out.extend(pg.into_iter().map(|c| c.into_planned(Action::Pg)));
            let db_want = match d
                .secrets
                .iter()
                .find(|s| s.purpose == SecretPurpose::Database)
            {
                Some(secret) => db_secret::Desired::Password {
                    secret,
                    role_recreated,
                    login: observed.db_login,
                },
                None => db_secret::Desired::Iam {
                    login_ready: d.pg.iam_auth && observed.pg.rds_iam_exists,
                },
            };
            out.extend(
                db_secret::diff(&own, &db_secret_name, &db_want, db_observed)?
                    .into_iter()
                    .map(|c| c.into_planned(Action::DbSecret)),
            );
            let oauth: Vec<_> = d
                .secrets
                .iter()
                .filter(|s| matches!(s.purpose, SecretPurpose::OAuth(_)))
                .collect();
            out.extend(
                oauth_secret::diff(&own, Some(&oauth), oauth_observed)?
                    .into_iter()
                    .map(|c| c.into_planned(Action::OAuthSecret)),
            );
            for a in &d.agents {
                live_agents.insert(a.kind);
                let role = observed.roles.get(&a.role_name);
                out.extend(
                    iam_role::diff(&own, a, role)?
                        .into_iter()
                        .map(|c| c.into_planned(Action::IamRole)),
                );
                let td = observed.task_definitions.get(&a.task.family);
                let superseded = observed
                    .superseded_task_definitions
                    .get(&a.task.family)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let td_changes = task_definition::diff(&own, a, td, superseded)?;
                let current_td = task_definition::current_arn(a, td);
                out.extend(
                    td_changes
                        .into_iter()
                        .map(|c| c.into_planned(Action::TaskDefinition)),
                );
                let service = observed.services.get(&a.service.name);
                out.extend(
                    ecs_service::diff(&own, a, service, current_td)?
                        .into_iter()
                        .map(|c| c.into_planned(Action::EcsService)),
                );
                out.extend(
                    agent_logs::diff(
                        &own,
                        &a.log_group,
                        observed.log_groups.get(&a.log_group.name),
                    )?
                    .into_iter()
                    .map(|c| c.into_planned(Action::AgentLogs)),
                );
            }
        }
        None => {
            out.extend(
                db_secret::diff(
                    &own,
                    &db_secret_name,
                    &db_secret::Desired::Gone,
                    db_observed,
                )?
                .into_iter()
                .map(|c| c.into_planned(Action::DbSecret)),
            );
            out.extend(
                oauth_secret::diff(&own, None, oauth_observed)?
                    .into_iter()
                    .map(|c| c.into_planned(Action::OAuthSecret)),
            );
            out.extend(
                pg_tenant::teardown(&observed.pg)
                    .into_iter()
                    .map(|c| c.into_planned(Action::Pg)),
            );
            out.extend(
                tenant_objects::teardown(&observed.objects)
                    .into_iter()
                    .map(|c| c.into_planned(Action::TenantObjects)),
            );
            out.extend(
                agent_logs::teardown(&observed.log_groups)
                    .into_iter()
                    .map(|c| c.into_planned(Action::AgentLogs)),
            );
        }
    }
    let why = if desired.is_none() {
        "tenant deleted"
    } else {
        "agent deleted"
    };
    for kind in AgentKind::ALL {
        if live_agents.contains(&kind) {
            continue;
        }
        let service = tenant.service_name(kind);
        out.extend(
            ecs_service::teardown(&own, kind, observed.services.get(&service), why)
                .into_iter()
                .map(|c| c.into_planned(Action::EcsService)),
        );
        let family = tenant.task_family(kind);
        let inactive = observed
            .inactive_task_definitions
            .get(&family)
            .map_or(0, Vec::len);
        out.extend(
            task_definition::teardown(
                &own,
                kind,
                observed.task_definitions.get(&family),
                inactive,
                why,
            )
            .into_iter()
            .map(|c| c.into_planned(Action::TaskDefinition)),
        );
        let role = tenant.role_name(kind);
        out.extend(
            iam_role::teardown(&own, kind, observed.roles.get(&role), why)
                .into_iter()
                .map(|c| c.into_planned(Action::IamRole)),
        );
        // A deleted tenant's groups all go above, whatever their tags.
        if desired.is_some() {
            let group = observed.log_groups.get(&tenant.log_group(kind));
            out.extend(
                agent_logs::teardown_agent(&own, group, why)
                    .into_iter()
                    .map(|c| c.into_planned(Action::AgentLogs)),
            );
        }
    }
    Ok(out)
}

/// The desired agents' services, by name.
pub async fn observe_services(
    clients: &Clients,
    cell: &CellConfig,
    desired: &DesiredTenant,
) -> Result<BTreeMap<String, ObservedService>> {
    let names: Vec<String> = desired
        .agents
        .iter()
        .map(|a| a.service.name.clone())
        .collect();
    Ok(ecs_service::describe(clients, &cell.ecs_cluster, &names)
        .await?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect())
}

/// The services' changes alone, each against the revision `links` names for its family. A pass
/// right after one that applied everything confirms only this much: a service's running count is
/// what still changes by itself (the resync reads the rest).
pub fn service_changes(
    desired: &DesiredTenant,
    services: &BTreeMap<String, ObservedService>,
    links: &Links,
    recorded: &Recorded,
) -> Result<Vec<Planned>> {
    let own = Ownership { recorded };
    let mut out = Vec::new();
    for a in &desired.agents {
        let current_td = links.get(Kind::TaskDefinition, &a.task.family);
        out.extend(
            ecs_service::diff(&own, a, services.get(&a.service.name), current_td)?
                .into_iter()
                .map(|c| c.into_planned(Action::EcsService)),
        );
    }
    Ok(out)
}

/// The ARNs known before anything is applied: each agent's current task definition, when its
/// content matches the rendered one.
pub fn links(desired: Option<&DesiredTenant>, observed: &ObservedTenant) -> Links {
    let mut links = Links::default();
    for a in desired.map(|d| d.agents.as_slice()).unwrap_or_default() {
        let td = observed.task_definitions.get(&a.task.family);
        if let Some(arn) = task_definition::current_arn(a, td) {
            links.insert(
                (Kind::TaskDefinition, a.task.family.clone()),
                arn.to_owned(),
            );
        }
    }
    links
}

/// Applies one action through its kind; returns the resource's ARN when the call reveals it.
pub async fn apply(
    ctx: &Ctx<'_>,
    tenant: &TenantRef,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    links: &Links,
    action: &Action,
) -> Result<Option<String>> {
    match action {
        Action::Pg(op) => pg_tenant::apply(ctx.tenant_db, &tenant.db, op)
            .await
            .map(|()| None),
        Action::DbSecret(op) => {
            db_secret::apply(
                ctx,
                tenant,
                desired,
                observed.secrets.get(&tenant.db_secret_name()),
                op,
            )
            .await
        }
        Action::OAuthSecret(op) => oauth_secret::apply(ctx.clients, desired, observed, op).await,
        Action::IamRole(op) => iam_role::apply(ctx.clients, tenant, desired, op).await,
        Action::TaskDefinition(op) => {
            task_definition::apply(ctx.clients, ctx.td_cache, tenant, desired, op).await
        }
        Action::EcsService(op) => {
            ecs_service::apply(ctx.clients, ctx.cell, tenant, desired, observed, links, op).await
        }
        Action::TenantObjects(op) => {
            tenant_objects::apply(ctx.clients, &ctx.cell.tenant_bucket, tenant, op)
                .await
                .map(|()| None)
        }
        Action::AgentLogs(op) => agent_logs::apply(ctx.clients, tenant, desired, observed, op)
            .await
            .map(|()| None),
    }
}

/// A login is tried only where it can tell something: the database secret is live and the role
/// may log in with a password (not an `rds_iam` member, whose logins are IAM tokens).
pub(crate) fn should_probe_login(secret: Option<&ObservedSecret>, pg: &ObservedPg) -> bool {
    let secret_live = secret.is_some_and(|s| !s.scheduled_for_deletion);
    let can_log_in = pg.role.as_ref().is_some_and(|r| r.login);
    secret_live && can_log_in && !pg.rds_iam_member
}

/// How much of a tenant a pass reads from AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything a live tenant has.
    Full,
    /// A tenant's first pass, before anything was made for it: its database objects and its
    /// task-definition families only. Every other create fails on a resource that exists after
    /// all (a leftover, a name taken), and the caller then runs the pass again in full; a
    /// registration would succeed twice, so its families are always read.
    First,
    /// Everything, and what only a teardown removes (objects, usage rows, deregistered revisions).
    Teardown,
}

/// Targeted observation of one tenant: every kind of agent is looked at, so that strays and
/// agents being torn down are seen too. What only a teardown removes (the tenant's objects) is
/// looked at only for one.
pub async fn observe_tenant(
    clients: &Clients,
    td_cache: &TaskDefinitionCache,
    tenant_db: &PgPool,
    cell: &CellConfig,
    tenant: &TenantRef,
    scope: Scope,
) -> Result<ObservedTenant> {
    let teardown = scope == Scope::Teardown;
    let first = scope == Scope::First;
    let mut observed = ObservedTenant::default();
    if !first {
        for s in secrets_manager::list(clients, &tenant.secret_prefix()).await? {
            observed.secrets.insert(s.name.clone(), s);
        }
    }
    let mut service_names = Vec::new();
    for kind in AgentKind::ALL {
        if !first {
            if let Some(role) = iam_role::get(clients, &tenant.role_name(kind)).await? {
                observed.roles.insert(role.name.clone(), role);
            }
        }
        let family = tenant.task_family(kind);
        let (current, superseded) = task_definition::observe(clients, td_cache, &family).await?;
        if !superseded.is_empty() {
            observed
                .superseded_task_definitions
                .insert(family.clone(), superseded);
        }
        if let Some(td) = current {
            observed.task_definitions.insert(family, td);
        }
        service_names.push(tenant.service_name(kind));
    }
    observed.pg = pg_tenant::observe(tenant_db, &tenant.db).await?;
    if first {
        return Ok(observed);
    }
    for s in ecs_service::describe(clients, &cell.ecs_cluster, &service_names).await? {
        observed.services.insert(s.name.clone(), s);
    }
    observed.log_groups = agent_logs::observe(clients, tenant).await?;
    if should_probe_login(observed.secrets.get(&tenant.db_secret_name()), &observed.pg) {
        observed.db_login = db_secret::probe_login(clients, tenant_db, tenant).await;
    }
    if teardown {
        observed.objects =
            tenant_objects::observe(clients, &cell.tenant_bucket, &tenant.s3_prefix()).await?;
        observed.pg.usage_rows = pg_tenant::usage_rows(tenant_db, &tenant.db).await?;
        for kind in AgentKind::ALL {
            let family = tenant.task_family(kind);
            let left = task_definition::inactive_ours(clients, &family).await?;
            if !left.is_empty() {
                observed.inactive_task_definitions.insert(family, left);
            }
        }
    }
    Ok(observed)
}

/// Rendered desired-state fixtures shared by the kinds' unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::render::render_tenant;
    use crate::render::tests::{agent, cell};

    /// Clients of the fixture cell: for checks that must refuse before any call (none is sent).
    pub async fn clients() -> Clients {
        Clients::new(
            &cell(),
            std::sync::Arc::new(crate::metrics::Metrics::new()),
            crate::throttle::Throttle::new(1.0),
            crate::config::OperatorConfig::default().aws_timeouts(),
        )
        .await
    }

    /// The opaque database name of [`tenant`].
    pub const DB_NAME: &str = "t0123456789abcdef0123456789abcdef";

    pub fn tenant() -> TenantRef {
        TenantRef::new(
            naming::TenantName::parse("acme").expect("name"),
            naming::DbName::parse(DB_NAME).expect("db name"),
        )
    }

    pub fn desired() -> DesiredTenant {
        render_tenant(
            &cell(),
            &tenant(),
            crds::api::Tier::Standard,
            &[agent(AgentKind::Scout)],
        )
    }

    pub fn no_records() -> Recorded {
        Recorded::new()
    }

    /// What the world looks like once `d` is converged.
    pub fn converged(d: &DesiredTenant) -> ObservedTenant {
        let mut o = ObservedTenant {
            pg: pg_tenant::fixtures::converged(),
            ..Default::default()
        };
        for s in &d.secrets {
            o.secrets.insert(
                s.name.clone(),
                ObservedSecret {
                    name: s.name.clone(),
                    arn: format!("arn:secret:{}", s.name),
                    scheduled_for_deletion: false,
                    tags: s.tags.clone(),
                },
            );
        }
        for a in &d.agents {
            o.roles
                .insert(a.role_name.clone(), iam_role::fixtures::converged(a));
            let td = task_definition::fixtures::converged(a);
            o.services.insert(
                a.service.name.clone(),
                ecs_service::fixtures::converged(a, &td.arn),
            );
            o.task_definitions.insert(a.task.family.clone(), td);
            o.log_groups.insert(
                a.log_group.name.clone(),
                agent_logs::fixtures::converged(&a.log_group),
            );
        }
        o
    }

    /// `verb kind name` of each change, for table tests.
    pub fn lines<O: Operation>(changes: &[Change<O>]) -> Vec<String> {
        let t = tenant();
        changes
            .iter()
            .map(|c| {
                let (k, n) = c.op.resource(&t);
                format!("{} {k} {n}", c.op.verb())
            })
            .collect()
    }
}
