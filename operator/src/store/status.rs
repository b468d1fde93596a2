//! Status written back by the reconcile, and the counts the gauges read.

use crds::api::Condition;
use sqlx::PgConnection;

use super::*;

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

/// The tenants that need a pass, each with its spec version: a text that changes whenever the
/// tenant's or any agent's spec changes, or a deletion is asked for (so the controller can tell
/// a new change from work it already queued).
pub async fn tenants_needing_work(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.name, concat_ws(':', t.generation, t.deletion_requested_at IS NOT NULL, \
           (SELECT string_agg(a.kind::text || '.' || a.generation || '.' || \
              (a.deletion_requested_at IS NOT NULL)::text, ',' ORDER BY a.kind) \
            FROM openclaw.agents a WHERE a.tenant = t.name)) \
         FROM openclaw.tenants t WHERE t.generation <> t.observed_generation \
         OR t.deletion_requested_at IS NOT NULL OR t.phase NOT IN ('Ready', 'Failed') \
         OR EXISTS (SELECT 1 FROM openclaw.agents a WHERE a.tenant = t.name AND \
           (a.generation <> a.observed_generation OR a.deletion_requested_at IS NOT NULL)) \
         ORDER BY t.name",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Every tenant's name, database name and tier (the session guard's input, read every few
/// seconds).
pub async fn tenant_tiers(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT name, db_name, tier FROM openclaw.tenants ORDER BY name")
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// Every tenant's database name and name: who a database role or a `shared.usage` row is.
pub async fn tenants_by_db_name(
    conn: &mut PgConnection,
) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT db_name, name FROM openclaw.tenants ORDER BY db_name")
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().collect())
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

/// Each tenant that is not Ready, with the Unix time it stopped being Ready: when its Ready
/// condition turned False, or when it was created.
pub async fn not_ready_since(conn: &mut PgConnection) -> Result<Vec<(String, f64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT name, extract(epoch FROM coalesce( \
           (SELECT (c->>'lastTransitionTime')::timestamptz FROM jsonb_array_elements(conditions) c \
            WHERE c->>'type' = 'Ready' AND c->>'status' = 'False' LIMIT 1), created_at))::float8 \
         FROM openclaw.tenants WHERE phase <> 'Ready' ORDER BY name",
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
