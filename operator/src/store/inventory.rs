//! The inventory (`managed_resources`): what the operator created, its ARN, last error and
//! repairs, and the orphans it tracks.

use sqlx::{PgConnection, Row};

use super::*;

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

/// Whether the inventory holds anything for `tenant`: a resource made, or an error noted against
/// one.
pub async fn has_inventory(conn: &mut PgConnection, tenant: &str) -> Result<bool, StoreError> {
    let (any,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM openclaw.managed_resources WHERE tenant = $1)",
    )
    .bind(tenant)
    .fetch_one(&mut *conn)
    .await?;
    Ok(any)
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

/// (tenant, role) of every PostgreSQL role the operator made and has not dropped: whose a role is,
/// since its opaque name does not say.
pub async fn recorded_pg_roles(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT tenant, name FROM openclaw.managed_resources WHERE kind = 'pg_role' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Role → tenant for every PostgreSQL role the audit log says the operator created: the record
/// of last resort for a role the inventory lost (the audit log is never pruned).
pub async fn audited_pg_roles(
    conn: &mut PgConnection,
) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (resource_name) resource_name, tenant FROM openclaw.audit_log \
         WHERE resource_kind = 'pg_role' AND action = 'create' AND tenant IS NOT NULL \
         AND resource_name IS NOT NULL ORDER BY resource_name, seq DESC",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Which of `names` this store's audit log names as a tenant (the log is never pruned): the
/// tenants this control plane once had.
pub async fn audited_tenants(
    conn: &mut PgConnection,
    names: &[String],
) -> Result<std::collections::BTreeSet<String>, StoreError> {
    if names.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT tenant FROM openclaw.audit_log WHERE tenant = ANY($1::text[])",
    )
    .bind(names)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
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

/// Erases a deleted tenant's Fargate usage rows (its cost history); returns how many went.
pub async fn erase_fargate_usage(conn: &mut PgConnection, tenant: &str) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM openclaw.fargate_usage WHERE tenant = $1")
            .bind(tenant)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}
