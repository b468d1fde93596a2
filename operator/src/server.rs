//! HTTP endpoints: `/metrics` (Prometheus), `/healthz` (the process answers) and `/readyz`
//! (the store answers and the first lease attempt is done).
//!
//! Must never: expose anything but metrics and health; it binds where the configuration says
//! (127.0.0.1 by default).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use sqlx::PgPool;

use crate::metrics::Metrics;

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    pool: PgPool,
    ready: Arc<AtomicBool>,
}

pub fn router(metrics: Arc<Metrics>, pool: PgPool, ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready_handler))
        .with_state(AppState {
            metrics,
            pool,
            ready,
        })
}

async fn metrics_handler(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn ready_handler(State(s): State<AppState>) -> impl IntoResponse {
    let store_ok = sqlx::query("SELECT 1").execute(&s.pool).await.is_ok();
    if store_ok && s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else if !store_ok {
        (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}
