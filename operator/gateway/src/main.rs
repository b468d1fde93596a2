use std::net::SocketAddr;
use std::process::ExitCode;

/// `OPENCLAW_GATEWAY_DATABASE_URL`: the tenant database, as the gateway's login (a member of
/// `openclaw_gateway`). `OPENCLAW_GATEWAY_LISTEN` (default 127.0.0.1:8080): TLS ends in front,
/// at the load balancer. `OPENCLAW_GATEWAY_RATE_LIMIT`: requests per tenant per minute (600).
#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    let url = var("OPENCLAW_GATEWAY_DATABASE_URL");
    if url.is_none() {
        problems.push("OPENCLAW_GATEWAY_DATABASE_URL: missing".to_owned());
    }
    let listen: Option<SocketAddr> = match var("OPENCLAW_GATEWAY_LISTEN") {
        None => Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
        Some(v) => v.parse().ok().or_else(|| {
            problems.push(format!(
                "OPENCLAW_GATEWAY_LISTEN: must be host:port (got {v:?})"
            ));
            None
        }),
    };
    let rate_limit = match var("OPENCLAW_GATEWAY_RATE_LIMIT").map(|v| v.parse::<i32>()) {
        None => 600,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            problems.push("OPENCLAW_GATEWAY_RATE_LIMIT: must be a whole number above 0".into());
            0
        }
    };
    let (Some(url), Some(listen), true) = (url, listen, problems.is_empty()) else {
        eprintln!("openclaw-gateway: cannot start:");
        for p in problems {
            eprintln!("  {p}");
        }
        return ExitCode::from(2);
    };
    let pool = match gateway::connect(&url).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("openclaw-gateway: {e}");
            return ExitCode::from(3);
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("openclaw-gateway: cannot listen on {listen}: {e}");
            return ExitCode::from(3);
        }
    };
    tracing::info!(%listen, rate_limit, "gateway listening");
    let app = gateway::router(gateway::Gateway { pool, rate_limit });
    let shutdown = async {
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
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openclaw-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
