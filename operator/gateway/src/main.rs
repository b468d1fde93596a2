use std::net::SocketAddr;
use std::process::ExitCode;

/// `OPENCLAW_GATEWAY_DATABASE_URL`: the tenant database, as the gateway's login (a member of
/// `openclaw_gateway`). `OPENCLAW_GATEWAY_LISTEN` (default 127.0.0.1:8080): TLS ends in front,
/// at the load balancer. `OPENCLAW_GATEWAY_RATE_LIMIT`: requests per tenant per minute (600).
/// Integrations (optional): `OPENCLAW_GATEWAY_OAUTH_CLIENTS_SECRET`, the secret holding the OAuth
/// clients (read once, at start); `OPENCLAW_GATEWAY_PUBLIC_URL`, the base of the callbacks the
/// providers know; `OPENCLAW_AWS_ENDPOINT_URL` for a local emulator.
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
    let clients_secret = var("OPENCLAW_GATEWAY_OAUTH_CLIENTS_SECRET");
    let public_url = var("OPENCLAW_GATEWAY_PUBLIC_URL");
    if let (Some(_), None) = (&clients_secret, &public_url) {
        problems.push(
            "OPENCLAW_GATEWAY_PUBLIC_URL: required with OPENCLAW_GATEWAY_OAUTH_CLIENTS_SECRET"
                .into(),
        );
    }
    if let Some(u) = &public_url {
        if !(u.starts_with("https://") || u.starts_with("http://127.0.0.1:")) {
            problems.push(format!(
                "OPENCLAW_GATEWAY_PUBLIC_URL: must be an https URL (http only on 127.0.0.1; got {u:?})"
            ));
        }
    }
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
    let integrations = match (clients_secret, public_url) {
        (Some(secret), Some(public_url)) => {
            match load_integrations(&secret, &public_url, var("OPENCLAW_AWS_ENDPOINT_URL")).await {
                Ok(i) => Some(std::sync::Arc::new(i)),
                Err(e) => {
                    eprintln!("openclaw-gateway: {e}");
                    return ExitCode::from(3);
                }
            }
        }
        _ => None,
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("openclaw-gateway: cannot listen on {listen}: {e}");
            return ExitCode::from(3);
        }
    };
    tracing::info!(
        %listen,
        rate_limit,
        integrations = ?integrations.as_ref().map(|i| i.providers.keys().map(|k| k.as_str()).collect::<Vec<_>>()),
        "gateway listening"
    );
    let app = gateway::router(gateway::Gateway {
        pool,
        rate_limit,
        integrations,
    });
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

/// The OAuth clients from the gateway's own secret, and a client to write grants with.
async fn load_integrations(
    secret: &str,
    public_url: &str,
    endpoint: Option<String>,
) -> anyhow::Result<gateway::integrations::Integrations> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(ep) = endpoint {
        loader = loader.endpoint_url(ep);
    }
    let sm = aws_sdk_secretsmanager::Client::new(&loader.load().await);
    let value = sm
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| {
            let code = e
                .as_service_error()
                .and_then(aws_sdk_secretsmanager::error::ProvideErrorMetadata::code)
                .unwrap_or("unreachable")
                .to_owned();
            anyhow::anyhow!("cannot read the OAuth client configuration {secret}: {code}")
        })?;
    let providers = gateway::integrations::parse_clients(value.secret_string().unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("OAuth client configuration {secret}: {e}"))?;
    gateway::integrations::Integrations::new(providers, sm, public_url)
}
