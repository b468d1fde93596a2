//! The cell's inventory for a resync: everything OpenClaw-named in the cell, read with batched,
//! paginated calls, then projected per tenant into the same `ObservedTenant` the
//! targeted observation builds, so that drift is judged by the one `diff`.
//!
//! Reads: ECS ListServices + DescribeServices (10 per call, tags included); IAM
//! GetAccountAuthorizationDetails (roles with inline policies, boundary, tags); Secrets Manager
//! ListSecrets on `/openclaw/` including secrets scheduled for deletion; one catalog query for
//! every tenant role. Task definitions are immutable: a revision already seen is never described
//! again (the cache below). Pagination is always followed, even where the emulator returns one page.
//!
//! Must never: write anything.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aws_sdk_ecs::types::{ServiceField, TaskDefinitionField};
use aws_sdk_iam::types::EntityType;
use crds::api::AgentKind;
use crds::naming::{self, TenantName};
use sqlx::{PgPool, Row};

use crate::aws::{AwsError, Clients};
use crate::config::CellConfig;
use crate::error::Result;
use crate::observe::{
    self, ObservedRole, ObservedSecret, ObservedService, ObservedTaskDefinition, ObservedTenant,
};
use crate::pg_tenant::{self, ObservedPg, PgRoleAttrs, SharedRls};
use crate::policy;
use crate::throttle::Bucket;

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

#[derive(Debug, Default)]
pub struct Inventory {
    pub services: BTreeMap<String, ObservedService>,
    pub roles: BTreeMap<String, ObservedRole>,
    pub secrets: BTreeMap<String, ObservedSecret>,
    /// Our current revision per family (from the operator's own records).
    pub task_definitions: BTreeMap<String, ObservedTaskDefinition>,
    /// Per tenant role name.
    pub pg: BTreeMap<String, ObservedPg>,
    pub shared_rls: SharedRls,
}

impl Inventory {
    pub fn size(&self) -> usize {
        self.services.len()
            + self.roles.len()
            + self.secrets.len()
            + self.task_definitions.len()
            + self.pg.len()
    }

    /// What exists for one tenant, in the shape `diff` takes.
    pub fn observed_for(&self, tenant: &TenantName) -> ObservedTenant {
        let mut o = ObservedTenant::default();
        let prefix = tenant.secret_prefix();
        for (name, s) in self.secrets.range(prefix.clone()..) {
            if !name.starts_with(&prefix) {
                break;
            }
            o.secrets.insert(name.clone(), s.clone());
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
        }
        if let Some(pg) = self.pg.get(&tenant.pg_role()) {
            o.pg = pg.clone();
        } else {
            o.pg.schema_exists = false;
        }
        o
    }
}

/// Builds the inventory of `cell`. `own_task_definitions` is the operator's record of its
/// current revision per family (ARN); each is described only the first time it is seen.
pub async fn build(
    clients: &Clients,
    pool: &PgPool,
    cell: &CellConfig,
    own_task_definitions: &BTreeMap<String, String>,
    cache: &TaskDefinitionCache,
) -> Result<Inventory> {
    let mut inv = Inventory::default();
    // ECS services.
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        clients.throttle.acquire(Bucket::EcsRead).await;
        let r = clients
            .ecs
            .list_services()
            .cluster(&cell.ecs_cluster)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "ListServices", &e))?;
        arns.extend(
            r.service_arns()
                .iter()
                .filter(|a| {
                    a.rsplit('/')
                        .next()
                        .is_some_and(|n| n.starts_with("openclaw-"))
                })
                .cloned(),
        );
        token = r.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    for chunk in arns.chunks(10) {
        clients.throttle.acquire(Bucket::EcsRead).await;
        let r = clients
            .ecs
            .describe_services()
            .cluster(&cell.ecs_cluster)
            .set_services(Some(chunk.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ECS", "DescribeServices", &e))?;
        for s in r.services().iter().filter_map(observe::service_from) {
            // The emulator lists deleted services; an INACTIVE one is as good as absent.
            if s.status != "INACTIVE" {
                inv.services.insert(s.name.clone(), s);
            }
        }
    }
    // IAM roles under the tenant path, with everything in one paginated listing.
    for role in account_roles(clients, Some(naming::TENANT_ROLE_PATH)).await? {
        inv.roles.insert(role.name.clone(), role);
    }
    // Secrets under /openclaw/, including those scheduled for deletion.
    for s in observe::list_secrets(clients, naming::SECRET_PREFIX).await? {
        inv.secrets.insert(s.name.clone(), s);
    }
    // Task definitions: ours, described once per revision ever.
    for (family, arn) in own_task_definitions {
        let td = match cache.get(arn) {
            Some(td) => td,
            None => {
                clients.throttle.acquire(Bucket::EcsRead).await;
                let r = clients
                    .ecs
                    .describe_task_definition()
                    .task_definition(arn)
                    .include(TaskDefinitionField::Tags)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ECS", "DescribeTaskDefinition", &e))?;
                let Some(d) = r.task_definition() else {
                    continue;
                };
                let td = ObservedTaskDefinition {
                    arn: arn.clone(),
                    family: family.clone(),
                    revision: d.revision(),
                    tags: r
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                        .collect(),
                };
                cache.insert(td.clone());
                td
            }
        };
        inv.task_definitions.insert(family.clone(), td);
    }
    inv.pg = pg_catalog(pool).await?;
    inv.shared_rls = pg_tenant::shared_rls(pool).await?;
    Ok(inv)
}

/// Every role of the account (or those under `path`), with inline policies, boundary, tags and
/// attached policies, from GetAccountAuthorizationDetails (paginated).
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
                tags: d
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect(),
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

/// One catalog query: every tenant role of this database with its attributes, memberships,
/// schema, and grants outside its schema.
async fn pg_catalog(pool: &PgPool) -> Result<BTreeMap<String, ObservedPg>> {
    let rows = sqlx::query(
        "SELECT r.rolname::text AS role, r.rolcanlogin, r.rolsuper, r.rolcreatedb, \
           r.rolcreaterole, r.rolreplication, r.rolbypassrls, r.rolinherit, r.rolconnlimit, \
           coalesce(shobj_description(r.oid, 'pg_authid') = \
             'openclaw tenant role in database ' || current_database(), false) AS ours, \
           EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = r.rolname) AS schema_exists, \
           CASE WHEN EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = r.rolname) \
             THEN has_schema_privilege(r.oid, r.rolname::text, 'USAGE') ELSE false END AS schema_usage, \
           coalesce((SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m \
             JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '{}') AS memberships, \
           coalesce((SELECT array_agg(format('%s.%s:%s', t.table_schema, t.table_name, t.privilege_type) ORDER BY 1) \
             FROM information_schema.role_table_grants t \
             WHERE t.grantee = r.rolname AND t.table_schema <> r.rolname), '{}') AS foreign_grants, \
           coalesce((SELECT array_agg(DISTINCT n.nspname::text) FROM pg_namespace n, aclexplode(n.nspacl) a \
             WHERE a.grantee = r.oid AND n.nspname <> r.rolname), '{}') AS foreign_schema_grants, \
           (SELECT count(*) = 4 FROM pg_tables WHERE schemaname = r.rolname \
             AND tablename IN ('tasks', 'signals', 'accounts', 'integrations')) AS tables_exist \
         FROM pg_roles r WHERE r.rolname LIKE 'tenant\\_%'",
    )
    .fetch_all(pool)
    .await?;
    let rds_iam_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')")
            .fetch_one(pool)
            .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let role: String = r.try_get("role")?;
        let memberships: Vec<String> = r.try_get("memberships")?;
        let ours: bool = r.try_get("ours")?;
        if !ours {
            // Another database's tenant, or not ours at all: a conflict is reported by the
            // targeted pass of the tenant that wants this name.
            continue;
        }
        out.insert(
            role,
            ObservedPg {
                role: Some(PgRoleAttrs {
                    ours,
                    login: r.try_get("rolcanlogin")?,
                    superuser: r.try_get("rolsuper")?,
                    createdb: r.try_get("rolcreatedb")?,
                    createrole: r.try_get("rolcreaterole")?,
                    replication: r.try_get("rolreplication")?,
                    bypassrls: r.try_get("rolbypassrls")?,
                    inherit: r.try_get("rolinherit")?,
                    connection_limit: r.try_get("rolconnlimit")?,
                }),
                schema_exists: r.try_get("schema_exists")?,
                schema_usage: r.try_get("schema_usage")?,
                in_group: memberships.iter().any(|m| m == pg_tenant::TENANT_GROUP),
                rds_iam_exists,
                rds_iam_member: memberships.iter().any(|m| m == pg_tenant::RDS_IAM),
                foreign_memberships: memberships
                    .into_iter()
                    .filter(|m| m != pg_tenant::TENANT_GROUP && m != pg_tenant::RDS_IAM)
                    .collect(),
                foreign_grants: r.try_get("foreign_grants")?,
                foreign_schema_grants: r.try_get("foreign_schema_grants")?,
                tables_exist: r.try_get("tables_exist")?,
            },
        );
    }
    Ok(out)
}
