//! Onboarding and steady-state benchmark at AWS's published quotas.
//!
//!   source .local/stack.env   # after deploy/local/up.sh (with MOTO_ECS_SERVICE_RUNNING=10)
//!   cargo run -p openclaw-tests --bin bench -- N [SCALE]
//!
//! The operator's control loop (in this process) reaches the emulator through the harness's
//! AWS proxy, which enforces the published per-account buckets (`openclaw_tests::aws_proxy`).
//! SCALE (default 1) multiplies the proxy's buckets and the operator's client rates alike, to
//! shorten a run; the floor is computed for the same scale. N tenants with three agents each
//! are inserted at once; when half of them are Ready, one more is inserted, and its latency is
//! reported apart. Prints: time to all Ready and the floor ratio, first-Ready latency per tenant
//! (p50, p99), throttles received, AWS calls per tenant to onboard (by action), one resync's
//! calls and writes, and peak RSS.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openclaw_tests::aws_proxy::{self, AwsProxy};
use openclaw_tests::{unique_name, Harness};
use operator::controller::{self, LoopConfig};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or_default()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

const AGENTS: [(&str, &[&str]); 3] = [
    ("butler", &["gmail", "calendar"]),
    ("scout", &[]),
    ("strategist", &["hubspot"]),
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let proxy = AwsProxy::start(
        &Harness::stack_endpoint(),
        scale,
        Duration::from_secs(6 * 3600),
    )
    .await;
    let cluster = unique_name("bench");
    let h = Harness::behind(&proxy, |c| {
        if let Some(cell) = c.cell.as_mut() {
            cell.ecs_cluster = cluster.clone();
        }
        c.operator.aws_rate_scale = scale;
    })
    .await;
    h.aws
        .ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await?;
    let names: Vec<String> = (0..n).map(|_| unique_name("bench")).collect();
    for name in &names {
        h.insert_tenant(name, &AGENTS).await;
    }
    println!("tenants: {n} x 3 agents; proxy and client at {scale} x the published quotas");

    proxy.reset_counts();
    let started = Instant::now();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = LoopConfig {
        concurrency: 16,
        poll_interval: Duration::from_secs(10),
        resync_interval: Duration::from_secs(3600),
        lease_duration: Duration::from_secs(15),
        lease_name: "bench".into(),
        holder: "bench".into(),
        shutdown_grace: Duration::from_secs(5),
        orphan_grace: Duration::from_secs(3600),
        prices: Default::default(),
    };
    let loop_task = tokio::spawn(controller::run(
        h.reconciler.clone(),
        cfg,
        h.metrics.clone(),
        Arc::new(AtomicBool::new(false)),
        async {
            let _ = rx.await;
        },
    ));
    let late = unique_name("late");
    let mut late_inserted: Option<Instant> = None;
    let mut ready_at: HashMap<String, Duration> = HashMap::new();
    loop {
        let ready: Vec<String> =
            sqlx::query_scalar("SELECT name FROM openclaw.tenants WHERE phase = 'Ready'")
                .fetch_all(&h.db.pool)
                .await?;
        for r in ready {
            ready_at.entry(r).or_insert_with(|| started.elapsed());
        }
        if late_inserted.is_none() && ready_at.len() >= n / 2 {
            h.insert_tenant(&late, &AGENTS).await;
            late_inserted = Some(Instant::now());
        }
        if ready_at.len() == n + 1 {
            break;
        }
        if started.elapsed() > Duration::from_secs(6 * 3600) {
            anyhow::bail!(
                "not all Ready after six hours ({}/{})",
                ready_at.len(),
                n + 1
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let onboard = started.elapsed();
    let _ = tx.send(());
    loop_task.await?;
    let counts = proxy.counts();

    // Published floor: every task definition through RegisterTaskDefinition's bucket.
    let (_, burst, rate) = aws_proxy::bucket("ecs", "RegisterTaskDefinition");
    let registrations = 3 * (n + 1);
    let floor = ((registrations as f64 - burst * scale.max(1.0)) / (rate * scale)).max(0.0);
    let late_latency = late_inserted
        .zip(ready_at.get(&late))
        .map(|(at, ready)| (started + *ready).saturating_duration_since(at))
        .unwrap_or_default();
    let mut latencies: Vec<f64> = names
        .iter()
        .filter_map(|n| ready_at.get(n))
        .map(Duration::as_secs_f64)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let mut by_action: BTreeMap<&str, u64> = BTreeMap::new();
    let mut throttled = 0;
    let mut total = 0;
    for ((_, action, outcome), c) in &counts {
        *by_action.entry(action.as_str()).or_default() += c;
        total += c;
        if outcome == "throttled" {
            throttled += c;
        }
    }
    let per = (n + 1) as f64;
    println!(
        "time to all Ready:    {:.1} s; published floor {:.1} s; floor ratio {:.2}",
        onboard.as_secs_f64(),
        floor,
        floor / onboard.as_secs_f64()
    );
    println!(
        "first Ready per tenant (from the start): p50 {:.1} s, p99 {:.1} s",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    println!(
        "tenant inserted halfway: Ready {:.1} s after its insert",
        late_latency.as_secs_f64()
    );
    println!("throttles received:   {throttled}");
    println!(
        "AWS calls per tenant (onboarding): {:.1}",
        total as f64 / per
    );
    for (action, c) in &by_action {
        println!("  {action:<28} {:.2}", *c as f64 / per);
    }

    proxy.reset_counts();
    let first = operator::resync::detect(&h.reconciler, Duration::from_secs(3600)).await?;
    proxy.reset_counts();
    let steady = operator::resync::detect(&h.reconciler, Duration::from_secs(3600)).await?;
    let steady_throttled = proxy.total("throttled");
    println!(
        "first resync:  {} calls, {} writes, {} drifted, {:.2} s",
        first.aws_calls,
        first.aws_writes,
        first.drifted.len(),
        first.duration.as_secs_f64()
    );
    println!(
        "steady resync: {} calls ({:.3} per tenant), {} writes, {} drifted, {} throttled, inventory {}, {:.2} s",
        steady.aws_calls,
        steady.aws_calls as f64 / per,
        steady.aws_writes,
        steady.drifted.len(),
        steady_throttled,
        steady.inventory_size,
        steady.duration.as_secs_f64()
    );
    println!(
        "peak RSS (operator, proxy and bench in one process): {:.0} MiB",
        peak_rss_mib()
    );
    Ok(())
}
