//! The append-only, hash-chained audit log.
//!
//! Must never: put a secret into a row.

use sqlx::{PgConnection, Row};

use super::*;

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
