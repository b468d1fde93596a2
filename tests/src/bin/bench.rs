//! Onboarding and steady-state benchmark on the local stack.
//!
//!   source .local/stack.env   # after deploy/local/up.sh (with MOTO_ECS_SERVICE_RUNNING=10)
//!   cargo run --release -p openclaw-tests --bin bench -- 100
//!
//! Onboards N tenants with three agents each through the real control loop (in this process),
//! then runs steady-state resyncs, and prints: time to all Ready, AWS calls per tenant for
//! onboarding, AWS calls and writes per tenant for one steady-state resync, and peak RSS.
//! The emulator has no quotas, so the client-side rate limits are scaled up (second argument,
//! default 1000); the published-quota floor for the same work is printed beside the result.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000.0);
    let cluster = unique_name("bench");
    let h = Harness::with(|c| {
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
        h.insert_tenant(
            name,
            &[
                ("butler", &["gmail", "calendar"]),
                ("scout", &[]),
                ("strategist", &["hubspot"]),
            ],
        )
        .await;
    }
    println!("tenants: {n} x 3 agents; rate scale {scale}");

    let (calls0, _) = h.calls();
    let started = Instant::now();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = LoopConfig {
        concurrency: 16,
        poll_interval: Duration::from_secs(1),
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
    loop {
        let ready: i64 =
            sqlx::query_scalar("SELECT count(*) FROM openclaw.tenants WHERE phase = 'Ready'")
                .fetch_one(&h.db.pool)
                .await?;
        if ready as usize == n {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            anyhow::bail!("not all Ready after an hour ({ready}/{n})");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let onboard = started.elapsed();
    let _ = tx.send(());
    loop_task.await?;
    let (calls1, _) = h.calls();
    let onboarding_calls = calls1 - calls0;

    let first = operator::resync::detect(&h.reconciler, Duration::from_secs(3600)).await?;
    let steady = operator::resync::detect(&h.reconciler, Duration::from_secs(3600)).await?;
    let floor = Duration::from_secs((n * 3).saturating_sub(20) as u64);
    println!("time to all Ready:           {:.1} s (published-quota floor for {} task definitions: {:.0} s)", onboard.as_secs_f64(), n * 3, floor.as_secs_f64());
    println!(
        "AWS calls per tenant (onboarding):   {:.1}",
        onboarding_calls as f64 / n as f64
    );
    println!(
        "first resync:                {} calls, {} writes, {} drifted, {:.2} s",
        first.aws_calls,
        first.aws_writes,
        first.drifted.len(),
        first.duration.as_secs_f64()
    );
    println!("steady-state resync:         {} calls ({:.3} per tenant), {} writes, {} drifted, inventory {}, {:.2} s",
        steady.aws_calls, steady.aws_calls as f64 / n as f64, steady.aws_writes, steady.drifted.len(), steady.inventory_size, steady.duration.as_secs_f64());
    println!(
        "peak RSS (operator + bench, one process): {:.0} MiB",
        peak_rss_mib()
    );
    Ok(())
}
