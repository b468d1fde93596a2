//! The desired-state store on a real PostgreSQL: constraints, generation, finalizers, NOTIFY
//! and the audit log.

use std::time::Duration;

use openclaw_tests::{db_error, unique_name, TestDb};
use sqlx::postgres::PgListener;
use sqlx::Row;

const GOOD_MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

async fn insert_tenant(db: &TestDb, name: &str) {
    sqlx::query("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ($1, 'Acme', 'us-east-1')")
        .bind(name)
        .execute(&db.pool)
        .await
        .expect("insert tenant");
}

#[tokio::test]
async fn plain_sql_onboarding_works() {
    let db = TestDb::new().await;
    let sql = include_str!("../../crds/examples/onboard.sql");
    sqlx::raw_sql(sql)
        .execute(&db.pool)
        .await
        .expect("example onboarding SQL");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.agents WHERE tenant = 'hooli'")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 2);
    let (phase, generation): (String, i64) =
        sqlx::query_as("SELECT phase, generation FROM openclaw.tenants WHERE name = 'hooli'")
            .fetch_one(&db.pool)
            .await
            .expect("row");
    assert_eq!((phase.as_str(), generation), ("Pending", 1));
}

#[tokio::test]
async fn invalid_inserts_fail_with_the_rule_name() {
    let db = TestDb::new().await;
    let tenant = unique_name("acme");
    insert_tenant(&db, &tenant).await;
    let long = "x".repeat(129);
    // (statement, expected constraint). `$T` is the existing tenant.
    let cases: Vec<(String, &str)> = vec![
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('Bad', 'x', 'us-east-1')".into(), "tenant_name_format"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('ab', 'x', 'us-east-1')".into(), "tenant_name_format"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('acme-', 'x', 'us-east-1')".into(), "tenant_name_format"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('a234567890123456789012345678901bc', 'x', 'us-east-1')".into(), "tenant_name_format"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('x''; DROP TABLE openclaw.tenants; --', 'x', 'us-east-1')".into(), "tenant_name_format"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('acme/../b', 'x', 'us-east-1')".into(), "tenant_name_format"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('аcme', 'x', 'us-east-1')".into(), "tenant_name_format"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('acme*', 'x', 'us-east-1')".into(), "tenant_name_format"),
        (format!("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('okname', '{long}', 'us-east-1')"), "tenant_display_name_length"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('okname', '', 'us-east-1')".into(), "tenant_display_name_length"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('okname', E'a\\nb', 'us-east-1')".into(), "tenant_display_name_chars"),
        ("INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('okname', 'x', 'mars-1')".into(), "tenant_region_format"),
        ("INSERT INTO openclaw.tenants (name, display_name, region, tier) VALUES ('okname', 'x', 'us-east-1', 'gold')".into(), "tenant_tier_known"),
        ("INSERT INTO openclaw.agents (tenant, kind, model) VALUES ('$T', 'gardener', 'amazon.nova-lite-v1:0')".into(), "agent_kind_known"),
        ("INSERT INTO openclaw.agents (tenant, kind, model) VALUES ('$T', 'scout', 'Bad Model')".into(), "agent_model_format"),
        (format!("INSERT INTO openclaw.agents (tenant, kind, model) VALUES ('$T', 'scout', 'a{long}')"), "agent_model_format"),
        ("INSERT INTO openclaw.agents (tenant, kind, model, desired_count) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', 11)".into(), "agent_desired_count_range"),
        ("INSERT INTO openclaw.agents (tenant, kind, model, desired_count) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', -1)".into(), "agent_desired_count_range"),
        ("INSERT INTO openclaw.agents (tenant, kind, model, cpu, memory) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', 256, 4096)".into(), "agent_cpu_memory_fargate"),
        ("INSERT INTO openclaw.agents (tenant, kind, model, cpu, memory) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', 300, 512)".into(), "agent_cpu_memory_fargate"),
        ("INSERT INTO openclaw.agents (tenant, kind, model, image) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', 'img; rm -rf /')".into(), "agent_image_format"),
        ("INSERT INTO openclaw.agents (tenant, kind, model, integrations) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '{telegram}')".into(), "agent_integrations_known"),
        ("INSERT INTO openclaw.agents (tenant, kind, model, integrations) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '{gmail}')".into(), "agent_integrations_allowed_for_kind"),
        ("INSERT INTO openclaw.agents (tenant, kind, model, integrations) VALUES ('$T', 'butler', 'amazon.nova-lite-v1:0', '{hubspot}')".into(), "agent_integrations_allowed_for_kind"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '{"name": "digest"}')"#.into(), "agent_schedules_count"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "s0", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s1", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s2", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s3", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s4", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s5", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s6", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s7", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s8", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s9", "cron": "0 8 * * *", "timeZone": "UTC"},{"name": "s10", "cron": "0 8 * * *", "timeZone": "UTC"}]')"#.into(), "agent_schedules_count"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '["0 8 * * *"]')"#.into(), "agent_schedule_fields_known"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "digest", "cron": "0 8 * * *", "timeZone": "UTC", "command": "rm -rf /"}]')"#.into(), "agent_schedule_fields_known"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "Digest", "cron": "0 8 * * *", "timeZone": "UTC"}]')"#.into(), "agent_schedule_name_format"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"cron": "0 8 * * *", "timeZone": "UTC"}]')"#.into(), "agent_schedule_name_format"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "digest", "cron": "0 8 * * *", "timeZone": "UTC"}, {"name": "digest", "cron": "0 9 * * *", "timeZone": "UTC"}]')"#.into(), "agent_schedule_name_unique"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "digest", "cron": "* * * * * *", "timeZone": "UTC"}]')"#.into(), "agent_schedule_cron_valid"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "digest", "cron": "0 8 * * 1; id", "timeZone": "UTC"}]')"#.into(), "agent_schedule_cron_valid"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "digest", "cron": "0 8 * * *", "timeZone": "../../etc/passwd"}]')"#.into(), "agent_schedule_time_zone_known"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "digest", "cron": "0 8 * * *", "timeZone": "UTC", "input": "is:unread"}]')"#.into(), "agent_schedule_input_object"),
        (r#"INSERT INTO openclaw.agents (tenant, kind, model, schedules) VALUES ('$T', 'scout', 'amazon.nova-lite-v1:0', '[{"name": "digest", "cron": "0 8 * * *", "timeZone": "UTC", "input": {"q": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}]')"#.into(), "agent_schedule_input_object"),
        ("INSERT INTO openclaw.agents (tenant, kind, model) VALUES ('nosuchtenant', 'scout', 'amazon.nova-lite-v1:0')".into(), "agents_tenant_fkey"),
        ("UPDATE openclaw.tenants SET region = 'nowhere' WHERE name = '$T'".into(), "tenant_region_format"),
        ("UPDATE openclaw.tenants SET name = 'renamed' WHERE name = '$T'".into(), "tenant_name_immutable"),
    ];
    for (sql, want) in cases {
        let sql = sql.replace("$T", &tenant);
        let err = sqlx::query(&sql).execute(&db.pool).await.expect_err(&sql);
        let (code, constraint, message) = db_error(&err);
        assert_eq!(constraint.as_deref(), Some(want), "{sql}: {code} {message}");
        assert!(code == "23514" || code == "23503", "{sql}: SQLSTATE {code}");
    }
    // The duplicate agent rule is the primary key, named for the rule.
    let ok = "INSERT INTO openclaw.agents (tenant, kind, model) VALUES ($1, 'scout', 'amazon.nova-lite-v1:0')";
    sqlx::query(ok)
        .bind(&tenant)
        .execute(&db.pool)
        .await
        .expect("first scout");
    let err = sqlx::query(ok)
        .bind(&tenant)
        .execute(&db.pool)
        .await
        .expect_err("second scout");
    assert_eq!(db_error(&err).1.as_deref(), Some("agent_kind_unique"));
    // Nothing was half-written: one tenant, one agent.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.tenants")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 1);
}

#[tokio::test]
async fn generation_bumps_on_spec_changes_only() {
    let db = TestDb::new().await;
    let t = unique_name("gen");
    insert_tenant(&db, &t).await;
    sqlx::query("INSERT INTO openclaw.agents (tenant, kind, model) VALUES ($1, 'scout', $2)")
        .bind(&t)
        .bind(GOOD_MODEL)
        .execute(&db.pool)
        .await
        .expect("agent");
    let gen = |sql: &'static str| {
        let pool = db.pool.clone();
        let t = t.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(t)
                .fetch_one(&pool)
                .await
                .expect("gen")
        }
    };
    let tg = "SELECT generation FROM openclaw.tenants WHERE name = $1";
    let ag = "SELECT generation FROM openclaw.agents WHERE tenant = $1";
    let exec = |sql: &'static str| {
        let pool = db.pool.clone();
        let t = t.clone();
        async move {
            sqlx::query(sql).bind(t).execute(&pool).await.expect(sql);
        }
    };
    assert_eq!(gen(tg).await, 1);
    exec("UPDATE openclaw.tenants SET phase = 'Ready', observed_generation = 1, conditions = '[{\"type\":\"Ready\"}]' WHERE name = $1").await;
    assert_eq!(gen(tg).await, 1, "status change must not bump generation");
    exec("UPDATE openclaw.tenants SET display_name = display_name WHERE name = $1").await;
    assert_eq!(gen(tg).await, 1, "a no-op write must not bump generation");
    exec("UPDATE openclaw.tenants SET generation = 99 WHERE name = $1").await;
    assert_eq!(gen(tg).await, 1, "generation is not writable");
    exec("UPDATE openclaw.tenants SET display_name = 'Acme Two' WHERE name = $1").await;
    assert_eq!(gen(tg).await, 2);
    exec("UPDATE openclaw.tenants SET tier = 'premium' WHERE name = $1").await;
    assert_eq!(gen(tg).await, 3);
    exec("UPDATE openclaw.agents SET phase = 'Ready', running_count = 1 WHERE tenant = $1").await;
    assert_eq!(gen(ag).await, 1);
    exec("UPDATE openclaw.agents SET desired_count = 3 WHERE tenant = $1").await;
    assert_eq!(gen(ag).await, 2);
    exec("UPDATE openclaw.agents SET cpu = 512, memory = 1024 WHERE tenant = $1").await;
    assert_eq!(gen(ag).await, 3);
    exec(r#"UPDATE openclaw.agents SET schedules = '[{"name": "scan", "cron": "*/15 * * * *", "timeZone": "UTC"}]' WHERE tenant = $1"#).await;
    assert_eq!(gen(ag).await, 4, "a schedule is spec");
    assert_eq!(gen(tg).await, 3, "an agent change bumps only the agent");
}

#[tokio::test]
async fn delete_with_finalizers_marks_then_goes_when_they_are_removed() {
    let db = TestDb::new().await;
    let t = unique_name("fin");
    insert_tenant(&db, &t).await;
    sqlx::query("INSERT INTO openclaw.agents (tenant, kind, model) VALUES ($1, 'scout', $2)")
        .bind(&t)
        .bind(GOOD_MODEL)
        .execute(&db.pool)
        .await
        .expect("agent");
    sqlx::query(
        "UPDATE openclaw.tenants SET finalizers = '{openclaw.io/cloud-resources}' WHERE name = $1",
    )
    .bind(&t)
    .execute(&db.pool)
    .await
    .expect("finalizer");
    sqlx::query(
        "UPDATE openclaw.agents SET finalizers = '{openclaw.io/cloud-resources}' WHERE tenant = $1",
    )
    .bind(&t)
    .execute(&db.pool)
    .await
    .expect("finalizer");

    let res = sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(&t)
        .execute(&db.pool)
        .await
        .expect("delete");
    assert_eq!(
        res.rows_affected(),
        0,
        "the row must stay while finalizers remain"
    );
    let row = sqlx::query(
        "SELECT deletion_requested_at IS NOT NULL AS marked FROM openclaw.tenants WHERE name = $1",
    )
    .bind(&t)
    .fetch_one(&db.pool)
    .await
    .expect("still there");
    assert!(row.get::<bool, _>("marked"));
    let agent_marked: bool = sqlx::query_scalar(
        "SELECT deletion_requested_at IS NOT NULL FROM openclaw.agents WHERE tenant = $1",
    )
    .bind(&t)
    .fetch_one(&db.pool)
    .await
    .expect("agent still there");
    assert!(agent_marked, "the tenant's agents are marked too");

    // The operator tears down the agent, then the tenant, removing finalizers as it goes.
    sqlx::query("UPDATE openclaw.agents SET finalizers = '{}' WHERE tenant = $1")
        .bind(&t)
        .execute(&db.pool)
        .await
        .expect("agent done");
    let agents: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.agents WHERE tenant = $1")
        .bind(&t)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(agents, 0, "the agent row goes with its last finalizer");
    sqlx::query("UPDATE openclaw.tenants SET finalizers = '{}' WHERE name = $1")
        .bind(&t)
        .execute(&db.pool)
        .await
        .expect("tenant done");
    let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.tenants WHERE name = $1")
        .bind(&t)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(tenants, 0);

    // Without finalizers a DELETE is immediate.
    let t2 = unique_name("nofin");
    insert_tenant(&db, &t2).await;
    let res = sqlx::query("DELETE FROM openclaw.tenants WHERE name = $1")
        .bind(&t2)
        .execute(&db.pool)
        .await
        .expect("delete");
    assert_eq!(res.rows_affected(), 1);
}

#[tokio::test]
async fn deleting_one_agent_with_a_finalizer_marks_only_that_agent() {
    let db = TestDb::new().await;
    let t = unique_name("one");
    insert_tenant(&db, &t).await;
    for kind in ["butler", "scout"] {
        sqlx::query("INSERT INTO openclaw.agents (tenant, kind, model, finalizers) VALUES ($1, $2, $3, '{openclaw.io/cloud-resources}')")
            .bind(&t).bind(kind).bind(GOOD_MODEL).execute(&db.pool).await.expect("agent");
    }
    sqlx::query("DELETE FROM openclaw.agents WHERE tenant = $1 AND kind = 'scout'")
        .bind(&t)
        .execute(&db.pool)
        .await
        .expect("delete");
    let marked: Vec<(String, bool)> = sqlx::query_as("SELECT kind, deletion_requested_at IS NOT NULL FROM openclaw.agents WHERE tenant = $1 ORDER BY kind")
        .bind(&t).fetch_all(&db.pool).await.expect("rows");
    assert_eq!(
        marked,
        vec![("butler".into(), false), ("scout".into(), true)]
    );
}

/// Sends a marker on the channel and returns what arrives first: the marker proves that nothing
/// was queued before it.
async fn next_after(listener: &mut PgListener, db: &TestDb) -> String {
    tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .unwrap_or_else(|_| panic!("no notification on {}", db.name))
        .expect("recv")
        .payload()
        .to_owned()
}

#[tokio::test]
async fn notify_arrives_on_spec_changes_and_names_no_tenant() {
    let db = TestDb::new().await;
    let mut listener = PgListener::connect(&db.url).await.expect("listener");
    listener
        .listen(operator::store::CHANNEL)
        .await
        .expect("listen");
    let marker = || async {
        sqlx::query("SELECT pg_notify($1, 'marker')")
            .bind(operator::store::CHANNEL)
            .execute(&db.pool)
            .await
            .expect("marker");
    };
    let t = unique_name("watch");
    insert_tenant(&db, &t).await;
    // Any session of the database may LISTEN: the payload names no tenant.
    assert_eq!(next_after(&mut listener, &db).await, "");
    // A status-only write is silent: the marker sent after it arrives first.
    sqlx::query("UPDATE openclaw.tenants SET phase = 'Ready' WHERE name = $1")
        .bind(&t)
        .execute(&db.pool)
        .await
        .expect("status");
    marker().await;
    assert_eq!(next_after(&mut listener, &db).await, "marker");
    // An agent insert and a spec change signal.
    sqlx::query("INSERT INTO openclaw.agents (tenant, kind, model) VALUES ($1, 'scout', $2)")
        .bind(&t)
        .bind(GOOD_MODEL)
        .execute(&db.pool)
        .await
        .expect("agent");
    assert_eq!(next_after(&mut listener, &db).await, "");
    sqlx::query("UPDATE openclaw.agents SET desired_count = 2 WHERE tenant = $1")
        .bind(&t)
        .execute(&db.pool)
        .await
        .expect("spec");
    assert_eq!(next_after(&mut listener, &db).await, "");
    marker().await;
    assert_eq!(next_after(&mut listener, &db).await, "marker");
}

#[tokio::test]
async fn audit_log_is_append_only_and_its_chain_verifies() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    for i in 0..5 {
        operator::store::append_audit(
            &mut conn,
            &operator::store::AuditEntry {
                tenant: Some("acme"),
                actor: "test",
                action: "create",
                resource_kind: Some("secret"),
                resource_name: Some(&format!("/openclaw/acme/{i}")),
                detail: serde_json::json!({"i": i, "note": "ünïcode \u{1f}"}),
            },
        )
        .await
        .expect("append");
    }
    let rows = operator::store::audit_rows(&mut conn, None, None)
        .await
        .expect("rows");
    assert_eq!(crds::audit::verify_chain(&rows), Ok(5));

    for sql in [
        "UPDATE openclaw.audit_log SET action = 'nothing' WHERE seq = 2",
        "DELETE FROM openclaw.audit_log WHERE seq = 2",
        "TRUNCATE openclaw.audit_log",
    ] {
        let err = sqlx::query(sql).execute(&db.pool).await.expect_err(sql);
        let (code, _, message) = db_error(&err);
        assert_eq!(code, "42501", "{sql}: {message}");
        assert!(message.contains("append-only"), "{message}");
    }
    // A superuser who bypasses the triggers is caught by the chain.
    sqlx::raw_sql(
        "ALTER TABLE openclaw.audit_log DISABLE TRIGGER audit_log_append_only; \
         UPDATE openclaw.audit_log SET action = 'nothing' WHERE seq = 3; \
         ALTER TABLE openclaw.audit_log ENABLE TRIGGER audit_log_append_only;",
    )
    .execute(&db.pool)
    .await
    .expect("tamper");
    let rows = operator::store::audit_rows(&mut conn, None, None)
        .await
        .expect("rows");
    assert_eq!(
        crds::audit::verify_chain(&rows),
        Err(crds::audit::ChainError::Content { seq: 3 })
    );
}

#[tokio::test]
async fn concurrent_audit_appends_keep_one_chain() {
    let db = TestDb::new().await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let pool = db.pool.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let mut tx = pool.begin().await.expect("tx");
                let name = format!("{w}/{i}");
                operator::store::append_audit(
                    &mut tx,
                    &operator::store::AuditEntry {
                        tenant: None,
                        actor: "test",
                        action: "append",
                        resource_kind: None,
                        resource_name: Some(&name),
                        detail: serde_json::json!({}),
                    },
                )
                .await
                .expect("append");
                tx.commit().await.expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let mut conn = db.conn().await;
    let rows = operator::store::audit_rows(&mut conn, None, None)
        .await
        .expect("rows");
    assert_eq!(crds::audit::verify_chain(&rows), Ok(80));
}

/// The inventory's CHECK constraint accepts exactly the operator's one list of kinds: every
/// kind is stored through the operator's own write, and the constraint names no other.
#[tokio::test]
async fn the_inventory_accepts_exactly_the_list_of_kinds() {
    use operator::kind::Kind;
    let db = TestDb::new().await;
    let def: String = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conname = 'managed_resource_kind_known'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("constraint");
    let listed: std::collections::BTreeSet<String> = def
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    let kinds: std::collections::BTreeSet<String> =
        Kind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    assert_eq!(
        listed, kinds,
        "the CHECK constraint and Kind::ALL differ: {def}"
    );
    let mut conn = db.conn().await;
    for kind in Kind::ALL {
        operator::store::remember_resource(
            &mut conn,
            "acme",
            None,
            kind.as_str(),
            "x",
            None,
            false,
        )
        .await
        .unwrap_or_else(|e| panic!("{kind} is refused: {e}"));
    }
    let err =
        operator::store::remember_resource(&mut conn, "acme", None, "gardener", "x", None, false)
            .await
            .expect_err("an unknown kind is refused");
    assert!(
        err.to_string().contains("managed_resource_kind_known"),
        "{err}"
    );
}

#[tokio::test]
async fn a_database_that_ran_a_migration_before_its_rewrite_still_migrates() {
    let db = TestDb::new().await;
    for (version, shipped) in operator::store::REWRITTEN {
        sqlx::query("UPDATE _sqlx_migrations SET checksum = decode($1, 'hex') WHERE version = $2")
            .bind(shipped)
            .bind(version)
            .execute(&db.tenants)
            .await
            .expect("pretend the shipped version ran");
        operator::store::migrate_tenants(&db.tenants)
            .await
            .expect("the rewritten migration is accepted");
        let now: Vec<u8> =
            sqlx::query_scalar("SELECT checksum FROM _sqlx_migrations WHERE version = $1")
                .bind(version)
                .fetch_one(&db.tenants)
                .await
                .expect("checksum");
        let current = crds::TENANT_MIGRATOR
            .iter()
            .find(|m| m.version == version)
            .expect("migration");
        assert_eq!(now, current.checksum.as_ref());
    }
    // Any other change to a shipped migration is still refused.
    sqlx::query("UPDATE _sqlx_migrations SET checksum = decode('00', 'hex') WHERE version = 1")
        .execute(&db.pool)
        .await
        .expect("tamper");
    assert!(operator::store::migrate_control(&db.pool).await.is_err());
}

/// The two migration sets never share a version: before the split one database ran both, and
/// its `_sqlx_migrations` must say unambiguously which ran.
#[test]
fn the_two_migration_sets_share_no_version() {
    let control: std::collections::BTreeSet<i64> =
        crds::CONTROL_MIGRATOR.iter().map(|m| m.version).collect();
    let tenant: std::collections::BTreeSet<i64> =
        crds::TENANT_MIGRATOR.iter().map(|m| m.version).collect();
    assert!(control.is_disjoint(&tenant), "{control:?} / {tenant:?}");
    assert!(control.contains(&1) && tenant.contains(&2));
}
