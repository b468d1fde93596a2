//! A real Prometheus (Debian's package, installed by tests/prometheus-rules.sh) scrapes a running
//! operator; the test queries its HTTP API and finds the example tenants Ready. Also checks that
//! every metric the dashboard and the alert rules use is exported.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use openclaw_tests::process::{free_port, http_get, Operator};
use openclaw_tests::{unique_name, wait_until, Harness};

struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn query(port: u16, promql: &str) -> serde_json::Value {
    let path = format!("/api/v1/query?query={}", urlencoding::encode(promql));
    let (status, body) = http_get(port, &path).await.unwrap_or((0, String::new()));
    if status != 200 {
        return serde_json::Value::Null;
    }
    serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
}

#[tokio::test]
async fn prometheus_scrapes_the_operator_and_sees_the_example_tenants_ready() {
    let prometheus_bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("prometheus is not installed: run tests/prometheus-rules.sh (tests/run does)");
    let h = Harness::new().await;
    let suffix = unique_name("p").replace("p-", "");
    let examples =
        std::fs::read_to_string(repo().join("crds/examples/tenants.yaml")).expect("examples");
    let names: Vec<String> = ["acme", "globex", "initech"]
        .iter()
        .map(|n| format!("{n}-{suffix}"))
        .collect();
    let mut text = examples;
    for (n, full) in ["acme", "globex", "initech"].iter().zip(&names) {
        text = text.replace(&format!("name: {n}\n"), &format!("name: {full}\n"));
    }
    cli::apply::apply(&h.db.pool, &text)
        .await
        .expect("apply examples");
    // Usage rows, so the cost counters have something to show.
    sqlx::query("INSERT INTO shared.usage (tenant, agent, model, input_tokens, output_tokens, latency_ms) VALUES ($1, 'scout', 'amazon.nova-lite-v1:0', 1000, 100, 50)")
        .bind(h.db_name(&names[0]).await.as_str()).execute(&h.db.tenants).await.expect("usage");

    // The port the operator's container serves metrics on (its task definition's port mapping,
    // which Terraform's `operator.listen = 0.0.0.0:<port>` matches); on loopback here, since
    // tests bind 127.0.0.1 only.
    // A Terraform template: its one unquoted placeholder (the configuration as JSON) stands in
    // for an object.
    let td: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/operator/task-definition.json"))
            .expect("task definition")
            .replace("${cell_config_json}", "{}"),
    )
    .expect("task definition JSON");
    let port = td["containerDefinitions"][0]["portMappings"]
        .as_array()
        .and_then(|m| m.iter().find(|p| p["name"] == "metrics"))
        .and_then(|p| p["containerPort"].as_u64())
        .and_then(|p| u16::try_from(p).ok())
        .expect("the container's metrics port");
    let op = Operator::spawn_at(&h, port, "  resync_interval_seconds: 3\n", &[]);
    // Prometheus with the shipped configuration and rules, scraping that port as shipped.
    let dir = std::env::temp_dir().join(format!("openclaw-prom-{}", h.db.name));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = std::fs::read_to_string(repo().join("deploy/prometheus/prometheus.yml"))
        .expect("prometheus.yml")
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        .replace("scrape_timeout: 10s", "scrape_timeout: 1s");
    assert!(
        cfg.contains(&format!("127.0.0.1:{}", op.port)),
        "the shipped scrape target changed:\n{cfg}"
    );
    std::fs::write(dir.join("prometheus.yml"), cfg).expect("write config");
    std::fs::copy(
        repo().join("deploy/prometheus/alerts.yml"),
        dir.join("alerts.yml"),
    )
    .expect("rules");
    let port = free_port();
    let _prom = Prometheus(
        Command::new(prometheus_bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"))
            .spawn()
            .expect("start prometheus"),
    );

    wait_until(
        90,
        "Prometheus to see the example tenants Ready",
        || async {
            let v = query(port, "sum(openclaw_tenants{phase=\"Ready\"})").await;
            v["data"]["result"][0]["value"][1].as_str() == Some("3")
        },
    )
    .await;
    for n in &names {
        let v = query(
            port,
            &format!("openclaw_tenant_condition{{tenant=\"{n}\",condition=\"Ready\"}}"),
        )
        .await;
        assert_eq!(
            v["data"]["result"][0]["value"][1].as_str(),
            Some("1"),
            "{n}: {v}"
        );
    }
    let up = query(port, "up{job=\"openclaw-operator\"}").await;
    assert_eq!(up["data"]["result"][0]["value"][1].as_str(), Some("1"));

    // A paused tenant is not Ready: its not-ready series appears, as a Unix time (not an age).
    sqlx::query(
        "UPDATE openclaw.tenants SET paused = true, generation = generation + 1 WHERE name = $1",
    )
    .bind(&names[2])
    .execute(&h.db.pool)
    .await
    .expect("pause");
    let since_query = format!(
        "openclaw_tenant_not_ready_since_timestamp_seconds{{tenant=\"{}\"}}",
        names[2]
    );
    wait_until(60, "the paused tenant's not-ready series", || async {
        let v = query(port, &since_query).await;
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|t| t > 1.7e9)
    })
    .await;
    let ready = query(
        port,
        &format!(
            "openclaw_tenant_not_ready_since_timestamp_seconds{{tenant=\"{}\"}}",
            names[0]
        ),
    )
    .await;
    assert_eq!(
        ready["data"]["result"],
        serde_json::json!([]),
        "a Ready tenant has no series"
    );

    // Every metric the dashboard and the alerts use is exported by the running operator.
    let out = Command::new("bash")
        .arg(repo().join("tests/prometheus-rules.sh"))
        .arg("--list-metrics")
        .output()
        .expect("list metrics");
    assert!(out.status.success());
    let used: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(used.len() > 20, "{used:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let missing = loop {
        let (_, body) = http_get(op.port, "/metrics").await.unwrap_or_default();
        let exported: BTreeSet<String> = body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.split(['{', ' ']).next())
            .map(|n| {
                n.trim_end_matches("_bucket")
                    .trim_end_matches("_sum")
                    .trim_end_matches("_count")
                    .to_owned()
            })
            .collect();
        let missing: Vec<String> = used.difference(&exported).cloned().collect();
        // Cost counters appear after the first accrual (every 15 s).
        if missing.is_empty() || std::time::Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(missing.is_empty(), "used but not exported: {missing:?}");
}
