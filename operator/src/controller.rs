//! The control loop around the reconcile: leader election, triggers (LISTEN, poll, resync,
//! requeues), the work queue, per-tenant backoff, the session guard, and graceful shutdown.
//!
//! Expected flow: every replica tries to take the lease; the holder enqueues every tenant, then
//! reconciles tenants as NOTIFY, the poll and the resync schedule them. It renews the lease every
//! third of its duration and stops acting the moment a renewal fails. On SIGTERM it stops taking
//! work, lets in-flight reconciles finish (up to a grace period) and releases the lease, so a
//! standby takes over at once.
//!
//! Guarantees: one tenant is never reconciled twice at once (queue); at most `concurrency`
//! reconciles run (queue); a replica acts only while it holds the lease.
//! Caveats: a leader cut off from the store stops at its next renewal; work in flight then is
//! abandoned after the grace period, which is shorter than the lease.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crds::api::Tier;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::queue::{self, Priority, WorkQueue};
use crate::reconcile::Reconciler;
use crate::retry::Backoffs;
use crate::session_guard;
use crate::store;

/// Notifications arriving within this window after one are served by one lookup.
const NOTIFY_DEBOUNCE: Duration = Duration::from_millis(100);
/// How often the leader looks for tenant sessions past their tier's limits.
const SESSION_GUARD_INTERVAL: Duration = Duration::from_secs(5);

/// Loop settings (from the operator configuration).
#[derive(Debug, Clone)]
pub struct LoopConfig {
    pub concurrency: usize,
    pub poll_interval: Duration,
    pub resync_interval: Duration,
    pub lease_duration: Duration,
    pub lease_name: String,
    pub holder: String,
    pub shutdown_grace: Duration,
    pub orphan_grace: Duration,
    pub prices: crate::cost::Prices,
}

/// Runs until `shutdown` resolves: stands by, leads while it holds the lease, stands by again
/// if it loses it.
pub async fn run(
    reconciler: Arc<Reconciler>,
    cfg: LoopConfig,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopper = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let main = async {
        let pool = reconciler.pool.clone();
        loop {
            if *stop_rx.borrow() {
                break;
            }
            let leading = match pool.acquire().await {
                Ok(mut conn) => {
                    store::try_lease(&mut conn, &cfg.lease_name, &cfg.holder, cfg.lease_duration)
                        .await
                        .unwrap_or(false)
                }
                Err(_) => false,
            };
            ready.store(true, Ordering::Relaxed);
            if leading {
                tracing::info!(holder = %cfg.holder, "took the leader lease");
                metrics.leader.set(1);
                // A new term starts with a full pass over every tenant, which counts as a resync.
                metrics.last_resync.set(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs_f64())
                        .unwrap_or_default(),
                );
                lead(&reconciler, &cfg, &metrics, stop_rx.clone()).await;
                metrics.leader.set(0);
                if let Ok(mut conn) = pool.acquire().await {
                    let _ = store::release_lease(&mut conn, &cfg.lease_name, &cfg.holder).await;
                }
                tracing::info!(holder = %cfg.holder, "gave up the leader lease");
            } else {
                let mut stop = stop_rx.clone();
                tokio::select! {
                    _ = tokio::time::sleep(cfg.lease_duration / 3) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    };
    tokio::join!(stopper, main);
}

/// Leads until the lease is lost or shutdown is asked.
async fn lead(
    reconciler: &Arc<Reconciler>,
    cfg: &LoopConfig,
    metrics: &Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let queue: WorkQueue<String> = WorkQueue::new();
    let pool = reconciler.pool.clone();
    if let Err(e) = reconciler.refresh_cell().await {
        tracing::warn!(error = %e, "cannot read the cell's database through the RDS API");
    }
    let (lost_tx, mut lost_rx) = watch::channel(false);

    // Lease renewal: stop acting the moment a renewal fails.
    let renew = {
        let pool = pool.clone();
        let cfg = cfg.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(cfg.lease_duration / 3).await;
                let held = match pool.acquire().await {
                    Ok(mut c) => {
                        store::try_lease(&mut c, &cfg.lease_name, &cfg.holder, cfg.lease_duration)
                            .await
                            .unwrap_or(false)
                    }
                    Err(_) => false,
                };
                if !held {
                    tracing::warn!("lost the leader lease");
                    let _ = lost_tx.send(true);
                    return;
                }
            }
        })
    };

    // Triggers: LISTEN, the fallback poll and the resync.
    let seen = Arc::new(Seen {
        urgent_batch: cfg.concurrency.max(1),
        ..Seen::default()
    });
    let listen = tokio::spawn(listen_loop(pool.clone(), queue.clone(), seen.clone()));
    let poll = tokio::spawn(poll_loop(
        reconciler.clone(),
        queue.clone(),
        cfg.clone(),
        seen,
    ));
    let gauges = tokio::spawn(gauge_loop(
        reconciler.clone(),
        queue.clone(),
        metrics.clone(),
        cfg.prices.clone(),
    ));
    let guard = {
        let reconciler = reconciler.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SESSION_GUARD_INTERVAL).await;
                if let Err(e) = session_guard::sweep(
                    &reconciler.pool,
                    &reconciler.tenant_db,
                    &reconciler.metrics,
                    &reconciler.actor,
                    Tier::session_limits,
                )
                .await
                {
                    tracing::warn!(error = %e, "session guard pass failed");
                }
            }
        })
    };

    let backoffs = Arc::new(Backoffs::new(
        Duration::from_secs(1),
        Duration::from_secs(300),
    ));
    let work = {
        let reconciler = reconciler.clone();
        let backoffs = backoffs.clone();
        let resync = cfg.resync_interval;
        let metrics = metrics.clone();
        move |name: String, waited: Duration| {
            let reconciler = reconciler.clone();
            let backoffs = backoffs.clone();
            let metrics = metrics.clone();
            async move {
                metrics.queue_wait.observe(waited.as_secs_f64());
                match reconciler.reconcile(&name).await {
                    Ok(next) => {
                        backoffs.reset(&name);
                        next.delay()
                    }
                    // Terminal: no hot retry; the resync tries again.
                    Err(e) if e.is_terminal() => Some(resync),
                    Err(_) => Some(backoffs.next(&name)),
                }
            }
        }
    };
    let until = async {
        tokio::select! {
            _ = stop.changed() => {}
            _ = lost_rx.changed() => {}
        }
    };
    let summary = queue::run(
        queue.clone(),
        cfg.concurrency,
        work,
        until,
        cfg.shutdown_grace,
    )
    .await;
    if summary.panicked > 0 || summary.abandoned > 0 {
        tracing::warn!(
            panicked = summary.panicked,
            abandoned = summary.abandoned,
            "reconciles did not finish"
        );
    }
    for t in [renew, listen, poll, gauges, guard] {
        t.abort();
    }
}

async fn listen_loop(pool: PgPool, queue: WorkQueue<String>, seen: Arc<Seen>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; relying on the poll");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(store::CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; relying on the poll");
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                // The payload is ignored: any session of the database may NOTIFY. A burst of
                // notifications costs one lookup per debounce window, and no AWS call for a
                // tenant whose spec did not change.
                Ok(Some(_)) => {
                    tokio::time::sleep(NOTIFY_DEBOUNCE).await;
                    while listener.next_buffered().is_some() {}
                    schedule_needing_work(&pool, &queue, &seen, false).await;
                }
                // The connection dropped and was re-established: notifications may be lost,
                // so look at every tenant that needs work.
                Ok(None) => schedule_needing_work(&pool, &queue, &seen, false).await,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection lost");
                    break;
                }
            }
        }
    }
}

/// The spec version of each tenant needing work when it was last queued for it, so that a
/// notification or the poll queues a tenant again only for a change it has not been queued for
/// (an in-progress tenant is not run twice, a backoff is not cut short).
#[derive(Debug, Default)]
struct Seen {
    versions: Mutex<HashMap<String, String>>,
    /// Most new changes that go ahead of bulk work at once; more arriving together are bulk.
    urgent_batch: usize,
}

/// What to do with one tenant needing work (pure): `Some(priority)` to queue it for a new
/// change (parked behind a run in flight), `None` to queue it only if idle.
fn triage(
    seen: Option<&String>,
    version: &str,
    new_changes: usize,
    urgent_batch: usize,
) -> Option<Priority> {
    if seen.is_some_and(|v| v == version) {
        return None;
    }
    Some(if new_changes <= urgent_batch {
        Priority::Urgent
    } else {
        Priority::Bulk
    })
}

/// Queues the tenants that need work: a new change at once (urgent when few arrive together),
/// the rest only where nothing is queued or running for them. `initial`: the term's first look,
/// where every tenant is queued as bulk work and the versions are only recorded.
async fn schedule_needing_work(
    pool: &PgPool,
    queue: &WorkQueue<String>,
    seen: &Seen,
    initial: bool,
) {
    let Ok(mut c) = pool.acquire().await else {
        return;
    };
    let Ok(needing) = store::tenants_needing_work(&mut c).await else {
        return;
    };
    let mut versions = seen.versions.lock().unwrap_or_else(|e| e.into_inner());
    let new_changes = needing
        .iter()
        .filter(|(n, v)| versions.get(n) != Some(v))
        .count();
    let mut next = HashMap::with_capacity(needing.len());
    for (name, version) in needing {
        match triage(
            versions.get(&name),
            &version,
            new_changes,
            seen.urgent_batch,
        ) {
            Some(_) if initial => queue.schedule_now(name.clone()),
            Some(priority) => queue.schedule_with(name.clone(), Instant::now(), priority),
            None => {
                queue.schedule_if_idle(name.clone(), Priority::Bulk);
            }
        }
        next.insert(name, version);
    }
    *versions = next;
}

/// The fallback poll (tenants whose spec changed) every `poll`, and a resync every `resync`:
/// the inventory decides which tenants drifted; those are queued, security drift first. The
/// first pass of a term queues every tenant.
async fn poll_loop(
    reconciler: Arc<Reconciler>,
    queue: WorkQueue<String>,
    cfg: LoopConfig,
    seen: Arc<Seen>,
) {
    let (poll, resync, orphan_grace) = (cfg.poll_interval, cfg.resync_interval, cfg.orphan_grace);
    let pool = reconciler.pool.clone();
    schedule_needing_work(&pool, &queue, &seen, true).await;
    if let Ok(mut c) = pool.acquire().await {
        if let Ok(names) = store::tenant_names(&mut c).await {
            for n in names {
                queue.schedule_if_idle(n, Priority::Bulk);
            }
        }
    }
    let mut next_resync = Instant::now() + resync;
    loop {
        tokio::time::sleep(poll).await;
        // `openclaw resync` asks through the store: the leader runs the pass, so a tenant never
        // has two actors.
        let requests = match pool.acquire().await {
            Ok(mut c) => store::claim_resync_requests(&mut c, &cfg.lease_name, &cfg.holder)
                .await
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if Instant::now() >= next_resync || !requests.is_empty() {
            let outcome = crate::resync::detect(&reconciler, orphan_grace).await;
            if !requests.is_empty() {
                let (report, error) = match &outcome {
                    Ok(r) => (Some(r.summary()), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                if let Ok(mut c) = pool.acquire().await {
                    if let Err(e) = store::finish_resync_requests(
                        &mut c,
                        &requests,
                        report.as_ref(),
                        error.as_deref(),
                    )
                    .await
                    {
                        tracing::warn!(error = %e, "cannot answer the resync requests");
                    }
                }
            }
            match outcome {
                Ok(report) => {
                    tracing::info!(
                        tenants = report.tenants,
                        drifted = report.drifted.len(),
                        orphans = report.orphans.len(),
                        aws_calls = report.aws_calls,
                        seconds = report.duration.as_secs_f64(),
                        "resync done"
                    );
                    let now = Instant::now();
                    let first = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
                    for (tenant, security) in report.to_reconcile() {
                        reconciler.distrust(&tenant);
                        if security {
                            queue.schedule_with(tenant, first, Priority::Urgent);
                        } else {
                            queue.schedule_if_idle(tenant, Priority::Bulk);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "resync failed; retrying at the next interval")
                }
            }
            next_resync = Instant::now() + resync;
        } else {
            schedule_needing_work(&pool, &queue, &seen, false).await;
        }
    }
}

/// Every few seconds: queue and fleet gauges; every 15 s: Fargate usage accrued and cost
/// counters raised to the stored totals (the leader only, so usage is counted once).
async fn gauge_loop(
    reconciler: Arc<Reconciler>,
    queue: WorkQueue<String>,
    metrics: Arc<Metrics>,
    prices: crate::cost::Prices,
) {
    let pool = reconciler.pool.clone();
    let tenant_db = reconciler.tenant_db.clone();
    let mut last_accrual = Instant::now();
    loop {
        metrics.queue_depth.set(queue.depth() as i64);
        metrics.in_flight.set(queue.in_flight() as i64);
        if let Ok(mut c) = pool.acquire().await {
            if let Ok(counts) = store::phase_counts(&mut c).await {
                metrics.tenants_by_phase.reset();
                for (phase, n) in counts {
                    metrics.tenants_by_phase.with_label_values(&[&phase]).set(n);
                }
            }
            if let Ok(counts) = store::agent_counts(&mut c).await {
                metrics.agents.reset();
                for (tenant, kind, state, n) in counts {
                    metrics
                        .agents
                        .with_label_values(&[&tenant, &kind, &state])
                        .set(n);
                }
            }
            if let Ok(since) = store::not_ready_since(&mut c).await {
                metrics.tenant_not_ready_since.reset();
                for (tenant, at) in since {
                    metrics
                        .tenant_not_ready_since
                        .with_label_values(&[&tenant])
                        .set(at);
                }
            }
        }
        let elapsed = last_accrual.elapsed();
        if elapsed >= Duration::from_secs(15) {
            last_accrual = Instant::now();
            if let Err(e) =
                crate::cost::accrue_fargate(&pool, elapsed.as_secs_f64(), chrono::Utc::now()).await
            {
                tracing::warn!(error = %e, "cannot accrue Fargate usage");
            }
            if let Err(e) = crate::cost::export(&pool, &tenant_db, &prices, &metrics).await {
                tracing::warn!(error = %e, "cannot export cost counters");
            }
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_new_change_is_queued_at_once_and_a_few_go_ahead_of_bulk_work() {
        let v1 = "3:false:butler.1.false".to_owned();
        assert_eq!(
            triage(Some(&v1), &v1, 0, 8),
            None,
            "already queued for this version"
        );
        assert_eq!(
            triage(None, &v1, 1, 8),
            Some(Priority::Urgent),
            "a new tenant"
        );
        assert_eq!(
            triage(Some(&v1), "4:false:butler.1.false", 3, 8),
            Some(Priority::Urgent),
            "a changed spec"
        );
        assert_eq!(
            triage(None, &v1, 100, 8),
            Some(Priority::Bulk),
            "a bulk onboarding"
        );
    }
}
