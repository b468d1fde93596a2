//! The cell's inventory for a resync: everything OpenClaw-named in the cell, read through each
//! kind's batched observation, then projected per tenant into the same `ObservedTenant` the
//! targeted observation builds, so that drift is judged by the same diffs.
//!
//! Reads: ECS ListServices + DescribeServices (10 per call, tags included); IAM
//! GetAccountAuthorizationDetails (roles with inline policies, boundary, tags); Secrets Manager
//! ListSecrets on `/openclaw/` including secrets scheduled for deletion; CloudWatch Logs
//! DescribeLogGroups on `/openclaw/` and their tags from one Tagging GetResources page per 100
//! groups; S3 ListObjectVersions of `tenants/` with the delimiter, 1,000 tenant prefixes a page
//! (which tenants left objects); one catalog query for
//! every tenant role; in password mode, one login per tenant with the password its database secret
//! holds (BatchGetSecretValue, 20 secrets a call). Task definitions are immutable: a revision already seen is never described
//! again (the cache below). Pagination is always followed, even where the emulator returns one page.
//!
//! Must never: write anything.

use std::collections::BTreeMap;

use crds::api::AgentKind;
use crds::naming::{self, TenantName, TenantRef};
use sqlx::PgPool;

use crate::aws::Clients;
use crate::config::CellConfig;
use crate::error::Result;
use crate::resources::shared_rls::{self, SharedRls};
use crate::resources::{
    agent_logs, db_secret, ecs_service, iam_role, pg_tenant, secrets_manager, should_probe_login,
    task_definition, tenant_objects, ObservedLogGroup, ObservedPg, ObservedRole, ObservedSecret,
    ObservedService, ObservedTaskDefinition, ObservedTenant, TaskDefinitionCache,
};

#[derive(Debug, Default)]
pub struct Inventory {
    pub services: BTreeMap<String, ObservedService>,
    pub roles: BTreeMap<String, ObservedRole>,
    pub secrets: BTreeMap<String, ObservedSecret>,
    /// Every log group under `/openclaw/`, with its tags.
    pub log_groups: BTreeMap<String, ObservedLogGroup>,
    /// Every tenant with anything under its `tenants/T/` prefix of the tenant bucket.
    pub tenant_prefixes: Vec<TenantName>,
    /// Our current revision per family (from the operator's own records).
    pub task_definitions: BTreeMap<String, ObservedTaskDefinition>,
    /// Per family of ours, the ACTIVE revisions other than the current one.
    pub superseded_task_definitions: BTreeMap<String, Vec<String>>,
    /// Per tenant role name.
    pub pg: BTreeMap<String, ObservedPg>,
    /// Per tenant name: a login with the password in its database secret.
    pub db_logins: BTreeMap<String, db_secret::Login>,
    pub shared_rls: SharedRls,
}

impl Inventory {
    pub fn size(&self) -> usize {
        self.services.len()
            + self.roles.len()
            + self.secrets.len()
            + self.log_groups.len()
            + self.task_definitions.len()
            + self.pg.len()
    }

    /// What exists for one tenant, in the shape the diffs take.
    pub fn observed_for(&self, tenant: &TenantRef) -> ObservedTenant {
        let mut o = ObservedTenant::default();
        let prefix = tenant.secret_prefix();
        for (name, s) in self.secrets.range(prefix.clone()..) {
            if !name.starts_with(&prefix) {
                break;
            }
            o.secrets.insert(name.clone(), s.clone());
        }
        let prefix = tenant.log_group_prefix();
        for (name, g) in self.log_groups.range(prefix.clone()..) {
            if !name.starts_with(&prefix) {
                break;
            }
            o.log_groups.insert(name.clone(), g.clone());
        }
        for kind in AgentKind::ALL {
            let name = tenant.agent_resource_name(kind);
            if let Some(r) = self.roles.get(&name) {
                o.roles.insert(name.clone(), r.clone());
            }
            if let Some(s) = self.services.get(&name) {
                o.services.insert(name.clone(), s.clone());
            }
            if let Some(td) = self.task_definitions.get(&name) {
                o.task_definitions.insert(name.clone(), td.clone());
            }
            if let Some(arns) = self.superseded_task_definitions.get(&name) {
                o.superseded_task_definitions
                    .insert(name.clone(), arns.clone());
            }
        }
        if let Some(pg) = self.pg.get(tenant.db.role()) {
            o.pg = pg.clone();
        }
        o.db_login = self
            .db_logins
            .get(tenant.as_str())
            .copied()
            .unwrap_or_default();
        o
    }
}

/// Builds the inventory of `cell`. `own_task_definitions` is the operator's record of its
/// current revision per family (ARN); each is described only the first time it is seen. Logins
/// are probed for `tenants` (those with rows).
pub async fn build(
    clients: &Clients,
    tenant_db: &PgPool,
    cell: &CellConfig,
    own_task_definitions: &BTreeMap<String, String>,
    cache: &TaskDefinitionCache,
    tenants: &[TenantRef],
) -> Result<Inventory> {
    let mut inv = Inventory::default();
    for s in ecs_service::list_ours(clients, &cell.ecs_cluster).await? {
        inv.services.insert(s.name.clone(), s);
    }
    for role in iam_role::account_roles(clients, Some(naming::TENANT_ROLE_PATH)).await? {
        inv.roles.insert(role.name.clone(), role);
    }
    for s in secrets_manager::list(clients, naming::SECRET_PREFIX).await? {
        inv.secrets.insert(s.name.clone(), s);
    }
    inv.log_groups = agent_logs::list_ours(clients).await?;
    inv.tenant_prefixes = tenant_objects::list_prefixes(clients, &cell.tenant_bucket).await?;
    let mut active = task_definition::list_active(clients).await?;
    for (family, arn) in own_task_definitions {
        if let Some(td) = task_definition::by_arn(clients, cache, family, arn).await? {
            inv.task_definitions.insert(family.clone(), td);
        }
        let others: Vec<String> = active
            .remove(family)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a != arn)
            .collect();
        if !others.is_empty() {
            inv.superseded_task_definitions
                .insert(family.clone(), others);
        }
    }
    inv.pg = pg_tenant::catalog(tenant_db).await?;
    inv.shared_rls = shared_rls::observe(tenant_db).await?;
    // One login per tenant whose database secret and role both look usable.
    let probed: Vec<TenantRef> = tenants
        .iter()
        .filter(|t| {
            let secret = inv.secrets.get(&t.db_secret_name());
            let pg = inv.pg.get(t.db.role());
            secret.is_some() && pg.is_some_and(|pg| should_probe_login(secret, pg))
        })
        .cloned()
        .collect();
    inv.db_logins = db_secret::probe_logins(clients, tenant_db, &probed).await;
    Ok(inv)
}
