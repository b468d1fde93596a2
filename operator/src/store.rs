//! The desired-state store (PostgreSQL schema `openclaw`): every SQL statement the operator and
//! the CLI run against it lives here.
//!
//! Owns: reading specs, writing status, the inventory, the audit log. Must never: write a spec
//! column outside `apply`, or put a secret into any row it writes.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crds::api::{
    Agent, AgentKind, AgentSpec, Condition, Integration, Status, Tenant, TenantSpec, Tier,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Row};

pub use crate::error::{classify, StoreError};
use crate::redact::{redact_text, redact_url};

/// The NOTIFY channel the store's triggers signal on.
pub const CHANNEL: &str = "openclaw_tenants";
/// The finalizer the operator puts on every tenant and agent it provisions.
pub const FINALIZER: &str = "openclaw.io/cloud-resources";

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let shown = redact_url(url);
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
        url: shown.clone(),
        message: redact_text(&e.to_string()),
    })?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.application_name("openclaw"))
        .await
        .map_err(|source| StoreError::Connect { url: shown, source })
}

/// Runs the migrations. Databases of one server share their roles, so two databases migrated at
/// once can race on creating the same cluster-wide role; the loser's migration rolls back whole
/// and is run again, once the winner's role exists.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        match crds::MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(sqlx::migrate::MigrateError::ExecuteMigration(sqlx::Error::Database(db), _))
                if attempt < 3
                    && (db.code().as_deref() == Some("42710")
                        || db.constraint() == Some("pg_authid_rolname_index")) =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// A tenant row: spec, bookkeeping and status.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantRow {
    pub name: String,
    pub display_name: String,
    pub region: String,
    pub tier: String,
    pub generation: i64,
    pub finalizers: Vec<String>,
    pub deletion_requested_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub phase: String,
    pub observed_generation: i64,
    pub conditions: serde_json::Value,
    pub status_message: Option<String>,
}

/// An agent row: spec, bookkeeping and status.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub tenant: String,
    pub kind: String,
    pub model: String,
    pub desired_count: i32,
    pub cpu: i32,
    pub memory: i32,
    pub image: Option<String>,
    pub integrations: Vec<String>,
    pub generation: i64,
    pub finalizers: Vec<String>,
    pub deletion_requested_at: Option<DateTime<Utc>>,
    pub phase: String,
    pub observed_generation: i64,
    pub conditions: serde_json::Value,
    pub running_count: Option<i32>,
    pub status_message: Option<String>,
}

const TENANT_COLS: &str = "name, display_name, region, tier, generation, finalizers, \
    deletion_requested_at, created_at, phase, observed_generation, conditions, status_message";
const AGENT_COLS: &str = "tenant, kind, model, desired_count, cpu, memory, image, integrations, \
    generation, finalizers, deletion_requested_at, phase, observed_generation, conditions, \
    running_count, status_message";

fn tenant_from(row: &sqlx::postgres::PgRow) -> Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        region: row.try_get("region")?,
        tier: row.try_get("tier")?,
        generation: row.try_get("generation")?,
        finalizers: row.try_get("finalizers")?,
        deletion_requested_at: row.try_get("deletion_requested_at")?,
        created_at: row.try_get("created_at")?,
        phase: row.try_get("phase")?,
        observed_generation: row.try_get("observed_generation")?,
        conditions: row.try_get("conditions")?,
        status_message: row.try_get("status_message")?,
    })
}

fn agent_from(row: &sqlx::postgres::PgRow) -> Result<AgentRow, sqlx::Error> {
    Ok(AgentRow {
        tenant: row.try_get("tenant")?,
        kind: row.try_get("kind")?,
        model: row.try_get("model")?,
        desired_count: row.try_get("desired_count")?,
        cpu: row.try_get("cpu")?,
        memory: row.try_get("memory")?,
        image: row.try_get("image")?,
        integrations: row.try_get("integrations")?,
        generation: row.try_get("generation")?,
        finalizers: row.try_get("finalizers")?,
        deletion_requested_at: row.try_get("deletion_requested_at")?,
        phase: row.try_get("phase")?,
        observed_generation: row.try_get("observed_generation")?,
        conditions: row.try_get("conditions")?,
        running_count: row.try_get("running_count")?,
        status_message: row.try_get("status_message")?,
    })
}

impl TenantRow {
    pub fn spec(&self, agents: Option<Vec<AgentSpec>>) -> Result<TenantSpec, StoreError> {
        Ok(TenantSpec {
            display_name: self.display_name.clone(),
            region: self.region.clone(),
            tier: Tier::parse(&self.tier).ok_or_else(|| StoreError::Corrupt {
                what: format!("tenant/{}", self.name),
                message: format!("unknown tier {:?}", self.tier),
            })?,
            agents,
        })
    }

    pub fn status(&self) -> Status {
        Status {
            phase: Some(self.phase.clone()),
            observed_generation: self.observed_generation,
            conditions: serde_json::from_value::<Vec<Condition>>(self.conditions.clone())
                .unwrap_or_default(),
        }
    }

    /// The tenant as a manifest, agents inline, status included.
    pub fn to_manifest(&self, agents: &[AgentRow]) -> Result<Tenant, StoreError> {
        let specs = agents
            .iter()
            .map(AgentRow::spec)
            .collect::<Result<Vec<_>, _>>()?;
        let mut t = Tenant::new(&self.name, self.spec(Some(specs))?);
        t.status = Some(self.status());
        Ok(t)
    }
}

impl AgentRow {
    pub fn agent_kind(&self) -> Result<AgentKind, StoreError> {
        AgentKind::parse(&self.kind).ok_or_else(|| StoreError::Corrupt {
            what: format!("agent/{}/{}", self.tenant, self.kind),
            message: "unknown kind".into(),
        })
    }

    pub fn spec(&self) -> Result<AgentSpec, StoreError> {
        let integrations = self
            .integrations
            .iter()
            .map(|i| {
                Integration::parse(i).ok_or_else(|| StoreError::Corrupt {
                    what: format!("agent/{}/{}", self.tenant, self.kind),
                    message: format!("unknown integration {i:?}"),
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(AgentSpec {
            kind: self.agent_kind()?,
            model: self.model.clone(),
            desired_count: self.desired_count,
            cpu: self.cpu,
            memory: self.memory,
            image: self.image.clone(),
            integrations,
        })
    }

    pub fn status(&self) -> Status {
        Status {
            phase: Some(self.phase.clone()),
            observed_generation: self.observed_generation,
            conditions: serde_json::from_value::<Vec<Condition>>(self.conditions.clone())
                .unwrap_or_default(),
        }
    }

    pub fn to_manifest(&self) -> Result<Agent, StoreError> {
        let mut a = Agent::new(&self.tenant, self.spec()?);
        a.status = Some(self.status());
        Ok(a)
    }
}

pub async fn list_tenants(conn: &mut PgConnection) -> Result<Vec<TenantRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {TENANT_COLS} FROM openclaw.tenants ORDER BY name"
    ))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(tenant_from).collect::<Result<_, _>>()?)
}

pub async fn get_tenant(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<TenantRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {TENANT_COLS} FROM openclaw.tenants WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(tenant_from).transpose()?)
}

/// Locks the tenant row for the rest of the transaction.
pub async fn lock_tenant(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<TenantRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {TENANT_COLS} FROM openclaw.tenants WHERE name = $1 FOR UPDATE"
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(tenant_from).transpose()?)
}

pub async fn list_agents(
    conn: &mut PgConnection,
    tenant: Option<&str>,
) -> Result<Vec<AgentRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {AGENT_COLS} FROM openclaw.agents WHERE ($1::text IS NULL OR tenant = $1) \
         ORDER BY tenant, kind"
    ))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(agent_from).collect::<Result<_, _>>()?)
}

pub async fn insert_tenant(
    conn: &mut PgConnection,
    name: &str,
    spec: &TenantSpec,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO openclaw.tenants (name, display_name, region, tier) VALUES ($1, $2, $3, $4)",
    )
    .bind(name)
    .bind(&spec.display_name)
    .bind(&spec.region)
    .bind(spec.tier.as_str())
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn update_tenant_spec(
    conn: &mut PgConnection,
    name: &str,
    spec: &TenantSpec,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE openclaw.tenants SET display_name = $2, region = $3, tier = $4 WHERE name = $1",
    )
    .bind(name)
    .bind(&spec.display_name)
    .bind(&spec.region)
    .bind(spec.tier.as_str())
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

fn integration_strings(spec: &AgentSpec) -> Vec<String> {
    spec.integrations
        .iter()
        .map(|i| i.as_str().to_owned())
        .collect()
}

pub async fn insert_agent(
    conn: &mut PgConnection,
    tenant: &str,
    spec: &AgentSpec,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO openclaw.agents (tenant, kind, model, desired_count, cpu, memory, image, \
         integrations) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant)
    .bind(spec.kind.as_str())
    .bind(&spec.model)
    .bind(spec.desired_count)
    .bind(spec.cpu)
    .bind(spec.memory)
    .bind(&spec.image)
    .bind(integration_strings(spec))
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn update_agent_spec(
    conn: &mut PgConnection,
    tenant: &str,
    spec: &AgentSpec,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE openclaw.agents SET model = $3, desired_count = $4, cpu = $5, memory = $6, \
         image = $7, integrations = $8 WHERE tenant = $1 AND kind = $2",
    )
    .bind(tenant)
    .bind(spec.kind.as_str())
    .bind(&spec.model)
    .bind(spec.desired_count)
    .bind(spec.cpu)
    .bind(spec.memory)
    .bind(&spec.image)
    .bind(integration_strings(spec))
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

/// What a DELETE did: removed the row at once, or marked it while finalizers remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    NotFound,
    Removed,
    Marked,
}

pub async fn delete_tenant(conn: &mut PgConnection, name: &str) -> Result<Deleted, StoreError> {
    let existed = get_tenant(conn, name).await?.is_some();
    if !existed {
        return Ok(Deleted::NotFound);
    }
    sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(if get_tenant(conn, name).await?.is_some() {
        Deleted::Marked
    } else {
        Deleted::Removed
    })
}

async fn agent_exists(
    conn: &mut PgConnection,
    tenant: &str,
    kind: AgentKind,
) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("SELECT 1 FROM openclaw.agents WHERE tenant = $1 AND kind = $2")
            .bind(tenant)
            .bind(kind.as_str())
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
    )
}

pub async fn delete_agent(
    conn: &mut PgConnection,
    tenant: &str,
    kind: AgentKind,
) -> Result<Deleted, StoreError> {
    if !agent_exists(conn, tenant, kind).await? {
        return Ok(Deleted::NotFound);
    }
    sqlx::query("DELETE FROM openclaw.agents WHERE tenant = $1 AND kind = $2")
        .bind(tenant)
        .bind(kind.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(if agent_exists(conn, tenant, kind).await? {
        Deleted::Marked
    } else {
        Deleted::Removed
    })
}

/// One entry of the operator's inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedResource {
    pub tenant: String,
    pub agent: Option<String>,
    pub kind: String,
    pub name: String,
    pub arn: Option<String>,
    pub spec_hash: Option<String>,
    pub drift_repairs: i64,
    pub last_error: Option<String>,
}

pub async fn managed_resources(
    conn: &mut PgConnection,
    tenant: &str,
) -> Result<Vec<ManagedResource>, StoreError> {
    let rows = sqlx::query(
        "SELECT tenant, agent, kind, name, arn, spec_hash, drift_repairs, last_error \
         FROM openclaw.managed_resources WHERE tenant = $1 ORDER BY kind, name",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ManagedResource {
                tenant: r.try_get("tenant")?,
                agent: r.try_get("agent")?,
                kind: r.try_get("kind")?,
                name: r.try_get("name")?,
                arn: r.try_get("arn")?,
                spec_hash: r.try_get("spec_hash")?,
                drift_repairs: r.try_get("drift_repairs")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// One audit entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry<'a> {
    pub tenant: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub resource_kind: Option<&'a str>,
    pub resource_name: Option<&'a str>,
    pub detail: serde_json::Value,
}

pub async fn append_audit(conn: &mut PgConnection, e: &AuditEntry<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO openclaw.audit_log (tenant, actor, action, resource_kind, resource_name, \
         detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, '', '')",
    )
    .bind(e.tenant)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.resource_kind)
    .bind(e.resource_name)
    .bind(&e.detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Reads the audit log in chain order, in the form `crds::audit` verifies.
pub async fn audit_rows(
    conn: &mut PgConnection,
    tenant: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<crds::audit::AuditRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT * FROM (SELECT seq, ((extract(epoch FROM at) * 1000000)::bigint) AS at_micros, \
         tenant, actor, action, resource_kind, resource_name, detail::text AS detail, prev_hash, \
         hash FROM openclaw.audit_log WHERE ($1::text IS NULL OR tenant = $1) \
         ORDER BY seq DESC LIMIT $2) r ORDER BY seq",
    )
    .bind(tenant)
    .bind(limit.unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(crds::audit::AuditRow {
                seq: r.try_get("seq")?,
                at_micros: r.try_get("at_micros")?,
                tenant: r.try_get("tenant")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                resource_kind: r.try_get("resource_kind")?,
                resource_name: r.try_get("resource_name")?,
                detail: r.try_get("detail")?,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Records (or refreshes) a resource the operator manages; `repair` counts a drift repair.
pub async fn remember_resource(
    conn: &mut PgConnection,
    tenant: &str,
    agent: Option<&str>,
    kind: &str,
    name: &str,
    arn: Option<&str>,
    repair: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO openclaw.managed_resources (tenant, agent, kind, name, arn, last_observed_at, \
         drift_repairs) VALUES ($1, $2, $3, $4, $5, now(), $6) \
         ON CONFLICT (kind, name) DO UPDATE SET arn = coalesce(EXCLUDED.arn, managed_resources.arn), \
         last_observed_at = now(), updated_at = now(), last_error = NULL, \
         drift_repairs = managed_resources.drift_repairs + EXCLUDED.drift_repairs",
    )
    .bind(tenant)
    .bind(agent)
    .bind(kind)
    .bind(name)
    .bind(arn)
    .bind(i64::from(repair))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn forget_resource(
    conn: &mut PgConnection,
    kind: &str,
    name: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM openclaw.managed_resources WHERE kind = $1 AND name = $2")
        .bind(kind)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Keeps the last error against the resource (the message carries no secret: it is an AWS
/// code and message, or a PostgreSQL error, never a request body).
pub async fn note_resource_error(
    conn: &mut PgConnection,
    tenant: &str,
    kind: &str,
    name: &str,
    error: &str,
) -> Result<(), StoreError> {
    let error: String = error.chars().take(500).collect();
    sqlx::query(
        "INSERT INTO openclaw.managed_resources (tenant, kind, name, last_error) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (kind, name) DO UPDATE SET last_error = $4, \
         updated_at = now()",
    )
    .bind(tenant)
    .bind(kind)
    .bind(name)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// (kind, name) of every resource the inventory lists for `tenant`.
pub async fn inventory_names(
    conn: &mut PgConnection,
    tenant: &str,
) -> Result<std::collections::BTreeSet<(String, String)>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, name FROM openclaw.managed_resources WHERE tenant = $1 AND arn IS NOT NULL",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

pub async fn forget_tenant_resources(
    conn: &mut PgConnection,
    tenant: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM openclaw.managed_resources WHERE tenant = $1")
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Adds (`add`) or removes the operator's finalizer on a tenant (`kind = None`) or one agent.
/// Removing the last finalizer of a row marked for deletion deletes it (store trigger).
async fn set_finalizer(
    conn: &mut PgConnection,
    tenant: &str,
    kind: Option<&str>,
    add: bool,
) -> Result<(), StoreError> {
    let change = if add {
        "array_append(finalizers, $3)"
    } else {
        "array_remove(finalizers, $3)"
    };
    let only_when = if add {
        " AND NOT ($3 = ANY (finalizers))"
    } else {
        ""
    };
    let sql = match kind {
        None => format!(
            "UPDATE openclaw.tenants SET finalizers = {change} \
             WHERE name = $1 AND $2::text IS NULL{only_when}"
        ),
        Some(_) => format!(
            "UPDATE openclaw.agents SET finalizers = {change} \
             WHERE tenant = $1 AND kind = $2{only_when}"
        ),
    };
    sqlx::query(&sql)
        .bind(tenant)
        .bind(kind)
        .bind(FINALIZER)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn add_tenant_finalizer(conn: &mut PgConnection, name: &str) -> Result<(), StoreError> {
    set_finalizer(conn, name, None, true).await
}

pub async fn add_agent_finalizer(
    conn: &mut PgConnection,
    tenant: &str,
    kind: &str,
) -> Result<(), StoreError> {
    set_finalizer(conn, tenant, Some(kind), true).await
}

pub async fn remove_tenant_finalizer(
    conn: &mut PgConnection,
    name: &str,
) -> Result<(), StoreError> {
    set_finalizer(conn, name, None, false).await
}

pub async fn remove_agent_finalizer(
    conn: &mut PgConnection,
    tenant: &str,
    kind: &str,
) -> Result<(), StoreError> {
    set_finalizer(conn, tenant, Some(kind), false).await
}

/// Status of a tenant as the operator computed it.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantStatus {
    pub phase: String,
    pub observed_generation: i64,
    pub conditions: Vec<Condition>,
    pub message: Option<String>,
}

pub async fn write_tenant_status(
    conn: &mut PgConnection,
    name: &str,
    status: &TenantStatus,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE openclaw.tenants SET phase = $2, observed_generation = $3, conditions = $4, \
         status_message = $5, status_updated_at = now() WHERE name = $1",
    )
    .bind(name)
    .bind(&status.phase)
    .bind(status.observed_generation)
    .bind(serde_json::to_value(&status.conditions).unwrap_or_default())
    .bind(&status.message)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn write_agent_status(
    conn: &mut PgConnection,
    tenant: &str,
    kind: &str,
    status: &TenantStatus,
    running_count: Option<i32>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE openclaw.agents SET phase = $3, observed_generation = $4, conditions = $5, \
         status_message = $6, running_count = $7, status_updated_at = now() \
         WHERE tenant = $1 AND kind = $2",
    )
    .bind(tenant)
    .bind(kind)
    .bind(&status.phase)
    .bind(status.observed_generation)
    .bind(serde_json::to_value(&status.conditions).unwrap_or_default())
    .bind(&status.message)
    .bind(running_count)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Names of every tenant, for the periodic poll and resync.
pub async fn tenant_names(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT name FROM openclaw.tenants ORDER BY name")
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Tenants whose spec changed since the operator last observed them (or being deleted).
pub async fn tenants_needing_work(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT t.name FROM openclaw.tenants t WHERE t.generation <> t.observed_generation \
         OR t.deletion_requested_at IS NOT NULL OR t.phase NOT IN ('Ready', 'Failed') \
         OR EXISTS (SELECT 1 FROM openclaw.agents a WHERE a.tenant = t.name AND \
           (a.generation <> a.observed_generation OR a.deletion_requested_at IS NOT NULL)) \
         ORDER BY t.name",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Tenants by phase, for the metrics.
pub async fn phase_counts(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as(
            "SELECT phase, count(*) FROM openclaw.tenants GROUP BY phase ORDER BY phase",
        )
        .fetch_all(&mut *conn)
        .await?,
    )
}

/// Takes or renews the lease `name` for `holder`; true while `holder` holds it.
pub async fn try_lease(
    conn: &mut PgConnection,
    name: &str,
    holder: &str,
    duration: Duration,
) -> Result<bool, StoreError> {
    let secs = duration.as_secs_f64();
    let row: Option<(String,)> = sqlx::query_as(
        "INSERT INTO openclaw.leases AS l (name, holder, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3)) \
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, \
           renewed_at = now(), expires_at = EXCLUDED.expires_at, \
           acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END \
         WHERE l.holder = EXCLUDED.holder OR l.expires_at < now() \
         RETURNING holder",
    )
    .bind(name)
    .bind(holder)
    .bind(secs)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some_and(|(h,)| h == holder))
}

pub async fn release_lease(
    conn: &mut PgConnection,
    name: &str,
    holder: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM openclaw.leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The operator's current task definition revision per family: family → ARN.
pub async fn own_task_definitions(
    conn: &mut PgConnection,
) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, arn FROM openclaw.managed_resources \
         WHERE kind = 'task_definition' AND arn IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// (tenant, kind, name) of every inventory entry with an ARN.
pub async fn all_inventory_names(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT tenant, kind, name FROM openclaw.managed_resources WHERE arn IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Records the orphans seen now (forgetting those no longer orphaned) and returns each one's
/// age in seconds, by (kind, name).
pub async fn track_orphans(
    conn: &mut PgConnection,
    seen: &[(String, String)],
) -> Result<std::collections::BTreeMap<(String, String), f64>, StoreError> {
    let kinds: Vec<String> = seen.iter().map(|(k, _)| k.clone()).collect();
    let names: Vec<String> = seen.iter().map(|(_, n)| n.clone()).collect();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query(
        "DELETE FROM openclaw.orphans o WHERE NOT EXISTS \
         (SELECT 1 FROM unnest($1::text[], $2::text[]) s(kind, name) \
          WHERE s.kind = o.kind AND s.name = o.name)",
    )
    .bind(&kinds)
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    let rows: Vec<(String, String, f64)> = sqlx::query_as(
        "INSERT INTO openclaw.orphans AS o (kind, name) \
         SELECT * FROM unnest($1::text[], $2::text[]) \
         ON CONFLICT (kind, name) DO UPDATE SET last_seen = now() \
         RETURNING o.kind, o.name, extract(epoch FROM now() - o.first_seen)::float8",
    )
    .bind(&kinds)
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|(k, n, age)| ((k, n), age)).collect())
}

pub async fn forget_orphans(
    conn: &mut PgConnection,
    resources: &[(String, String)],
) -> Result<(), StoreError> {
    for (kind, name) in resources {
        sqlx::query("DELETE FROM openclaw.orphans WHERE kind = $1 AND name = $2")
            .bind(kind)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Agents by (tenant, kind, phase), for the metrics.
pub async fn agent_counts(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT tenant, kind, CASE WHEN deletion_requested_at IS NOT NULL THEN 'Deleting' \
         ELSE phase END, count(*) FROM openclaw.agents GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Seconds each tenant has not been Ready: since its Ready condition turned False, or since it
/// was created; 0 while Ready.
pub async fn not_ready_seconds(conn: &mut PgConnection) -> Result<Vec<(String, f64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT name, CASE WHEN phase = 'Ready' THEN 0 ELSE extract(epoch FROM now() - coalesce( \
           (SELECT (c->>'lastTransitionTime')::timestamptz FROM jsonb_array_elements(conditions) c \
            WHERE c->>'type' = 'Ready' AND c->>'status' = 'False' LIMIT 1), created_at))::float8 END \
         FROM openclaw.tenants ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Records running task counts seen by the resync (only rows whose count changed are written).
pub async fn set_running_counts(
    conn: &mut PgConnection,
    counts: &[(String, String, i32)],
) -> Result<(), StoreError> {
    let tenants: Vec<&str> = counts.iter().map(|c| c.0.as_str()).collect();
    let kinds: Vec<&str> = counts.iter().map(|c| c.1.as_str()).collect();
    let running: Vec<i32> = counts.iter().map(|c| c.2).collect();
    sqlx::query(
        "UPDATE openclaw.agents a SET running_count = s.running \
         FROM unnest($1::text[], $2::text[], $3::int[]) s(tenant, kind, running) \
         WHERE a.tenant = s.tenant AND a.kind = s.kind \
           AND a.running_count IS DISTINCT FROM s.running",
    )
    .bind(&tenants)
    .bind(&kinds)
    .bind(&running)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn write_cell(
    conn: &mut PgConnection,
    name: &str,
    details: &serde_json::Value,
    reasons: &[&str],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO openclaw.cells (name, details, phase, reasons, checked_at) \
         VALUES ($1, $2, $3, $4, now()) ON CONFLICT (name) DO UPDATE SET details = $2, \
         phase = $3, reasons = $4, checked_at = now()",
    )
    .bind(name)
    .bind(details)
    .bind(if reasons.is_empty() {
        "Ready"
    } else {
        "Degraded"
    })
    .bind(reasons)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// (details, phase, reasons, checked at) of a cell.
pub async fn get_cell(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<(serde_json::Value, String, Vec<String>, DateTime<Utc>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT details, phase, reasons, checked_at FROM openclaw.cells WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?)
}
