//! Tenant and agent rows: specs as `apply` writes them, and the finalizers.
//!
//! Must never: write a spec column outside `apply`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use crds::api::{
    Agent, AgentKind, AgentSpec, Condition, Integration, Status, Tenant, TenantSpec, Tier,
};
use crds::naming::{DbName, TenantName, TenantRef};
use sqlx::{PgConnection, Row};

use super::*;

/// A tenant row: spec, bookkeeping and status.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantRow {
    pub name: String,
    /// The tenant's role and schema in the tenant database (`crds::naming::DbName`).
    pub db_name: String,
    pub display_name: String,
    pub region: String,
    pub tier: String,
    /// Observe only (`spec.paused`).
    pub paused: bool,
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
    /// `spec.schedules` as stored (a JSON array).
    pub schedules: serde_json::Value,
    pub generation: i64,
    pub finalizers: Vec<String>,
    pub deletion_requested_at: Option<DateTime<Utc>>,
    pub phase: String,
    pub observed_generation: i64,
    pub conditions: serde_json::Value,
    pub running_count: Option<i32>,
    pub status_message: Option<String>,
}

pub(super) const TENANT_COLS: &str =
    "name, db_name, display_name, region, tier, paused, generation, finalizers, \
    deletion_requested_at, created_at, phase, observed_generation, conditions, status_message";
pub(super) const AGENT_COLS: &str =
    "tenant, kind, model, desired_count, cpu, memory, image, integrations, schedules, \
    generation, finalizers, deletion_requested_at, phase, observed_generation, conditions, \
    running_count, status_message";

pub(super) fn tenant_from(row: &sqlx::postgres::PgRow) -> Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        name: row.try_get("name")?,
        db_name: row.try_get("db_name")?,
        display_name: row.try_get("display_name")?,
        region: row.try_get("region")?,
        tier: row.try_get("tier")?,
        paused: row.try_get("paused")?,
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

pub(super) fn agent_from(row: &sqlx::postgres::PgRow) -> Result<AgentRow, sqlx::Error> {
    Ok(AgentRow {
        tenant: row.try_get("tenant")?,
        kind: row.try_get("kind")?,
        model: row.try_get("model")?,
        desired_count: row.try_get("desired_count")?,
        cpu: row.try_get("cpu")?,
        memory: row.try_get("memory")?,
        image: row.try_get("image")?,
        integrations: row.try_get("integrations")?,
        schedules: row.try_get("schedules")?,
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
    /// The tenant by name and database name, both checked against their naming rules.
    pub fn tenant_ref(&self) -> Result<TenantRef, StoreError> {
        let corrupt = |message: String| StoreError::Corrupt {
            what: format!("tenant/{}", self.name),
            message,
        };
        let name = TenantName::parse(&self.name).map_err(|e| corrupt(format!("name {e}")))?;
        let db = DbName::parse(&self.db_name).map_err(|e| corrupt(format!("db_name {e}")))?;
        Ok(TenantRef::new(name, db))
    }

    pub fn spec(&self, agents: Option<Vec<AgentSpec>>) -> Result<TenantSpec, StoreError> {
        Ok(TenantSpec {
            display_name: self.display_name.clone(),
            region: self.region.clone(),
            tier: Tier::parse(&self.tier).ok_or_else(|| StoreError::Corrupt {
                what: format!("tenant/{}", self.name),
                message: format!("unknown tier {:?}", self.tier),
            })?,
            agents,
            paused: self.paused,
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
        let schedules =
            serde_json::from_value(self.schedules.clone()).map_err(|e| StoreError::Corrupt {
                what: format!("agent/{}/{}", self.tenant, self.kind),
                message: format!("schedules: {e}"),
            })?;
        Ok(AgentSpec {
            kind: self.agent_kind()?,
            model: self.model.clone(),
            desired_count: self.desired_count,
            cpu: self.cpu,
            memory: self.memory,
            image: self.image.clone(),
            integrations,
            schedules,
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
    one_tenant(conn, name, "").await
}

/// Locks the tenant row for the rest of the transaction.
pub async fn lock_tenant(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<TenantRow>, StoreError> {
    one_tenant(conn, name, " FOR UPDATE").await
}

async fn one_tenant(
    conn: &mut PgConnection,
    name: &str,
    lock: &str,
) -> Result<Option<TenantRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {TENANT_COLS} FROM openclaw.tenants WHERE name = $1{lock}"
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
        "INSERT INTO openclaw.tenants (name, display_name, region, tier, paused) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(name)
    .bind(&spec.display_name)
    .bind(&spec.region)
    .bind(spec.tier.as_str())
    .bind(spec.paused)
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
        "UPDATE openclaw.tenants SET display_name = $2, region = $3, tier = $4, paused = $5 \
         WHERE name = $1",
    )
    .bind(name)
    .bind(&spec.display_name)
    .bind(&spec.region)
    .bind(spec.tier.as_str())
    .bind(spec.paused)
    .execute(&mut *conn)
    .await
    .map_err(classify)?;
    Ok(())
}

pub(super) fn integration_strings(spec: &AgentSpec) -> Vec<String> {
    spec.integrations
        .iter()
        .map(|i| i.as_str().to_owned())
        .collect()
}

pub(super) fn schedules_json(spec: &AgentSpec) -> serde_json::Value {
    serde_json::to_value(&spec.schedules).unwrap_or_else(|_| serde_json::json!([]))
}

pub async fn insert_agent(
    conn: &mut PgConnection,
    tenant: &str,
    spec: &AgentSpec,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO openclaw.agents (tenant, kind, model, desired_count, cpu, memory, image, \
         integrations, schedules) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant)
    .bind(spec.kind.as_str())
    .bind(&spec.model)
    .bind(spec.desired_count)
    .bind(spec.cpu)
    .bind(spec.memory)
    .bind(&spec.image)
    .bind(integration_strings(spec))
    .bind(schedules_json(spec))
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
         image = $7, integrations = $8, schedules = $9 WHERE tenant = $1 AND kind = $2",
    )
    .bind(tenant)
    .bind(spec.kind.as_str())
    .bind(&spec.model)
    .bind(spec.desired_count)
    .bind(spec.cpu)
    .bind(spec.memory)
    .bind(&spec.image)
    .bind(integration_strings(spec))
    .bind(schedules_json(spec))
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

pub(super) async fn agent_exists(
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

/// Adds (`add`) or removes the operator's finalizer on a tenant (`kind = None`) or one agent.
/// Removing the last finalizer of a row marked for deletion deletes it (store trigger).
pub(super) async fn set_finalizer(
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
