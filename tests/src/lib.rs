//! Shared harness for the end-to-end tests: a fresh database per test on the real PostgreSQL,
//! unique tenant names, and the local AWS emulator's address.
//!
//! The stack comes from `tests/run` (which sources `deploy/local/up.sh`); run alone, the tests
//! fall back to PostgreSQL at 127.0.0.1:5432.

use rand::Rng;
use sqlx::{Connection, PgConnection, PgPool};

/// The admin connection string of the PostgreSQL server the tests use.
pub fn admin_url() -> String {
    std::env::var("OPENCLAW_PG_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `prefix-xxxxxx`: a tenant name no other test uses (PostgreSQL roles are server-wide).
pub fn unique_name(prefix: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    format!("{prefix}-{suffix}")
}

/// A database of its own for one test, migrated.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let admin = admin_url();
        let name = unique_name("openclaw-t").replace('-', "_");
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("connect to the test PostgreSQL (is the stack up? see tests/run)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("admin URL has no database part"),
        };
        let pool = operator::store::connect(&url, 8).await.expect("connect");
        operator::store::migrate(&pool).await.expect("migrate");
        TestDb { name, url, pool }
    }

    pub async fn conn(&self) -> sqlx::pool::PoolConnection<sqlx::Postgres> {
        self.pool.acquire().await.expect("acquire")
    }
}

/// The SQLSTATE and constraint name of a failed statement.
pub fn db_error(e: &sqlx::Error) -> (String, Option<String>, String) {
    match e {
        sqlx::Error::Database(d) => (
            d.code().map(|c| c.to_string()).unwrap_or_default(),
            d.constraint().map(str::to_owned),
            d.message().to_owned(),
        ),
        other => panic!("expected a database error, got {other}"),
    }
}
