//! The session guard: ends tenant database sessions that run a statement, or sit idle in a
//! transaction, past their tier's limits. A tenant's session can `SET statement_timeout = 0`; it
//! cannot stop the operator from ending it (`pg_terminate_backend`). Each end is counted in
//! `openclaw_tenant_sessions_ended_total` and written to the audit log.
//!
//! Owns: which sessions overran and ending them. Must never: end a session of any role but a
//! tenant role of this store's tenants, or log a session's query text.

use std::collections::BTreeMap;
use std::time::Duration;

use crds::api::{SessionLimits, Tier};
use crds::naming::DbName;
use sqlx::PgPool;

use crate::error::Result;
use crate::kind::Kind;
use crate::metrics::Metrics;
use crate::store::{self, AuditEntry};

/// Why a session was ended: the label of the metric and the audit detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overrun {
    Statement,
    IdleInTransaction,
}

impl Overrun {
    pub fn as_str(self) -> &'static str {
        match self {
            Overrun::Statement => "statement",
            Overrun::IdleInTransaction => "idle_in_transaction",
        }
    }
}

/// One session as `pg_stat_activity` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub pid: i32,
    pub role: String,
    /// `active`, `idle in transaction`, …
    pub state: String,
    /// How long it has been in that state.
    pub seconds: f64,
}

/// The overrun of `s` under `limits`, if any (pure).
pub fn overrun(s: &Session, limits: &SessionLimits) -> Option<Overrun> {
    let over = |limit: Duration| s.seconds > limit.as_secs_f64();
    match s.state.as_str() {
        "active" if over(limits.statement) => Some(Overrun::Statement),
        "idle in transaction" | "idle in transaction (aborted)"
            if over(limits.idle_in_transaction) =>
        {
            Some(Overrun::IdleInTransaction)
        }
        _ => None,
    }
}

/// One pass: every session of a tenant role that overran its tier's limits is ended. `limits`
/// maps a tier to its limits (the tier's own, except in tests). Returns the sessions ended.
pub async fn sweep(
    control: &PgPool,
    tenant_db: &PgPool,
    metrics: &Metrics,
    actor: &str,
    limits: impl Fn(Tier) -> SessionLimits,
) -> Result<usize> {
    let mut conn = control.acquire().await.map_err(store::StoreError::from)?;
    let mut tenant_conn = tenant_db.acquire().await.map_err(store::StoreError::from)?;
    let mut by_role: BTreeMap<String, (String, SessionLimits)> = BTreeMap::new();
    for (tenant, db_name, tier) in store::tenant_tiers(&mut conn).await? {
        let (Ok(db), Some(tier)) = (DbName::parse(&db_name), Tier::parse(&tier)) else {
            continue;
        };
        by_role.insert(db.role().to_owned(), (tenant, limits(tier)));
    }
    if by_role.is_empty() {
        return Ok(0);
    }
    let roles: Vec<String> = by_role.keys().cloned().collect();
    let sessions: Vec<(i32, String, String, f64)> = sqlx::query_as(
        "SELECT pid, usename::text, state, \
           extract(epoch FROM now() - CASE WHEN state = 'active' THEN query_start \
             ELSE state_change END)::float8 \
         FROM pg_stat_activity \
         WHERE usename = ANY($1) AND pid <> pg_backend_pid() AND state IS NOT NULL",
    )
    .bind(&roles)
    .fetch_all(&mut *tenant_conn)
    .await
    .map_err(store::StoreError::from)?;
    let mut ended = 0;
    for (pid, role, state, seconds) in sessions {
        let s = Session {
            pid,
            role,
            state,
            seconds,
        };
        let Some((tenant, limits)) = by_role.get(&s.role) else {
            continue;
        };
        let Some(why) = overrun(&s, limits) else {
            continue;
        };
        // The pid is checked against the role again: it may have ended and been reused.
        let done: Option<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND usename = $2",
        )
        .bind(s.pid)
        .bind(&s.role)
        .fetch_optional(&mut *tenant_conn)
        .await
        .map_err(store::StoreError::from)?;
        if done != Some(true) {
            continue;
        }
        ended += 1;
        metrics
            .tenant_sessions_ended
            .with_label_values(&[why.as_str()])
            .inc();
        tracing::warn!(tenant = %tenant, pid = s.pid, reason = why.as_str(), seconds = s.seconds, "ended a tenant database session past its tier's limit");
        let limit = match why {
            Overrun::Statement => limits.statement,
            Overrun::IdleInTransaction => limits.idle_in_transaction,
        };
        store::append_audit(
            &mut conn,
            &AuditEntry {
                tenant: Some(tenant),
                actor,
                action: "terminate",
                resource_kind: Some(Kind::PgRole.as_str()),
                resource_name: Some(&s.role),
                detail: serde_json::json!({
                    "reason": why.as_str(),
                    "seconds": s.seconds.round(),
                    "limit_seconds": limit.as_secs(),
                    "security": true,
                }),
            },
        )
        .await?;
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_overruns_past_the_limit_end_a_session() {
        let limits = SessionLimits {
            statement: Duration::from_secs(60),
            idle_in_transaction: Duration::from_secs(30),
        };
        let s = |state: &str, seconds: f64| Session {
            pid: 1,
            role: "tenant_a".into(),
            state: state.into(),
            seconds,
        };
        let cases = [
            (s("active", 59.0), None),
            (s("active", 61.0), Some(Overrun::Statement)),
            (s("idle in transaction", 29.0), None),
            (
                s("idle in transaction", 31.0),
                Some(Overrun::IdleInTransaction),
            ),
            (
                s("idle in transaction (aborted)", 31.0),
                Some(Overrun::IdleInTransaction),
            ),
            // An idle session holds nothing; its connection slot is bounded by the role's limit.
            (s("idle", 3600.0), None),
        ];
        for (session, want) in cases {
            assert_eq!(overrun(&session, &limits), want, "{session:?}");
        }
    }

    #[test]
    fn every_tier_bounds_both_statements_and_idle_transactions() {
        for t in Tier::ALL {
            let l = t.session_limits();
            assert!(l.statement > Duration::ZERO && l.idle_in_transaction > Duration::ZERO);
        }
    }
}
