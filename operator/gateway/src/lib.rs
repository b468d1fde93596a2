//! The tenant gateway: the only tenant-facing door. Each request carries an API token and acts
//! for that token's tenant alone; the token is checked, and the work done, inside the tenant
//! database's `gateway` functions, which are all the gateway's login may call.
//!
//! Owns: the HTTP routes (`openapi.yaml` documents them), request limits, and turning the
//! functions' answers into status codes; `integrations` owns the OAuth consent flow. Must never:
//! log or echo a token, put a database message it did not write into an answer, or reach a table
//! other than through the functions.

pub mod integrations;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// Largest request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every route, as `openapi.yaml` names it.
pub const ROUTES: [(&str, &str); 9] = [
    ("post", "/v1/agents/{kind}/tasks"),
    ("get", "/v1/tasks/{id}"),
    ("get", "/v1/tasks"),
    ("post", "/v1/signals"),
    ("get", "/v1/integrations"),
    ("get", "/v1/integrations/{name}/connect"),
    ("get", "/v1/integrations/{name}/callback"),
    ("delete", "/v1/integrations/{name}"),
    ("get", "/healthz"),
];

#[derive(Clone)]
pub struct Gateway {
    pub pool: PgPool,
    /// Requests per tenant per minute, across every gateway replica.
    pub rate_limit: i32,
    /// The OAuth consent flow; `None` when the gateway has no client configuration.
    pub integrations: Option<Arc<integrations::Integrations>>,
}

/// Connects to the tenant database as the gateway's login.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the tenant database: {}", kind_of(&e)))
}

fn kind_of(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Database(_) => "refused by the server",
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => "unreachable",
        sqlx::Error::PoolTimedOut => "timed out",
        _ => "error",
    }
}

pub fn router(g: Gateway) -> Router {
    Router::new()
        .route("/v1/agents/{kind}/tasks", post(queue_task))
        .route("/v1/tasks/{id}", get(get_task))
        .route("/v1/tasks", get(list_tasks))
        .route("/v1/signals", post(add_signals))
        .route("/v1/integrations", get(integrations::list))
        .route(
            "/v1/integrations/{name}/connect",
            get(integrations::connect),
        )
        .route(
            "/v1/integrations/{name}/callback",
            get(integrations::callback),
        )
        .route("/v1/integrations/{name}", delete(integrations::disconnect))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(g)
}

/// A refusal: a status and a message of ours.
#[derive(Debug, PartialEq)]
pub struct Refusal(pub StatusCode, pub String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

/// The functions' SQLSTATEs as HTTP answers (pure). Only messages the functions wrote reach a
/// client (their own codes, OC400 and OC403); anything else is a fixed text, logged by code alone.
pub fn refusal(e: &sqlx::Error) -> Refusal {
    let Some(db) = e.as_database_error() else {
        tracing::warn!(error = kind_of(e), "database unavailable");
        return Refusal(StatusCode::SERVICE_UNAVAILABLE, "try again later".into());
    };
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    match code.as_str() {
        "28000" => Refusal(StatusCode::UNAUTHORIZED, "unknown or revoked token".into()),
        "53400" => Refusal(StatusCode::TOO_MANY_REQUESTS, "rate limit reached".into()),
        "OC400" => Refusal(StatusCode::BAD_REQUEST, db.message().to_owned()),
        "OC403" => Refusal(StatusCode::FORBIDDEN, db.message().to_owned()),
        "22023" | "22P02" | "23502" => Refusal(StatusCode::BAD_REQUEST, "invalid value".into()),
        // Another session holds a lock the call needs, or the call ran too long: never a hang.
        "55P03" | "57014" => Refusal(StatusCode::SERVICE_UNAVAILABLE, "busy: try again".into()),
        "23514" => Refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "a value breaks the rule {}",
                db.constraint().unwrap_or("of the table")
            ),
        ),
        _ => {
            tracing::warn!(sqlstate = %code, "gateway function failed");
            Refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
        }
    }
}

/// The request's token, once admitted: present (else 401), live (else 401), and counted against
/// its tenant's limit (else 429), in a statement of its own so that a request that fails later
/// is counted too.
pub(crate) async fn admitted<'h>(g: &Gateway, headers: &'h HeaderMap) -> Result<&'h str, Refusal> {
    let token = bearer(headers)?;
    sqlx::query("SELECT gateway.admit($1, $2)")
        .bind(token)
        .bind(g.rate_limit)
        .execute(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(token)
}

/// The bearer token, or 401 (pure).
pub fn bearer(headers: &HeaderMap) -> Result<&str, Refusal> {
    headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(|| {
            Refusal(
                StatusCode::UNAUTHORIZED,
                "a bearer token is required".into(),
            )
        })
}

/// The JSON object of a request body, or 400 naming what is wrong (pure).
pub fn object_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            "body: must be a JSON object".into(),
        )),
        Err(e) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("body: not JSON (line {}, column {})", e.line(), e.column()),
        )),
    }
}

async fn queue_task(
    State(g): State<Gateway>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let token = admitted(&g, &headers).await?;
    let mut body = object_body(&body)?;
    let input = body.remove("input").unwrap_or_else(|| json!({}));
    if let Some(extra) = body.keys().next() {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("body.{extra}: unknown field (the body is {{\"input\": {{…}}}})"),
        ));
    }
    let task: Value = sqlx::query_scalar("SELECT gateway.queue_task($1, $2, $3)")
        .bind(token)
        .bind(&kind)
        .bind(input)
        .fetch_one(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    Ok((StatusCode::CREATED, Json(task)).into_response())
}

async fn get_task(
    State(g): State<Gateway>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let token = admitted(&g, &headers).await?;
    let not_found = || Refusal(StatusCode::NOT_FOUND, "task not found".into());
    // Authorised before an id is judged, so a bad id tells nothing to a caller without a token.
    let id: i64 = id.parse().unwrap_or(0);
    let task: Option<Value> = sqlx::query_scalar("SELECT gateway.get_task($1, $2)")
        .bind(token)
        .bind(id)
        .fetch_one(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    task.map(|t| Json(t).into_response()).ok_or_else(not_found)
}

async fn list_tasks(
    State(g): State<Gateway>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let token = admitted(&g, &headers).await?;
    let number = |k: &str, default: i64| -> Result<i64, Refusal> {
        q.get(k).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| Refusal(StatusCode::BAD_REQUEST, format!("{k}: must be a number")))
        })
    };
    let after = number("after", 0)?;
    let limit = i32::try_from(number("limit", 20)?).unwrap_or(0);
    let items: Value = sqlx::query_scalar("SELECT gateway.list_tasks($1, $2, $3, $4)")
        .bind(token)
        .bind(q.get("status"))
        .bind(after)
        .bind(limit)
        .fetch_one(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    let next = items
        .as_array()
        .filter(|a| a.len() as i64 == i64::from(limit))
        .and_then(|a| a.last())
        .and_then(|t| t.get("id").cloned());
    Ok(Json(json!({"items": items, "next": next})).into_response())
}

async fn add_signals(
    State(g): State<Gateway>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let token = admitted(&g, &headers).await?;
    let mut body = object_body(&body)?;
    let signals = body.remove("signals").unwrap_or(Value::Null);
    let n: i32 = sqlx::query_scalar("SELECT gateway.add_signals($1, $2)")
        .bind(token)
        .bind(signals)
        .fetch_one(&g.pool)
        .await
        .map_err(|e| refusal(&e))?;
    Ok((StatusCode::ACCEPTED, Json(json!({"inserted": n}))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_names_every_route_and_no_other() {
        let doc: Value =
            serde_yaml::from_str(include_str!("../openapi.yaml")).expect("openapi.yaml parses");
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                    .map(move |m| (m.clone(), path.clone()))
            })
            .collect();
        documented.sort();
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
    }

    #[test]
    fn only_a_bearer_token_authenticates() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h).map_err(|r| r.0), Err(StatusCode::UNAUTHORIZED));
        h.insert("authorization", "Basic YWNtZTp4".parse().expect("header"));
        assert!(bearer(&h).is_err());
        h.insert("authorization", "Bearer ".parse().expect("header"));
        assert!(bearer(&h).is_err());
        h.insert("authorization", "Bearer oct_abc".parse().expect("header"));
        assert_eq!(bearer(&h), Ok("oct_abc"));
    }

    #[test]
    fn bodies_are_json_objects_and_errors_say_where() {
        assert!(object_body(br#"{"input": {}}"#).is_ok());
        let Refusal(code, msg) = object_body(b"[1]").expect_err("array");
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert!(msg.contains("JSON object"), "{msg}");
        let Refusal(_, msg) = object_body(b"{\n \"input\": ").expect_err("cut");
        assert!(msg.contains("line 2"), "{msg}");
    }
}
