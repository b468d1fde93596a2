use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use agent::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(problems) => {
            eprintln!("openclaw-agent: cannot start:");
            for p in problems {
                eprintln!("  {p}");
            }
            return ExitCode::from(2);
        }
    };
    let endpoint = std::env::var(agent::telemetry::ENDPOINT)
        .ok()
        .filter(|e| !e.is_empty());
    let _telemetry = agent::telemetry::init(
        endpoint.as_deref(),
        config.tenant.as_str(),
        config.kind.as_str(),
    );
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return if agent::health::check(config.health_addr).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let healthy = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(agent::health::serve(config.health_addr, healthy.clone()));
    let started = match agent::Agent::start(config).await {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("openclaw-agent: cannot start: {e:#}");
            return ExitCode::from(3);
        }
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
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
        tracing::info!("SIGTERM: finishing the current task, then exiting");
        let _ = tx.send(true);
    });
    let result = agent::run(started, rx, healthy).await;
    health.abort();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openclaw-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
