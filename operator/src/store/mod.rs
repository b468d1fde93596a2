//! The desired-state store (PostgreSQL schema `openclaw`, in the control database): the SQL the
//! operator and the CLI run against it (the isolation audit reads the catalogs on its own), with
//! the opening and migrating of both databases and the one-off split of a single database.
//!
//! Owns: reading specs, writing status, the inventory, the audit log, leases and the cell record,
//! one submodule each; and the gateway's API tokens, in the tenant database (`tokens`). Must
//! never: write a spec column outside `apply`, or put a secret into any row it writes.

use std::str::FromStr;
use std::time::Duration;

mod audit;
mod cells;
mod inventory;
mod specs;
mod split;
mod status;
mod tokens;

pub use audit::*;
pub use cells::*;
pub use inventory::*;
pub use specs::*;
pub use split::*;
pub use status::*;
pub use tokens::*;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

pub use crate::error::{classify, StoreError};
use crate::redact::{redact_text, redact_url};

/// The NOTIFY channel the store's triggers signal on.
pub const CHANNEL: &str = "openclaw_tenants";
/// The finalizer the operator puts on every tenant and agent it provisions.
pub const FINALIZER: &str = "openclaw.io/cloud-resources";

/// Limits on every statement of the operator's sessions: a lock someone else holds, or a runaway
/// statement, becomes a retryable error (`DatabaseTimeout`) instead of a hang.
pub const LOCK_TIMEOUT: &str = "5s";
pub const STATEMENT_TIMEOUT: &str = "60s";
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let shown = redact_url(url);
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
        url: shown.clone(),
        message: redact_text(&e.to_string()),
    })?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.application_name("openclaw").options([
            ("lock_timeout", LOCK_TIMEOUT),
            ("statement_timeout", STATEMENT_TIMEOUT),
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
        ]))
        .await
        .map_err(|source| StoreError::Connect { url: shown, source })
}

/// The operator's two databases. Tenants connect only to the second; the control store is closed
/// to them (no CONNECT), so nothing of it can be locked, heard, signalled or listed by a tenant.
#[derive(Clone)]
pub struct Databases {
    /// The control store (schema `openclaw`): specs, status, inventory, audit, leases, cells.
    pub control: PgPool,
    /// The cell's tenant database: tenant schemas and the `shared` tables.
    pub tenants: PgPool,
    /// The tenant database's connection string: agents' endpoint is derived from it.
    pub tenants_url: String,
}

/// Connects to both databases; with `migrate`, runs both migration sets. Refuses a layout from
/// before the split, or the two roles swapped, before changing anything.
pub async fn open(
    control_url: &str,
    tenants_url: &str,
    max_connections: u32,
    migrate: bool,
) -> Result<Databases, StoreError> {
    let dbs = Databases {
        control: connect(control_url, max_connections).await?,
        tenants: connect(tenants_url, max_connections.div_ceil(2).max(2)).await?,
        tenants_url: tenants_url.to_owned(),
    };
    check_layout(&dbs).await?;
    if identity(&dbs.control).await? == identity(&dbs.tenants).await? {
        return Err(StoreError::Layout(
            "database_url and tenant_database_url reach the same database: the control store \
             needs one of its own"
                .into(),
        ));
    }
    if migrate {
        migrate_control(&dbs.control).await?;
        end_sessions_without_connect(&dbs.control).await?;
        // sqlx serialises migrations on an advisory key, which any tenant session could hold;
        // the tenant database's are serialised in the control store instead.
        let mut lock = dbs.control.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(hashtext('openclaw: tenant migrations'))")
            .execute(&mut *lock)
            .await?;
        let migrated = migrate_tenants(&dbs.tenants).await;
        sqlx::query("SELECT pg_advisory_unlock(hashtext('openclaw: tenant migrations'))")
            .execute(&mut *lock)
            .await?;
        migrated?;
        check_layout(&dbs).await?;
    }
    Ok(dbs)
}

/// Which database a pool reaches, whatever the host was called: its name, its oid and the
/// server's start time.
async fn identity(pool: &PgPool) -> Result<(String, i64, String), StoreError> {
    Ok(sqlx::query_as(
        "SELECT current_database()::text, \
         (SELECT oid::bigint FROM pg_database WHERE datname = current_database()), \
         pg_postmaster_start_time()::text",
    )
    .fetch_one(pool)
    .await?)
}

/// Revoking CONNECT does not end a session opened before: any session of a role that may not
/// connect to the control store now is ended (superusers and the owner always may).
async fn end_sessions_without_connect(control: &PgPool) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND usesysid IS NOT NULL \
         AND NOT has_database_privilege(usesysid, current_database(), 'CONNECT')",
    )
    .execute(control)
    .await?;
    Ok(())
}

async fn has_schema(pool: &PgPool, schema: &str) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(pool)
            .await?,
    )
}

/// The control store holds no tenant data, and the tenant database no control store.
pub async fn check_layout(dbs: &Databases) -> Result<(), StoreError> {
    if has_schema(&dbs.control, "shared").await? {
        return Err(StoreError::Layout(
            "database_url names a database that holds tenant data (schema shared): before the \
             split, that database is the tenant database (tenant_database_url), and the control \
             store is a new, empty one; see docs/UPGRADE.md"
                .into(),
        ));
    }
    if has_schema(&dbs.tenants, "openclaw").await? {
        return Err(StoreError::Layout(
            "the tenant database still holds the control store (schema openclaw): run \
             `openclaw upgrade split-control-store` with the operator stopped; see docs/UPGRADE.md"
                .into(),
        ));
    }
    Ok(())
}

/// Migrations rewritten after they shipped, with the checksum of the version that shipped. The
/// rewrite has the same effect where the old one ran (0005 now skips, under a non-superuser, the
/// revoke only a superuser may do), so a database that ran the old one records the new checksum
/// instead of refusing to start.
pub const REWRITTEN: [(i64, &str); 1] = [(
    5,
    "b43479d813cd8f30a7ff107a35d86c3408965efa15f9feb00ab0aa4ba370860817f49a73fdcd40e03e9c3b75471a1850",
)];

async fn accept_rewritten_migrations(pool: &PgPool, migrator: &Migrator) -> Result<(), StoreError> {
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    if table.is_none() {
        return Ok(());
    }
    for (version, old) in REWRITTEN {
        let Some(m) = migrator.iter().find(|m| m.version == version) else {
            continue;
        };
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2 AND checksum = decode($3, 'hex')",
        )
        .bind(m.checksum.as_ref())
        .bind(version)
        .bind(old)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Missing versions are ignored, not foreign ones: a database that ran another set (or another
/// application's migrations) is not this set's to change.
async fn refuse_foreign_migrations(pool: &PgPool, migrator: &Migrator) -> Result<(), StoreError> {
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(pool)
        .await?;
    if table.is_none() {
        return Ok(());
    }
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(pool)
        .await?;
    let foreign: Vec<i64> = applied
        .into_iter()
        .filter(|v| !migrator.iter().any(|m| m.version == *v))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(StoreError::Layout(format!(
        "the database ran migrations {foreign:?}, which are not this database's: check \
         database_url and tenant_database_url (docs/UPGRADE.md)"
    )))
}

/// Runs the control store's migrations.
pub async fn migrate_control(pool: &PgPool) -> Result<(), StoreError> {
    run_migrations(pool, &crds::CONTROL_MIGRATOR, true).await
}

/// Runs the tenant database's migrations, without sqlx's lock: callers serialise them in the
/// control store, as `open` does.
pub async fn migrate_tenants(pool: &PgPool) -> Result<(), StoreError> {
    run_migrations(pool, &crds::TENANT_MIGRATOR, false).await
}

/// A set's own missing versions are ignored (the split leaves the tenant database only its own).
/// The tenant set runs without sqlx's advisory lock (see `open`). Databases of one server share their roles, so two
/// databases migrated at once can race on creating the same cluster-wide role; the loser's
/// migration rolls back whole and is run again, once the winner's role exists.
async fn run_migrations(pool: &PgPool, set: &Migrator, locking: bool) -> Result<(), StoreError> {
    let migrator = Migrator {
        migrations: set.migrations.clone(),
        ignore_missing: true,
        locking,
        ..Migrator::DEFAULT
    };
    accept_rewritten_migrations(pool, &migrator).await?;
    refuse_foreign_migrations(pool, &migrator).await?;
    let mut attempt = 0;
    loop {
        match migrator.run(pool).await {
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
