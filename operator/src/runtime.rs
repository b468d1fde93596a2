//! Wiring for `openclaw operator` and `openclaw plan`: builds the reconciler from the
//! configuration, starts the HTTP endpoints and the control loop, and handles signals.

use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use sqlx::postgres::PgConnectOptions;

use crate::aws::Clients;
use crate::config::Config;
use crate::controller::{self, LoopConfig};
use crate::metrics::Metrics;
use crate::reconcile::Reconciler;
use crate::render::DbEndpoint;
use crate::store::Databases;
use crate::throttle::Throttle;

/// Where agents reach the tenant database: `cell.agent_database_host` (host[:port]), or the
/// address the operator uses (`url`).
pub fn db_endpoint(config: &Config, url: &str) -> anyhow::Result<DbEndpoint> {
    let opts = PgConnectOptions::from_str(url).context("store connection string")?;
    let dbname = opts.get_database().unwrap_or("postgres").to_owned();
    let (mut host, mut port) = (opts.get_host().to_owned(), opts.get_port());
    if let Some(h) = config
        .cell
        .as_ref()
        .and_then(|c| c.agent_database_host.clone())
    {
        match h.rsplit_once(':') {
            Some((hh, pp)) => {
                host = hh.to_owned();
                port = pp
                    .parse()
                    .context("cell.agent_database_host: port must be a number")?;
            }
            None => host = h,
        }
    }
    Ok(DbEndpoint { host, port, dbname })
}

/// The leader lease of a cell's operator: who holds it is the one actor on the cell's tenants.
pub fn lease_name(cell: &str) -> String {
    format!("operator/{cell}")
}

/// `<host>-<pid>-<random>`: unique per process, readable in the lease row and the audit log.
pub fn holder_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "host".into());
    let n: u32 = rand::rng().random_range(0..0xffff);
    format!("{host}-{}-{n:04x}", std::process::id())
}

/// The reconciler of the configured cell, working in `dbs`.
pub async fn reconciler(
    config: &Config,
    dbs: &Databases,
    metrics: Arc<Metrics>,
    actor: String,
) -> anyhow::Result<Reconciler> {
    let cell = config.cell()?.clone();
    let throttle = Throttle::new(config.operator.aws_rate_scale);
    let clients = Clients::new(
        &cell,
        metrics.clone(),
        throttle,
        config.operator.aws_timeouts(),
    )
    .await;
    Ok(Reconciler {
        pool: dbs.control.clone(),
        tenant_db: dbs.tenants.clone(),
        clients,
        db: db_endpoint(config, &dbs.tenants_url)?,
        cell,
        metrics,
        actor,
        td_cache: Arc::new(crate::resources::TaskDefinitionCache::default()),
        cell_db: std::sync::RwLock::new(None),
        settled: Default::default(),
    })
}

/// Connects to both configured databases (and migrates them, with `migrate`).
pub async fn open_databases(
    config: &Config,
    max_connections: u32,
    migrate: bool,
) -> anyhow::Result<Databases> {
    let control = config.database_url()?;
    let tenants = config.tenant_database_url()?;
    Ok(crate::store::open(&control, &tenants, max_connections, migrate).await?)
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
}

/// `openclaw operator`: runs until SIGTERM/SIGINT.
pub async fn run_operator(config: Config, dbs: Databases) -> anyhow::Result<()> {
    let pool = dbs.control.clone();
    let metrics = Arc::new(Metrics::new());
    let holder = holder_id();
    let reconciler =
        Arc::new(reconciler(&config, &dbs, metrics.clone(), format!("operator/{holder}")).await?);
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(&config.operator.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.operator.listen))?;
    tracing::info!(listen = %config.operator.listen, holder = %holder, cell = %reconciler.cell.name, "operator starting");
    let app = crate::server::router(metrics.clone(), pool.clone(), ready.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let op = &config.operator;
    metrics
        .resync_interval
        .set(op.resync_interval().as_secs() as i64);
    let cfg = LoopConfig {
        concurrency: op.concurrency.max(1),
        poll_interval: op.poll_interval(),
        resync_interval: op.resync_interval(),
        lease_duration: op.lease_duration(),
        lease_name: lease_name(&reconciler.cell.name),
        holder,
        shutdown_grace: op.lease_duration().mul_f64(0.6).max(Duration::from_secs(1)),
        orphan_grace: Duration::from_secs(op.orphan_grace_seconds),
        prices: op.prices.clone(),
    };
    controller::run(reconciler, cfg, metrics, ready, shutdown_signal()).await;
    server.abort();
    tracing::info!("operator stopped");
    Ok(())
}
