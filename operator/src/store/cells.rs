//! Leader leases, resync requests to the leader, and the cell record.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::*;

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

/// Who holds the lease `name` now, if anyone.
pub async fn lease_holder(
    conn: &mut PgConnection,
    name: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT holder FROM openclaw.leases WHERE name = $1 AND expires_at > now()",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Asks the holder of `lease` for a resync; returns the request's id.
pub async fn request_resync(
    conn: &mut PgConnection,
    lease: &str,
    by: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO openclaw.resync_requests (lease, requested_by) VALUES ($1, $2) RETURNING id",
    )
    .bind(lease)
    .bind(by)
    .fetch_one(&mut *conn)
    .await?)
}

/// The leader takes every open request of its lease at once (one pass answers them all);
/// returns their ids.
pub async fn claim_resync_requests(
    conn: &mut PgConnection,
    lease: &str,
    holder: &str,
) -> Result<Vec<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE openclaw.resync_requests SET started_by = $2, started_at = now() \
         WHERE lease = $1 AND started_at IS NULL RETURNING id",
    )
    .bind(lease)
    .bind(holder)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn finish_resync_requests(
    conn: &mut PgConnection,
    ids: &[i64],
    report: Option<&serde_json::Value>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE openclaw.resync_requests SET finished_at = now(), report = $2, error = $3 \
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(report)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A request's answer once it is finished: (report, error).
pub async fn resync_answer(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<(Option<serde_json::Value>, Option<String>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT report, error FROM openclaw.resync_requests WHERE id = $1 AND finished_at IS NOT NULL",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
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
