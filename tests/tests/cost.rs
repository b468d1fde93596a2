//! Cost per tenant with known numbers: usage rows and task sizes in, figures out.

use openclaw_tests::{unique_name, Harness};
use operator::cost::{self, Prices};

#[tokio::test]
async fn cost_figures_match_usage_rows_and_task_sizes() {
    let h = Harness::new().await;
    let t = unique_name("cost");
    let other = unique_name("cost");
    h.insert_tenant(&t, &[("scout", &[]), ("butler", &[])])
        .await;
    h.insert_tenant(&other, &[("scout", &[])]).await;
    // Known task sizes and running counts.
    sqlx::query("UPDATE openclaw.agents SET cpu = 512, memory = 1024, running_count = 2 WHERE tenant = $1 AND kind = 'scout'")
        .bind(&t).execute(&h.db.pool).await.expect("scout");
    sqlx::query("UPDATE openclaw.agents SET cpu = 1024, memory = 4096, running_count = 1 WHERE tenant = $1 AND kind = 'butler'")
        .bind(&t).execute(&h.db.pool).await.expect("butler");
    sqlx::query("UPDATE openclaw.agents SET running_count = 0 WHERE tenant = $1")
        .bind(&other)
        .execute(&h.db.pool)
        .await
        .expect("other");
    // Known token usage (written as the store's owner; agents write through RLS).
    for (model, input, output) in [
        ("amazon.nova-lite-v1:0", 10_000i64, 2_000i64),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", 1_000, 500),
        ("amazon.nova-lite-v1:0", 5_000, 1_000),
    ] {
        sqlx::query("INSERT INTO shared.usage (tenant, agent, model, input_tokens, output_tokens, latency_ms) VALUES ($1, 'scout', $2, $3, $4, 100)")
            .bind(h.db_name(&t).await.as_str()).bind(model).bind(input).bind(output).execute(&h.db.tenants).await.expect("usage");
    }
    // A row of a database user no tenant row names (a teardown that did not finish) is left out.
    const NOBODY: &str = "tffffffffffffffffffffffffffffffff";
    sqlx::query("INSERT INTO shared.usage (tenant, agent, model, input_tokens, output_tokens, latency_ms) VALUES ($1, 'scout', 'amazon.nova-lite-v1:0', 7, 7, 1)")
        .bind(NOBODY).execute(&h.db.tenants).await.expect("usage of nobody");
    let now = chrono::Utc::now();
    cost::accrue_fargate(&h.db.pool, 60.0, now)
        .await
        .expect("accrue");
    cost::accrue_fargate(&h.db.pool, 30.0, now)
        .await
        .expect("accrue");

    let prices = Prices::default();
    let rows = cost::report(&h.db.pool, &h.db.tenants, &prices, None)
        .await
        .expect("report");
    let c = rows.iter().find(|c| c.tenant == t).expect("tenant row");
    // scout: 0.5 vCPU x 2 tasks, 1 GB x 2; butler: 1 vCPU x 1, 4 GB x 1; for 90 seconds.
    assert!(
        (c.vcpu_seconds - (0.5 * 2.0 + 1.0) * 90.0).abs() < 1e-9,
        "{c:?}"
    );
    assert!(
        (c.gb_seconds - (1.0 * 2.0 + 4.0) * 90.0).abs() < 1e-9,
        "{c:?}"
    );
    let want_bedrock = 15.0 * 0.00006 + 3.0 * 0.00024 + 1.0 * 0.0008 + 0.5 * 0.004;
    assert!(
        (c.bedrock_usd - want_bedrock).abs() < 1e-12,
        "{} vs {want_bedrock}",
        c.bedrock_usd
    );
    let want_fargate = 180.0 / 3600.0 * 0.04048 + 540.0 / 3600.0 * 0.004445;
    assert!((c.fargate_usd - want_fargate).abs() < 1e-12);
    assert_eq!(
        c.tokens,
        vec![
            ("amazon.nova-lite-v1:0".to_owned(), 15_000, 3_000),
            (
                "anthropic.claude-3-5-haiku-20241022-v1:0".to_owned(),
                1_000,
                500
            )
        ]
    );
    // A tenant with no running tasks and no usage accrues nothing.
    assert!(rows.iter().all(|c| c.tenant != other));
    assert!(
        rows.iter().all(|c| c.tenant == t),
        "only tenants with rows are reported, by name: {rows:?}"
    );

    // The table shows the same figures, and the counters equal the stored totals.
    let table = cli::show::cost_table(&rows);
    let line = table
        .lines()
        .find(|l| l.starts_with(&t))
        .expect("table line");
    assert!(
        line.contains("16000")
            && line.contains("3500")
            && line.contains("180.0")
            && line.contains("540.0"),
        "{line}"
    );
    cost::export(&h.db.pool, &h.db.tenants, &prices, &h.metrics)
        .await
        .expect("export");
    cost::export(&h.db.pool, &h.db.tenants, &prices, &h.metrics)
        .await
        .expect("export twice does not double");
    assert!(
        (h.metrics.bedrock_cost_usd.with_label_values(&[&t]).get() - want_bedrock).abs() < 1e-12
    );
    assert_eq!(
        h.metrics
            .fargate_vcpu_seconds
            .with_label_values(&[&t])
            .get(),
        180.0
    );
    let memory = h
        .metrics
        .fargate_memory_byte_seconds
        .with_label_values(&[&t]);
    assert_eq!(
        memory.get(),
        540.0 * 1_073_741_824.0,
        "GiB-seconds in bytes"
    );
    assert!(
        (h.metrics.fargate_cost_usd.with_label_values(&[&t]).get() - want_fargate).abs() < 1e-12
    );
    assert_eq!(
        h.metrics
            .bedrock_input_tokens
            .with_label_values(&[&t, "amazon.nova-lite-v1:0"])
            .get(),
        15_000.0
    );

    // --since limits the Bedrock figures to the period.
    let future = cost::report(
        &h.db.pool,
        &h.db.tenants,
        &prices,
        Some(now + chrono::Duration::hours(2)),
    )
    .await
    .expect("report");
    assert!(future.iter().all(|c| c.tenant != t));
    let since = cli::parse_since("1h").expect("age");
    assert!(since < chrono::Utc::now());
    assert!(cli::parse_since("yesterday").is_err());
}
