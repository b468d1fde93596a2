//! Diff (pure): desired × observed → the ordered list of actions, each with its reason.
//! `openclaw plan` prints exactly this list.
//!
//! Owns: what must change and in what order (security first; then creation in dependency order:
//! PostgreSQL, secrets, roles, task definitions, services; then teardown in reverse). Must never:
//! plan a change to a resource that carries our name but is not ours.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crds::api::AgentKind;
use crds::naming::{self, TenantName};

use crate::error::{ReconcileError, Result};
use crate::kind::Kind;
use crate::observe::{ObservedTenant, Tags};
use crate::pg_tenant::{self, PgStep};
use crate::policy;
use crate::render::{DesiredAgent, DesiredTenant, SecretPurpose};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Generate a password, set it on the tenant's DB role, and store it in `/openclaw/T/db`
    /// (creating the secret when `create_secret`).
    SetDbPassword {
        create_secret: bool,
    },
    CreateSecret {
        name: String,
    },
    RestoreSecret {
        name: String,
    },
    TagSecret {
        name: String,
    },
    Pg(PgStep),
    CreateRole {
        kind: AgentKind,
    },
    UpdateTrustPolicy {
        kind: AgentKind,
    },
    PutBoundary {
        kind: AgentKind,
    },
    PutInlinePolicy {
        kind: AgentKind,
    },
    DeleteForeignInlinePolicy {
        kind: AgentKind,
        policy: String,
    },
    DetachPolicy {
        kind: AgentKind,
        arn: String,
    },
    TagRole {
        kind: AgentKind,
    },
    RegisterTaskDefinition {
        kind: AgentKind,
    },
    CreateService {
        kind: AgentKind,
    },
    UpdateService {
        kind: AgentKind,
    },
    TagService {
        kind: AgentKind,
    },
    DeleteService {
        name: String,
    },
    DeregisterTaskDefinitions {
        family: String,
    },
    DeleteRole {
        name: String,
    },
    DeleteSecret {
        name: String,
    },
    DropPg,
}

impl Action {
    /// (resource kind, resource name) for status, metrics and the audit log.
    pub fn resource(&self, tenant: &TenantName) -> (Kind, String) {
        match self {
            Action::SetDbPassword { .. } => (Kind::Secret, tenant.db_secret_name()),
            Action::CreateSecret { name }
            | Action::RestoreSecret { name }
            | Action::TagSecret { name }
            | Action::DeleteSecret { name } => (Kind::Secret, name.clone()),
            Action::Pg(PgStep::CreateSchema | PgStep::CreateTables | PgStep::GrantSchema) => {
                (Kind::PgSchema, tenant.pg_schema())
            }
            Action::Pg(_) | Action::DropPg => (Kind::PgRole, tenant.pg_role()),
            Action::CreateRole { kind }
            | Action::UpdateTrustPolicy { kind }
            | Action::PutBoundary { kind }
            | Action::DetachPolicy { kind, .. }
            | Action::TagRole { kind } => (Kind::IamRole, tenant.role_name(*kind)),
            Action::PutInlinePolicy { kind } | Action::DeleteForeignInlinePolicy { kind, .. } => {
                (Kind::IamInlinePolicy, tenant.policy_name(*kind))
            }
            Action::DeleteRole { name } => (Kind::IamRole, name.clone()),
            Action::RegisterTaskDefinition { kind } => {
                (Kind::TaskDefinition, tenant.task_family(*kind))
            }
            Action::DeregisterTaskDefinitions { family } => (Kind::TaskDefinition, family.clone()),
            Action::CreateService { kind }
            | Action::UpdateService { kind }
            | Action::TagService { kind } => (Kind::EcsService, tenant.service_name(*kind)),
            Action::DeleteService { name } => (Kind::EcsService, name.clone()),
        }
    }

    /// A short verb for the audit log and metrics.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::SetDbPassword {
                create_secret: true,
            }
            | Action::CreateSecret { .. } => "create",
            Action::SetDbPassword { .. } => "rotate",
            Action::RestoreSecret { .. } => "restore",
            Action::TagSecret { .. } | Action::TagRole { .. } | Action::TagService { .. } => "tag",
            Action::Pg(PgStep::CreateRole | PgStep::CreateSchema | PgStep::CreateTables) => {
                "create"
            }
            Action::Pg(
                PgStep::RevokeMembership(_)
                | PgStep::RevokeTableGrant(_)
                | PgStep::RevokeSchemaGrant(_),
            ) => "revoke",
            Action::Pg(_) => "update",
            Action::CreateRole { .. } | Action::CreateService { .. } => "create",
            Action::RegisterTaskDefinition { .. } => "register",
            Action::UpdateTrustPolicy { .. }
            | Action::PutBoundary { .. }
            | Action::PutInlinePolicy { .. }
            | Action::UpdateService { .. } => "update",
            Action::DeleteForeignInlinePolicy { .. } | Action::DetachPolicy { .. } => "revoke",
            Action::DeregisterTaskDefinitions { .. } => "deregister",
            Action::DeleteService { .. }
            | Action::DeleteRole { .. }
            | Action::DeleteSecret { .. }
            | Action::DropPg => "delete",
        }
    }

    fn order(&self) -> u8 {
        match self {
            Action::Pg(_) => 0,
            Action::SetDbPassword { .. }
            | Action::CreateSecret { .. }
            | Action::RestoreSecret { .. }
            | Action::TagSecret { .. } => 1,
            Action::CreateRole { .. }
            | Action::UpdateTrustPolicy { .. }
            | Action::PutBoundary { .. }
            | Action::PutInlinePolicy { .. }
            | Action::DeleteForeignInlinePolicy { .. }
            | Action::DetachPolicy { .. }
            | Action::TagRole { .. } => 2,
            Action::RegisterTaskDefinition { .. } => 3,
            Action::CreateService { .. }
            | Action::UpdateService { .. }
            | Action::TagService { .. } => 4,
            // Teardown, in reverse dependency order.
            Action::DeleteService { .. } => 10,
            Action::DeregisterTaskDefinitions { .. } => 11,
            Action::DeleteRole { .. } => 12,
            Action::DeleteSecret { .. } => 13,
            Action::DropPg => 14,
        }
    }
}

/// One planned action with the reason it is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub action: Action,
    pub reason: String,
    /// Repairs widened access (security drift).
    pub security: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub actions: Vec<Planned>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    fn push(&mut self, action: Action, reason: impl Into<String>, security: bool) {
        self.actions.push(Planned {
            action,
            reason: reason.into(),
            security,
        });
    }

    /// Human-readable, one action per line: `update iam_role openclaw-acme-butler: reason`.
    pub fn render(&self, tenant: &TenantName) -> String {
        let mut out = String::new();
        for p in &self.actions {
            let (kind, name) = p.action.resource(tenant);
            let sec = if p.security { " [security]" } else { "" };
            out.push_str(&format!(
                "{} {kind} {name}: {}{sec}\n",
                p.action.verb(),
                p.reason
            ));
        }
        out
    }
}

impl fmt::Display for Planned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.action, self.reason)
    }
}

/// Names of resources the inventory says we created, by (kind, name): proof of ownership
/// when someone strips our tags.
pub type Inventory = BTreeSet<(String, String)>;

fn tagged_ours(tags: &Tags) -> bool {
    tags.get(naming::TAG_MANAGED_BY).map(String::as_str) == Some(naming::MANAGED_BY_VALUE)
}

fn missing_tags(have: &Tags, want: &BTreeMap<String, String>) -> Vec<String> {
    want.iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

struct Ctx<'a> {
    inventory: &'a Inventory,
}

impl Ctx<'_> {
    fn owned(&self, kind: Kind, name: &str, tags: &Tags) -> bool {
        tagged_ours(tags)
            || self
                .inventory
                .contains(&(kind.as_str().to_owned(), name.to_owned()))
    }

    fn require_owned(&self, kind: Kind, name: &str, tags: &Tags) -> Result<()> {
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

/// Plans a live tenant's convergence (or, with `desired = None`, its full teardown).
pub fn diff(
    tenant: &TenantName,
    desired: Option<&DesiredTenant>,
    observed: &ObservedTenant,
    inventory: &Inventory,
) -> Result<Plan> {
    let ctx = Ctx { inventory };
    let mut plan = Plan::default();
    let mut desired_kinds = BTreeSet::new();
    if let Some(d) = desired {
        let pg_steps = pg_tenant::diff(&d.pg.role, &observed.pg, d.pg.iam_auth)?;
        let role_created = pg_steps.contains(&PgStep::CreateRole);
        for step in pg_steps {
            let security = step.is_security();
            let reason = match &step {
                PgStep::CreateRole => "tenant role missing".to_owned(),
                PgStep::AlterRole => "role attributes widened (superuser, bypassrls, createrole, createdb, replication or connection limit)".to_owned(),
                PgStep::CreateSchema => "tenant schema missing".to_owned(),
                PgStep::CreateTables => "tenant tables missing".to_owned(),
                PgStep::GrantSchema => "role lacks usage of its schema".to_owned(),
                PgStep::JoinGroup => "role not in the tenant group (shared tables)".to_owned(),
                PgStep::RevokeMembership(r) => format!("role was granted membership in {r}"),
                PgStep::RevokeTableGrant(g) => format!("role was granted {g} outside its schema"),
                PgStep::RevokeSchemaGrant(s) => format!("role was granted rights on schema {s}"),
                PgStep::GrantRdsIam => "IAM database authentication: role joins rds_iam".to_owned(),
            };
            plan.push(Action::Pg(step), reason, security);
        }
        diff_secrets(&ctx, tenant, d, observed, role_created, &mut plan)?;
        for agent in &d.agents {
            desired_kinds.insert(agent.kind);
            diff_agent(&ctx, agent, observed, &mut plan)?;
        }
    } else {
        for (name, s) in &observed.secrets {
            if ctx.owned(Kind::Secret, name, &s.tags) {
                plan.push(
                    Action::DeleteSecret { name: name.clone() },
                    "tenant deleted",
                    false,
                );
            }
        }
        if observed.pg.role.as_ref().is_some_and(|r| r.ours) || observed.pg.schema_exists {
            plan.push(Action::DropPg, "tenant deleted", false);
        }
    }
    for kind in AgentKind::ALL {
        if !desired_kinds.contains(&kind) {
            teardown_agent(&ctx, tenant, kind, observed, desired.is_none(), &mut plan);
        }
    }
    // Security first, then dependency order; stable within each.
    plan.actions
        .sort_by_key(|p| (!p.security, p.action.order()));
    Ok(plan)
}

fn diff_secrets(
    ctx: &Ctx<'_>,
    tenant: &TenantName,
    d: &DesiredTenant,
    observed: &ObservedTenant,
    role_created: bool,
    plan: &mut Plan,
) -> Result<()> {
    let wanted: BTreeSet<&str> = d.secrets.iter().map(|s| s.name.as_str()).collect();
    for s in &d.secrets {
        match observed.secrets.get(&s.name) {
            None => match s.purpose {
                SecretPurpose::Database => plan.push(
                    Action::SetDbPassword {
                        create_secret: true,
                    },
                    "database secret missing",
                    false,
                ),
                SecretPurpose::OAuth(i) => plan.push(
                    Action::CreateSecret {
                        name: s.name.clone(),
                    },
                    format!("{i} grant secret missing (its value is written by the consent flow)"),
                    false,
                ),
            },
            Some(o) => {
                ctx.require_owned(Kind::Secret, &s.name, &o.tags)?;
                if o.scheduled_for_deletion {
                    plan.push(
                        Action::RestoreSecret {
                            name: s.name.clone(),
                        },
                        "secret scheduled for deletion",
                        false,
                    );
                }
                let missing = missing_tags(&o.tags, &s.tags);
                if !missing.is_empty() {
                    plan.push(
                        Action::TagSecret {
                            name: s.name.clone(),
                        },
                        format!("tags missing: {}", missing.join(", ")),
                        false,
                    );
                }
                if s.purpose == SecretPurpose::Database && role_created {
                    plan.push(
                        Action::SetDbPassword {
                            create_secret: false,
                        },
                        "tenant role recreated; its password is rotated",
                        false,
                    );
                }
            }
        }
    }
    // With IAM authentication the password secret goes, but only once the role can log in with
    // IAM (it is a member of rds_iam, possibly granted earlier in this same pass).
    let iam_login_ready = d.pg.iam_auth && observed.pg.rds_iam_exists;
    for (name, o) in &observed.secrets {
        if name == &tenant.db_secret_name() && d.pg.iam_auth && !iam_login_ready {
            continue;
        }
        if !wanted.contains(name.as_str()) && ctx.owned(Kind::Secret, name, &o.tags) {
            let reason = if name == &tenant.db_secret_name() {
                // The tenant's roles log in with IAM now: the password must not outlive its use.
                "IAM database authentication replaces the password"
            } else {
                // An integration no agent declares any more: its grant goes (data minimisation).
                "no agent of the tenant uses this integration"
            };
            plan.push(Action::DeleteSecret { name: name.clone() }, reason, false);
        }
    }
    Ok(())
}

fn diff_agent(
    ctx: &Ctx<'_>,
    a: &DesiredAgent,
    observed: &ObservedTenant,
    plan: &mut Plan,
) -> Result<()> {
    let kind = a.kind;
    // IAM role and its policies.
    match observed.roles.get(&a.role_name) {
        None => {
            plan.push(Action::CreateRole { kind }, "role missing", false);
            plan.push(Action::PutInlinePolicy { kind }, "role missing", false);
        }
        Some(r) => {
            ctx.require_owned(Kind::IamRole, &a.role_name, &r.tags)?;
            if r.path != crds::naming::TENANT_ROLE_PATH {
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
                plan.push(
                    Action::UpdateTrustPolicy { kind },
                    "trust policy changed",
                    true,
                );
            }
            if r.boundary_arn.as_deref() != Some(a.boundary_arn.as_str()) {
                plan.push(
                    Action::PutBoundary { kind },
                    match &r.boundary_arn {
                        None => "permissions boundary removed".to_owned(),
                        Some(b) => format!("permissions boundary is {b}"),
                    },
                    true,
                );
            }
            match r.inline_policies.get(&a.inline_policy_name) {
                None => plan.push(
                    Action::PutInlinePolicy { kind },
                    "inline policy missing",
                    false,
                ),
                Some(doc) => {
                    if !doc
                        .as_ref()
                        .is_some_and(|d| policy::semantically_equal(d, &a.inline_policy))
                    {
                        plan.push(
                            Action::PutInlinePolicy { kind },
                            "inline policy differs from the rendered one",
                            true,
                        );
                    }
                }
            }
            for name in r.inline_policies.keys() {
                if name != &a.inline_policy_name {
                    plan.push(
                        Action::DeleteForeignInlinePolicy {
                            kind,
                            policy: name.clone(),
                        },
                        format!("inline policy {name} was added"),
                        true,
                    );
                }
            }
            for arn in &r.attached_policies {
                plan.push(
                    Action::DetachPolicy {
                        kind,
                        arn: arn.clone(),
                    },
                    format!("managed policy {arn} was attached"),
                    true,
                );
            }
            let missing = missing_tags(&r.tags, &a.tags);
            if !missing.is_empty() {
                plan.push(
                    Action::TagRole { kind },
                    format!("tags missing: {}", missing.join(", ")),
                    false,
                );
            }
        }
    }
    // Task definition: a new revision only when the rendered content changed.
    let hash = a.task.hash();
    let current_td = match observed.task_definitions.get(&a.task.family) {
        None => {
            plan.push(
                Action::RegisterTaskDefinition { kind },
                "no active revision",
                false,
            );
            None
        }
        Some(td) => {
            ctx.require_owned(Kind::TaskDefinition, &a.task.family, &td.tags)?;
            if td.spec_hash() == Some(hash.as_str()) {
                Some(td.arn.clone())
            } else {
                plan.push(
                    Action::RegisterTaskDefinition { kind },
                    format!(
                        "content changed (revision {} has hash {}, rendered {hash})",
                        td.revision,
                        td.spec_hash().unwrap_or("none")
                    ),
                    false,
                );
                None
            }
        }
    };
    // Service.
    match observed.services.get(&a.service.name) {
        Some(s) if s.status != "INACTIVE" => {
            ctx.require_owned(Kind::EcsService, &a.service.name, &s.tags)?;
            if !s.is_active() {
                // DRAINING: ECS is still deleting it; act once it is gone.
                return Ok(());
            }
            let mut reasons = Vec::new();
            let mut security = false;
            if s.public_ip {
                reasons.push("a public IP was enabled".to_owned());
                security = true;
            }
            match &current_td {
                Some(arn) if arn == &s.task_definition => {}
                Some(arn) => reasons.push(format!("runs {} instead of {arn}", s.task_definition)),
                None => reasons.push("a new task definition revision rolls out".to_owned()),
            }
            if s.desired_count != a.service.desired_count {
                reasons.push(format!(
                    "desired count is {} instead of {}",
                    s.desired_count, a.service.desired_count
                ));
            }
            let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
            if set(&s.subnets) != set(&a.service.subnets)
                || set(&s.security_groups) != set(&a.service.security_groups)
            {
                reasons.push("network configuration differs".to_owned());
            }
            if !s.circuit_breaker {
                reasons.push("deployment circuit breaker is off".to_owned());
            }
            if !reasons.is_empty() {
                plan.push(Action::UpdateService { kind }, reasons.join("; "), security);
            }
            let missing = missing_tags(&s.tags, &a.tags);
            if !missing.is_empty() {
                plan.push(
                    Action::TagService { kind },
                    format!("tags missing: {}", missing.join(", ")),
                    false,
                );
            }
        }
        _ => plan.push(Action::CreateService { kind }, "service missing", false),
    }
    Ok(())
}

fn teardown_agent(
    ctx: &Ctx<'_>,
    tenant: &TenantName,
    kind: AgentKind,
    observed: &ObservedTenant,
    tenant_deleted: bool,
    plan: &mut Plan,
) {
    let why = if tenant_deleted {
        "tenant deleted"
    } else {
        "agent deleted"
    };
    let service = tenant.service_name(kind);
    if let Some(s) = observed.services.get(&service) {
        if s.status != "INACTIVE" && ctx.owned(Kind::EcsService, &service, &s.tags) {
            plan.push(Action::DeleteService { name: service }, why, false);
        }
    }
    let family = tenant.task_family(kind);
    if let Some(td) = observed.task_definitions.get(&family) {
        if ctx.owned(Kind::TaskDefinition, &family, &td.tags) {
            plan.push(Action::DeregisterTaskDefinitions { family }, why, false);
        }
    }
    let role = tenant.role_name(kind);
    if let Some(r) = observed.roles.get(&role) {
        if ctx.owned(Kind::IamRole, &role, &r.tags) {
            plan.push(Action::DeleteRole { name: role }, why, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{ObservedRole, ObservedSecret, ObservedService, ObservedTaskDefinition};
    use crate::pg_tenant::{ObservedPg, PgRoleAttrs};
    use crate::render::render_tenant;
    use crate::render::tests::{agent, cell};

    fn tenant() -> TenantName {
        TenantName::parse("acme").expect("name")
    }

    fn desired() -> DesiredTenant {
        render_tenant(&cell(), &tenant(), &[agent(AgentKind::Scout)])
    }

    /// What the world looks like once `desired` is converged.
    fn converged(d: &DesiredTenant) -> ObservedTenant {
        let mut o = ObservedTenant {
            pg: ObservedPg {
                role: Some(PgRoleAttrs {
                    ours: true,
                    login: true,
                    inherit: true,
                    connection_limit: pg_tenant::CONNECTION_LIMIT,
                    ..Default::default()
                }),
                schema_exists: true,
                schema_usage: true,
                in_group: true,
                tables_exist: true,
                ..Default::default()
            },
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
            o.roles.insert(
                a.role_name.clone(),
                ObservedRole {
                    name: a.role_name.clone(),
                    arn: a.role_arn.clone(),
                    path: naming::TENANT_ROLE_PATH.into(),
                    boundary_arn: Some(a.boundary_arn.clone()),
                    trust_policy: Some(a.trust_policy.clone()),
                    tags: a.tags.clone(),
                    inline_policies: [(
                        a.inline_policy_name.clone(),
                        Some(a.inline_policy.clone()),
                    )]
                    .into(),
                    attached_policies: vec![],
                },
            );
            let mut tags = a.tags.clone();
            tags.insert(crate::observe::TAG_SPEC_HASH.into(), a.task.hash());
            let arn = format!("arn:td/{}:1", a.task.family);
            o.task_definitions.insert(
                a.task.family.clone(),
                ObservedTaskDefinition {
                    arn: arn.clone(),
                    family: a.task.family.clone(),
                    revision: 1,
                    tags,
                },
            );
            o.services.insert(
                a.service.name.clone(),
                ObservedService {
                    name: a.service.name.clone(),
                    arn: format!("arn:svc/{}", a.service.name),
                    status: "ACTIVE".into(),
                    task_definition: arn,
                    desired_count: a.service.desired_count,
                    running_count: a.service.desired_count,
                    subnets: a.service.subnets.clone(),
                    security_groups: a.service.security_groups.clone(),
                    public_ip: false,
                    circuit_breaker: true,
                    tags: a.tags.clone(),
                },
            );
        }
        o
    }

    fn verbs(plan: &Plan) -> Vec<String> {
        let t = tenant();
        plan.actions
            .iter()
            .map(|p| {
                let (k, n) = p.action.resource(&t);
                format!("{} {k} {n}", p.action.verb())
            })
            .collect()
    }

    #[test]
    fn a_new_tenant_is_created_in_dependency_order() {
        let plan = diff(
            &tenant(),
            Some(&desired()),
            &ObservedTenant::default(),
            &Inventory::new(),
        )
        .expect("plan");
        assert_eq!(
            verbs(&plan),
            vec![
                "create pg_role tenant_acme",
                "create pg_schema tenant_acme",
                "create pg_schema tenant_acme",
                "update pg_schema tenant_acme",
                "update pg_role tenant_acme",
                "create secret /openclaw/acme/db",
                "create iam_role openclaw-acme-scout",
                "update iam_inline_policy openclaw-acme-scout",
                "register task_definition openclaw-acme-scout",
                "create ecs_service openclaw-acme-scout",
            ]
        );
    }

    #[test]
    fn a_converged_tenant_plans_nothing() {
        let d = desired();
        let plan = diff(&tenant(), Some(&d), &converged(&d), &Inventory::new()).expect("plan");
        assert!(plan.is_empty(), "{}", plan.render(&tenant()));
    }

    #[test]
    fn security_drift_comes_first() {
        let d = desired();
        let mut o = converged(&d);
        o.services
            .get_mut("openclaw-acme-scout")
            .expect("svc")
            .desired_count = 3;
        let role = o.roles.get_mut("openclaw-acme-scout").expect("role");
        role.boundary_arn = None;
        role.inline_policies.insert("backdoor".into(), None);
        role.attached_policies
            .push("arn:aws:iam::aws:policy/AdministratorAccess".into());
        o.services
            .get_mut("openclaw-acme-scout")
            .expect("svc")
            .public_ip = true;
        let plan = diff(&tenant(), Some(&d), &o, &Inventory::new()).expect("plan");
        let sec: Vec<bool> = plan.actions.iter().map(|p| p.security).collect();
        assert_eq!(
            sec,
            vec![true, true, true, true],
            "{}",
            plan.render(&tenant())
        );
        assert!(plan
            .render(&tenant())
            .contains("a public IP was enabled; desired count is 3 instead of 1"));
    }

    #[test]
    fn a_changed_spec_registers_and_rolls_the_service() {
        let d = desired();
        let o = converged(&d);
        let mut bigger = agent(AgentKind::Scout);
        bigger.cpu = 512;
        bigger.memory = 1024;
        let d2 = render_tenant(&cell(), &tenant(), &[bigger]);
        let plan = diff(&tenant(), Some(&d2), &o, &Inventory::new()).expect("plan");
        assert_eq!(
            verbs(&plan),
            vec![
                "register task_definition openclaw-acme-scout",
                "update ecs_service openclaw-acme-scout"
            ]
        );
    }

    #[test]
    fn a_resource_that_is_not_ours_is_a_conflict() {
        let d = desired();
        let mut o = converged(&d);
        o.roles
            .get_mut("openclaw-acme-scout")
            .expect("role")
            .tags
            .clear();
        let err = diff(&tenant(), Some(&d), &o, &Inventory::new()).expect_err("conflict");
        assert_eq!(err.code(), "ResourceConflict");
        assert!(
            err.to_string().contains("iam_role openclaw-acme-scout"),
            "{err}"
        );
        // The inventory proves we created it: stripped tags are put back instead.
        let inv: Inventory = [("iam_role".to_owned(), "openclaw-acme-scout".to_owned())].into();
        let plan = diff(&tenant(), Some(&d), &o, &inv).expect("plan");
        assert_eq!(verbs(&plan), vec!["tag iam_role openclaw-acme-scout"]);
    }

    #[test]
    fn teardown_is_in_reverse_order_and_skips_what_is_not_ours() {
        let d = desired();
        let mut o = converged(&d);
        // A foreign secret under our prefix name stays.
        o.secrets.insert(
            "/openclaw/acme/manual".into(),
            ObservedSecret {
                name: "/openclaw/acme/manual".into(),
                arn: "x".into(),
                scheduled_for_deletion: false,
                tags: Tags::new(),
            },
        );
        let plan = diff(&tenant(), None, &o, &Inventory::new()).expect("plan");
        assert_eq!(
            verbs(&plan),
            vec![
                "delete ecs_service openclaw-acme-scout",
                "deregister task_definition openclaw-acme-scout",
                "delete iam_role openclaw-acme-scout",
                "delete secret /openclaw/acme/db",
                "delete pg_role tenant_acme",
            ]
        );
    }

    #[test]
    fn removing_an_agent_tears_down_only_that_agent() {
        let both = render_tenant(
            &cell(),
            &tenant(),
            &[agent(AgentKind::Scout), agent(AgentKind::Butler)],
        );
        let o = converged(&both);
        let plan = diff(&tenant(), Some(&desired()), &o, &Inventory::new()).expect("plan");
        assert_eq!(
            verbs(&plan),
            vec![
                "delete ecs_service openclaw-acme-butler",
                "deregister task_definition openclaw-acme-butler",
                "delete iam_role openclaw-acme-butler",
            ]
        );
    }

    #[test]
    fn scheduled_secrets_are_restored_not_recreated() {
        let d = desired();
        let mut o = converged(&d);
        o.secrets
            .get_mut("/openclaw/acme/db")
            .expect("db")
            .scheduled_for_deletion = true;
        let plan = diff(&tenant(), Some(&d), &o, &Inventory::new()).expect("plan");
        assert_eq!(verbs(&plan), vec!["restore secret /openclaw/acme/db"]);
    }
}
