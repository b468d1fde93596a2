//! Bad input never becomes a command, and means the same everywhere: the store's CHECK
//! constraints accept exactly the names, models and regions the Rust validation accepts (bound
//! parameters, never spliced), and CLI arguments reach SQL only as parameters.

use clap::Parser;
use cli::{self, Cli};
use openclaw_tests::TestDb;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{1,30}[a-z0-9]",
        "[a-z0-9.:-]{0,40}",
        ".{0,60}",
        Just("x'); DROP TABLE openclaw.tenants; --".to_owned()),
        Just("аcme".to_owned()),
        Just("acme-".to_owned()),
        Just("ac--me".to_owned()),
        Just("../acme".to_owned()),
        Just("acme*".to_owned()),
        Just("a".repeat(33)),
        Just("a\u{0}b".to_owned()),
    ]
}

#[tokio::test]
async fn the_store_and_the_validation_agree_on_every_input() {
    let db = TestDb::new().await;
    let mut cases: Vec<(String, String, String)> = Vec::new();
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    let region = prop_oneof![
        Just("us-east-1".to_owned()),
        Just("eu-west-2".to_owned()),
        hostile()
    ];
    let model = prop_oneof!["[a-z0-9][a-z0-9.:-]{2,30}", hostile()];
    let strategy = (hostile(), model, region);
    for _ in 0..300 {
        let tree = strategy.new_tree(&mut runner).expect("value");
        cases.push(tree.current());
    }
    let mut accepted = 0;
    for (i, (name, model, region)) in cases.iter().enumerate() {
        // PostgreSQL text cannot hold NUL; the driver refuses it before SQL sees it.
        if name.contains('\0') || model.contains('\0') || region.contains('\0') {
            continue;
        }
        let rust_ok =
            crds::naming::TenantName::parse(name).is_ok() && crds::validate::region_ok(region);
        let mut tx = db.pool.begin().await.expect("tx");
        let tenant = sqlx::query(
            "INSERT INTO openclaw.tenants (name, display_name, region) VALUES ($1, 'x', $2)",
        )
        .bind(name)
        .bind(region)
        .execute(&mut *tx)
        .await;
        assert_eq!(
            tenant.is_ok(),
            rust_ok,
            "case {i}: name {name:?} region {region:?}: store {tenant:?}"
        );
        if tenant.is_ok() {
            accepted += 1;
            let agent = sqlx::query(
                "INSERT INTO openclaw.agents (tenant, kind, model) VALUES ($1, 'scout', $2)",
            )
            .bind(name)
            .bind(model)
            .execute(&mut *tx)
            .await;
            assert_eq!(
                agent.is_ok(),
                crds::validate::model_ok(model),
                "case {i}: model {model:?}: {agent:?}"
            );
        }
        tx.rollback().await.expect("rollback");
    }
    assert!(
        accepted > 10,
        "too few valid cases to mean anything ({accepted})"
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM openclaw.tenants")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(n, 0);
}

/// Whether the store takes one schedule: inside a rolled-back transaction.
async fn store_takes_schedule(db: &TestDb, tenant: &str, schedule: serde_json::Value) -> bool {
    let mut tx = db.pool.begin().await.expect("tx");
    let ok = sqlx::query(
        "INSERT INTO openclaw.agents (tenant, kind, model, schedules) \
         VALUES ($1, 'scout', 'amazon.nova-lite-v1:0', $2)",
    )
    .bind(tenant)
    .bind(serde_json::json!([schedule]))
    .execute(&mut *tx)
    .await
    .is_ok();
    tx.rollback().await.expect("rollback");
    ok
}

/// Schedule names mean the same in the store and in Rust. Patterns and zones: the store checks
/// their shape only, so every pattern and every IANA zone Rust accepts, the store accepts too
/// (and the operator refuses the rest by the Rust rule before rendering anything).
#[tokio::test]
async fn the_store_takes_every_schedule_the_validation_takes() {
    let db = TestDb::new().await;
    let tenant = openclaw_tests::unique_name("sched");
    sqlx::query(
        "INSERT INTO openclaw.tenants (name, display_name, region) VALUES ($1, 'x', 'us-east-1')",
    )
    .bind(&tenant)
    .execute(&db.pool)
    .await
    .expect("tenant");
    let one = |name: &str, cron: &str, zone: &str| serde_json::json!({"name": name, "cron": cron, "timeZone": zone, "input": {}});
    let mut runner = TestRunner::new(Config {
        cases: 150,
        ..Config::default()
    });
    let name = prop_oneof!["[a-z][a-z0-9-]{0,31}", hostile()];
    let cron = prop_oneof![
        "([0-9]{1,2}|\\*|\\*/[0-9]{1,2}) ([0-9]{1,2}|\\*) \\* \\* ([0-7]|[1-5]-[1-5]|\\*)",
        hostile()
    ];
    let (mut names_ok, mut crons_ok) = (0, 0);
    for _ in 0..150 {
        let (n, c) = (&name, &cron)
            .new_tree(&mut runner)
            .expect("value")
            .current();
        if n.contains('\0') || c.contains('\0') {
            continue;
        }
        let rust = crds::validate::schedule_name_ok(&n);
        names_ok += usize::from(rust);
        let store = store_takes_schedule(&db, &tenant, one(&n, "0 8 * * *", "UTC")).await;
        assert_eq!(store, rust, "name {n:?}");
        if crds::schedule::parse_cron(&c).is_ok() {
            crons_ok += 1;
            assert!(
                store_takes_schedule(&db, &tenant, one("s1", &c, "UTC")).await,
                "cron {c:?}: Rust takes it, the store refuses it"
            );
        }
    }
    assert!(
        names_ok > 10 && crons_ok > 10,
        "too few valid cases: {names_ok} names, {crons_ok} patterns"
    );
    for zone in chrono_tz::TZ_VARIANTS {
        assert!(
            store_takes_schedule(&db, &tenant, one("s1", "0 8 * * *", zone.name())).await,
            "zone {}: Rust takes it, the store refuses it",
            zone.name()
        );
    }
}

#[tokio::test]
async fn cli_arguments_reach_sql_only_as_parameters() {
    let db = TestDb::new().await;
    for name in [
        "x'; DROP TABLE openclaw.tenants; --",
        "acme\" OR 1=1 --",
        "*",
        "../..",
    ] {
        let argv = ["openclaw", "delete", "tenant", name];
        let err = cli::execute(&db.pool, Cli::try_parse_from(argv).expect("args").command)
            .await
            .expect_err("not found");
        assert!(err.to_string().ends_with("not found"), "{err}");
        let argv = ["openclaw", "describe", "tenant", name];
        assert!(
            cli::execute(&db.pool, Cli::try_parse_from(argv).expect("args").command)
                .await
                .is_err()
        );
    }
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('openclaw.tenants') IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .expect("q");
    assert!(exists);
}
