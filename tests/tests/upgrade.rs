//! Upgrading a deployment from the single database of earlier releases to the control store and
//! the tenant database (`openclaw upgrade split-control-store`, docs/UPGRADE.md).

use std::borrow::Cow;
use std::process::Command;

use crds::naming::{DbName, TenantName, TenantRef};
use openclaw_tests::process::binary;
use openclaw_tests::{unique_name, Harness, TestDb, OPERATOR_ROLE};
use sqlx::PgPool;

/// A database as the last single-database release left it: every migration up to the split, in
/// version order, in one database.
async fn legacy_database(url: &str) -> PgPool {
    let pool = operator::store::connect(url, 4).await.expect("connect");
    let mut migrations: Vec<sqlx::migrate::Migration> = crds::CONTROL_MIGRATOR
        .iter()
        .chain(crds::TENANT_MIGRATOR.iter())
        .filter(|m| m.version <= operator::store::LAST_SINGLE_DATABASE_VERSION)
        .cloned()
        .collect();
    migrations.sort_by_key(|m| m.version);
    let legacy = sqlx::migrate::Migrator {
        migrations: Cow::Owned(migrations),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    legacy
        .run(&pool)
        .await
        .expect("the single-database migrations");
    pool
}

fn split(control_url: &str, tenant_url: &str) -> (bool, String) {
    let out = Command::new(binary())
        .args(["upgrade", "split-control-store"])
        .env("DATABASE_URL", control_url)
        .env("TENANT_DATABASE_URL", tenant_url)
        .env_remove("OPENCLAW_CONFIG")
        .output()
        .expect("run openclaw");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn audit_chain(pool: &PgPool) -> Vec<(i64, Vec<u8>)> {
    sqlx::query_as("SELECT seq, hash FROM openclaw.audit_log ORDER BY seq")
        .fetch_all(pool)
        .await
        .expect("audit")
}

async fn has_schema(pool: &PgPool, schema: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(pool)
        .await
        .expect("schema")
}

#[tokio::test]
async fn a_single_database_deployment_splits_keeps_everything_and_converges() {
    let (name, control_url, old_url) = TestDb::create_rds_like(OPERATOR_ROLE).await;
    let old = legacy_database(&old_url).await;
    let tenant = unique_name("upgr");
    // Tenants of the old layout keep their role and schema names, `tenant_T`.
    let t = TenantRef::legacy(TenantName::parse(&tenant).expect("name"));
    // Rows as the old release wrote them (its `apply` knew no db_name column).
    sqlx::raw_sql(&format!(
        "INSERT INTO openclaw.tenants (name, display_name, region) \
           VALUES ('{tenant}', 'Upgraded', 'us-east-1'); \
         INSERT INTO openclaw.agents (tenant, kind, model) \
           VALUES ('{tenant}', 'scout', 'amazon.nova-lite-v1:0');"
    ))
    .execute(&old)
    .await
    .expect("rows in the old layout");
    sqlx::query(
        "INSERT INTO shared.usage (tenant, agent, model, input_tokens, output_tokens, latency_ms) \
         VALUES ($1, 'scout', 'amazon.nova-lite-v1:0', 1234, 10, 5)",
    )
    .bind(&tenant)
    .execute(&old)
    .await
    .expect("usage in the old layout");
    sqlx::query(
        "INSERT INTO openclaw.leases (name, holder, expires_at) \
         VALUES ('operator/old', 'old-replica', now() + interval '1 hour')",
    )
    .execute(&old)
    .await
    .expect("a live lease");
    let mut conn = old.acquire().await.expect("conn");
    for action in ["create", "update"] {
        operator::store::append_audit(
            &mut conn,
            &operator::store::AuditEntry {
                tenant: Some(&tenant),
                actor: "operator/old-replica",
                action,
                resource_kind: Some("pg_role"),
                resource_name: Some(t.db.role()),
                detail: serde_json::json!({"reason": "before the split"}),
            },
        )
        .await
        .expect("audit in the old layout");
    }
    drop(conn);
    let chain = audit_chain(&old).await;
    assert_eq!(chain.len(), 2);

    // The new release refuses the old layout rather than running half of it.
    let refused = operator::store::open(&control_url, &old_url, 2, true)
        .await
        .err()
        .expect("the old layout is refused");
    assert!(
        refused.to_string().contains("split-control-store"),
        "{refused}"
    );
    // A live operator stops the split, and nothing is changed.
    let (ok, out) = split(&control_url, &old_url);
    assert!(!ok && out.contains("live lease"), "{out}");
    assert!(has_schema(&old, "openclaw").await);
    sqlx::query("UPDATE openclaw.leases SET expires_at = now() - interval '1 second'")
        .execute(&old)
        .await
        .expect("the old operator stopped");

    let (ok, out) = split(&control_url, &old_url);
    assert!(ok, "{out}");
    assert!(out.contains("tenants 1"), "{out}");
    let control = operator::store::connect(&control_url, 4)
        .await
        .expect("connect");
    // Every row moved as it was: the audit chain keeps its numbers and hashes, and verifies.
    assert_eq!(audit_chain(&control).await, chain);
    let mut conn = control.acquire().await.expect("conn");
    let rows = operator::store::audit_rows(&mut conn, None, None)
        .await
        .expect("rows");
    crds::audit::verify_chain(&rows).expect("the moved chain verifies");
    drop(conn);
    let spec: (String, i64) =
        sqlx::query_as("SELECT display_name, generation FROM openclaw.tenants WHERE name = $1")
            .bind(&tenant)
            .fetch_one(&control)
            .await
            .expect("the tenant moved");
    assert_eq!(spec, ("Upgraded".to_owned(), 1));
    let db_name: String =
        sqlx::query_scalar("SELECT db_name FROM openclaw.tenants WHERE name = $1")
            .bind(&tenant)
            .fetch_one(&control)
            .await
            .expect("db name");
    assert_eq!(
        db_name,
        DbName::legacy(&t).as_str(),
        "a tenant of the old layout keeps its database name"
    );
    // The old database keeps the tenant data, and no control store.
    assert!(!has_schema(&old, "openclaw").await);
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&old)
        .await
        .expect("versions");
    assert!(versions
        .iter()
        .all(|v| crds::TENANT_MIGRATOR.iter().any(|m| m.version == *v)));
    // Running it again changes nothing.
    let (ok, out) = split(&control_url, &old_url);
    assert!(ok && out.contains("already split"), "{out}");

    // The new release runs on the pair, converges the tenant and reports its old usage.
    let dbs = operator::store::open(&control_url, &old_url, 8, true)
        .await
        .expect("open the split databases");
    let db = TestDb::from_parts(name, control_url, old_url, dbs).await;
    let h = Harness::build_on(db, openclaw_tests::stack_config(), |_| {}).await;
    h.converge(&[&tenant]).await;
    let report = operator::cost::report(&h.db.pool, &h.db.tenants, &h.config.operator.prices, None)
        .await
        .expect("cost");
    let tokens: i64 = report
        .iter()
        .filter(|c| c.tenant == tenant)
        .flat_map(|c| c.tokens.iter().map(|(_, i, _)| *i))
        .sum();
    assert_eq!(tokens, 1234);
    // The tenant's login reaches its database, and not the control store.
    h.connect_as(t.db.role())
        .await
        .expect("the tenant connects to the tenant database");
    assert!(h.connect_control_as(t.db.role()).await.is_err());
}

/// The two databases named the wrong way round (the old database as the control store) are
/// refused before anything is migrated.
#[tokio::test]
async fn the_old_database_named_as_the_control_store_is_refused() {
    let (_, fresh_url, old_url) = TestDb::create_rds_like(OPERATOR_ROLE).await;
    let _old = legacy_database(&old_url).await;
    let err = operator::store::open(&old_url, &fresh_url, 2, true)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("tenant data"), "{err}");
    let (ok, out) = split(&old_url, &fresh_url);
    assert!(!ok, "{out}");
    let fresh = operator::store::connect(&fresh_url, 2)
        .await
        .expect("connect");
    assert!(!has_schema(&fresh, "openclaw").await);
}

/// A split stopped after its copy committed (schema `openclaw` still in the old database, the
/// copy in the new one) finishes when run again, and copies nothing twice.
#[tokio::test]
async fn an_interrupted_split_finishes_when_run_again() {
    let (_, control_url, old_url) = TestDb::create_rds_like(OPERATOR_ROLE).await;
    let old = legacy_database(&old_url).await;
    let mut conn = old.acquire().await.expect("conn");
    operator::store::append_audit(
        &mut conn,
        &operator::store::AuditEntry {
            tenant: None,
            actor: "operator/old-replica",
            action: "update",
            resource_kind: None,
            resource_name: None,
            detail: serde_json::json!({"reason": "before the split"}),
        },
    )
    .await
    .expect("audit");
    drop(conn);
    // The old control schema as it was, to put back after a first, complete split.
    let superuser_old = openclaw_tests::url_as(&old_url, "postgres");
    let dump = Command::new("pg_dump")
        .args(["--schema=openclaw", "--no-owner", &superuser_old])
        .output()
        .expect("pg_dump");
    assert!(dump.status.success(), "{dump:?}");
    let (ok, out) = split(&control_url, &old_url);
    assert!(ok, "{out}");
    let restore = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", &old_url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(&dump.stdout)?;
            c.wait()
        })
        .expect("psql");
    assert!(restore.success());
    for m in crds::CONTROL_MIGRATOR
        .iter()
        .filter(|m| m.version <= operator::store::LAST_SINGLE_DATABASE_VERSION)
    {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, true, $3, 0)",
        )
        .bind(m.version)
        .bind(m.description.as_ref())
        .bind(m.checksum.as_ref())
        .execute(&old)
        .await
        .expect("the control rows back");
    }
    let (ok, out) = split(&control_url, &old_url);
    assert!(ok && out.contains("(resumed)"), "{out}");
    assert!(!has_schema(&old, "openclaw").await);
    let control = operator::store::connect(&control_url, 2)
        .await
        .expect("connect");
    assert_eq!(audit_chain(&control).await.len(), 1, "copied twice");
}

/// Two spellings of one database, and a database another application migrated, are refused
/// before anything is changed.
#[tokio::test]
async fn one_database_under_two_names_or_a_foreign_one_is_refused_untouched() {
    let (_, control_url, tenant_url) = TestDb::create_rds_like(OPERATOR_ROLE).await;
    let alias = control_url.replace("127.0.0.1", "localhost");
    assert_ne!(
        alias, control_url,
        "the test needs a host spelled 127.0.0.1"
    );
    let err = operator::store::open(&control_url, &alias, 2, true)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("same database"), "{err}");
    let pool = operator::store::connect(&control_url, 2)
        .await
        .expect("connect");
    assert!(!has_schema(&pool, "openclaw").await && !has_schema(&pool, "shared").await);

    let tenants = operator::store::connect(&tenant_url, 2)
        .await
        .expect("connect");
    sqlx::raw_sql(
        "CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL, \
         installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, \
         checksum bytea NOT NULL, execution_time bigint NOT NULL); \
         INSERT INTO _sqlx_migrations VALUES (20240101, 'another app', now(), true, '\\x00', 0)",
    )
    .execute(&tenants)
    .await
    .expect("another application's migrations");
    let err = operator::store::open(&control_url, &tenant_url, 2, true)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("20240101"), "{err}");
    assert!(!has_schema(&tenants, "shared").await);
}
