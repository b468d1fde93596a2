//! The one-off split of a single database (every release before the control store had a database
//! of its own) into the control store and the tenant database. The old database stays the tenant
//! database, so agents' connection details do not change; schema `openclaw` moves to the new,
//! empty control store.
//!
//! Owns: checking that the split may run, copying the control tables, verifying the copy, and
//! only then dropping them from the old database. Must never: drop anything before the copy is
//! committed and counted, run beside a live operator, or copy into a control store that holds
//! other data.

use std::fmt;

use futures_util::TryStreamExt;
use sqlx::{PgConnection, PgPool};

use super::{has_schema, migrate_control, StoreError};

/// The last migration of the single-database layout: the old database must have run it.
pub const LAST_SINGLE_DATABASE_VERSION: i64 = 11;

/// The control tables, parents before children (agents reference tenants). `audit_append_lock`
/// is there too, but its one row is made by the migrations, not copied.
pub const COPIED_TABLES: [&str; 8] = [
    "cells",
    "tenants",
    "agents",
    "managed_resources",
    "orphans",
    "fargate_usage",
    "leases",
    "audit_log",
];
const MADE_BY_MIGRATIONS: &str = "audit_append_lock";

/// What the split did: the rows copied per table, or that there was nothing left to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitReport {
    pub copied: Vec<(String, i64)>,
    /// The copy had been committed by an earlier, interrupted run; only the removal was left.
    pub resumed: bool,
    /// The tenant database held no control store: already split.
    pub already_split: bool,
}

impl fmt::Display for SplitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.already_split {
            return write!(
                f,
                "already split: the tenant database holds no control store"
            );
        }
        let rows: Vec<String> = self
            .copied
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        write!(
            f,
            "control store split out{}: {}; schema openclaw removed from the tenant database",
            if self.resumed { " (resumed)" } else { "" },
            rows.join(", ")
        )
    }
}

fn layout(message: impl Into<String>) -> StoreError {
    StoreError::Layout(message.into())
}

/// Rows per copied table, and the audit chain's head hash.
async fn fingerprint(
    conn: &mut PgConnection,
) -> Result<(Vec<(String, i64)>, Option<Vec<u8>>), StoreError> {
    let mut counts = Vec::new();
    for t in COPIED_TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM openclaw.{t}"))
            .fetch_one(&mut *conn)
            .await?;
        counts.push((t.to_owned(), n));
    }
    let head: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT hash FROM openclaw.audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok((counts, head))
}

/// Copies schema `openclaw` from `old` (the old single database, from now on the tenant database)
/// into `control` (new and empty), then removes it from `old`. Resumable: a run that stopped after
/// the copy committed finishes the removal.
pub async fn split_control_store(
    control: &PgPool,
    old: &PgPool,
) -> Result<SplitReport, StoreError> {
    if has_schema(control, "shared").await? {
        return Err(layout(
            "database_url names the old single database (it holds schema shared): it stays the \
             tenant database (tenant_database_url), and database_url names a new, empty database",
        ));
    }
    if !has_schema(old, "openclaw").await? {
        return Ok(SplitReport {
            copied: Vec::new(),
            resumed: false,
            already_split: true,
        });
    }
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(old)
            .await?;
    let needed: Vec<i64> = crds::CONTROL_MIGRATOR
        .iter()
        .chain(crds::TENANT_MIGRATOR.iter())
        .map(|m| m.version)
        .filter(|v| *v <= LAST_SINGLE_DATABASE_VERSION && !applied.contains(v))
        .collect();
    if !needed.is_empty() {
        let mut needed = needed;
        needed.sort();
        return Err(layout(format!(
            "the old database has not run migrations {needed:?}: run `openclaw migrate` of the \
             last single-database release first"
        )));
    }
    let mut tables: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class WHERE relnamespace = 'openclaw'::regnamespace \
         AND relkind IN ('r', 'p') ORDER BY relname",
    )
    .fetch_all(old)
    .await?;
    let mut known: Vec<String> = COPIED_TABLES.iter().map(|t| t.to_string()).collect();
    known.push(MADE_BY_MIGRATIONS.into());
    known.sort();
    tables.sort();
    if tables != known {
        return Err(layout(format!(
            "schema openclaw of the old database has tables {tables:?}, not the {known:?} this \
             release knows how to move"
        )));
    }
    let mut src = old.begin().await?;
    // The snapshot is taken at the first read, so the lock comes first: no writer may commit
    // between what is copied and what is dropped. Readers may go on. The copy may outlast the
    // session limits `connect` sets.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *src)
        .await?;
    no_session_limits(&mut src).await?;
    let list = COPIED_TABLES
        .iter()
        .map(|t| format!("openclaw.{t}"))
        .collect::<Vec<_>>()
        .join(", ");
    if let Err(e) = sqlx::query(&format!("LOCK TABLE {list} IN EXCLUSIVE MODE NOWAIT"))
        .execute(&mut *src)
        .await
    {
        if let sqlx::Error::Database(d) = &e {
            if d.code().as_deref() == Some("55P03") {
                return Err(layout(
                    "another session writes to the control tables: stop every operator first",
                ));
            }
        }
        return Err(e.into());
    }
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM openclaw.leases WHERE expires_at > now()")
            .fetch_one(&mut *src)
            .await?;
    if live > 0 {
        return Err(layout(
            "an operator holds a live lease in the old database: stop every operator first, \
             and wait for its lease to expire",
        ));
    }
    let (counts, head) = fingerprint(&mut src).await?;

    migrate_control(control).await?;
    let mut dst = control.begin().await?;
    no_session_limits(&mut dst).await?;
    let (have, have_head) = fingerprint(&mut dst).await?;
    let resumed = if have.iter().all(|(_, n)| *n == 0) {
        for t in COPIED_TABLES {
            copy_table(&mut src, &mut dst, t).await?;
        }
        let (copied, copied_head) = fingerprint(&mut dst).await?;
        if copied != counts || copied_head != head {
            return Err(layout(format!(
                "the copy does not match the old database (copied {copied:?}, old {counts:?}); \
                 nothing was changed"
            )));
        }
        dst.commit().await?;
        false
    } else if have == counts && have_head == head {
        dst.rollback().await?;
        true
    } else {
        return Err(layout(
            "the control store already holds other data: the split copies into an empty database",
        ));
    };

    let control_versions: Vec<i64> = crds::CONTROL_MIGRATOR.iter().map(|m| m.version).collect();
    sqlx::query("DROP SCHEMA openclaw CASCADE")
        .execute(&mut *src)
        .await?;
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ANY($1)")
        .bind(&control_versions)
        .execute(&mut *src)
        .await?;
    src.commit().await?;
    Ok(SplitReport {
        copied: counts,
        resumed,
        already_split: false,
    })
}

/// The split's two transactions run as long as the copy takes.
async fn no_session_limits(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; \
         SET LOCAL idle_in_transaction_session_timeout = 0",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Copies one table's rows as they are (the audit chain's hashes included): its own triggers are
/// off for the copy, so nothing is renumbered, re-hashed or refused.
async fn copy_table(
    src: &mut PgConnection,
    dst: &mut PgConnection,
    table: &str,
) -> Result<(), StoreError> {
    let columns: String = sqlx::query_scalar(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute \
         WHERE attrelid = ('openclaw.' || $1)::regclass AND attnum > 0 AND NOT attisdropped \
         AND attgenerated = ''",
    )
    .bind(table)
    .fetch_one(&mut *src)
    .await?;
    sqlx::query(&format!(
        "ALTER TABLE openclaw.{table} DISABLE TRIGGER USER"
    ))
    .execute(&mut *dst)
    .await?;
    let mut sink = dst
        .copy_in_raw(&format!("COPY openclaw.{table} ({columns}) FROM STDIN"))
        .await?;
    {
        let mut out = src
            .copy_out_raw(&format!("COPY openclaw.{table} ({columns}) TO STDOUT"))
            .await?;
        while let Some(chunk) = out.try_next().await? {
            sink.send(chunk).await?;
        }
    }
    sink.finish().await?;
    if table == "tenants" && !columns.split(", ").any(|c| c == "db_name") {
        // Tenants onboarded before opaque database names keep the role and schema they have.
        sqlx::query("UPDATE openclaw.tenants SET db_name = 'tenant_' || replace(name, '-', '_')")
            .execute(&mut *dst)
            .await?;
    }
    sqlx::query(&format!("ALTER TABLE openclaw.{table} ENABLE TRIGGER USER"))
        .execute(&mut *dst)
        .await?;
    Ok(())
}
