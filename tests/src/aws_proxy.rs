//! A proxy in front of the emulator that behaves like AWS under load: it enforces the published
//! per-account buckets (moto enforces none), answers a throttled call with AWS's own error in
//! the service's protocol, injects faults with set probabilities from a seed, and counts every
//! call by service, action and outcome. It binds to 127.0.0.1 only and stops by itself when the
//! test's runtime ends or after its lifetime.
//!
//! Buckets are per access key (the account, as moto reads it), region and API bucket.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What AWS publishes (or, where it publishes nothing, what we assume) for one call:
/// (bucket name, burst, sustained per second). Calls with one bucket name share it.
pub fn bucket(service: &str, action: &str) -> (String, f64, f64) {
    let own = |burst: f64, rate: f64| (format!("{service}:{action}"), burst, rate);
    let shared = |name: &str, burst: f64, rate: f64| (format!("{service}:{name}"), burst, rate);
    match (service, action) {
        // ECS (developerguide/request-throttling.html).
        ("ecs", "RegisterTaskDefinition" | "DeregisterTaskDefinition") => {
            shared("TaskDefinitionWrite", 20.0, 1.0)
        }
        ("ecs", "DeleteTaskDefinitions") => own(20.0, 1.0),
        ("ecs", "CreateService" | "UpdateService" | "DeleteService") => own(50.0, 5.0),
        ("ecs", "DescribeTaskDefinition" | "ListTaskDefinitions") => own(50.0, 20.0),
        ("ecs", "TagResource" | "UntagResource") => shared("Tag", 20.0, 10.0),
        ("ecs", _) => own(100.0, 20.0),
        // Secrets Manager (reference_limits.html).
        ("secretsmanager", "GetSecretValue" | "DescribeSecret") => {
            shared("GetDescribe", 10_000.0, 10_000.0)
        }
        ("secretsmanager", "ListSecrets" | "BatchGetSecretValue") => own(100.0, 100.0),
        ("secretsmanager", _) => own(50.0, 50.0),
        // IAM publishes no rate; it is account-global and low. Twice the operator's own pacing.
        ("iam", _) => shared("all", 40.0, 20.0),
        // CloudWatch Logs (cloudwatch_limits_cwl.html).
        ("logs", "DescribeLogGroups") => own(10.0, 10.0),
        ("logs", _) => own(5.0, 5.0),
        // Unpublished: twice the operator's own pacing.
        ("tagging", _) => own(10.0, 10.0),
        ("s3", _) => own(3_500.0, 3_500.0),
        _ => own(100.0, 100.0),
    }
}

/// The faults to inject, each with its probability per call (they add up to at most 1).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub seed: u64,
    pub http_500: f64,
    pub http_503: f64,
    /// The connection is dropped before the call reaches the emulator.
    pub reset: f64,
    /// The call is held past the client's timeout (`hold`), and never reaches the emulator.
    pub timeout: f64,
    /// The call reaches the emulator and commits, and the client gets a 500.
    pub commit_then_500: f64,
    pub hold: Duration,
    /// Actions whose first attempt of each distinct request commits and is answered with a 500;
    /// the client's retries of that request (the same body) pass (on top of the above).
    pub commit_then_500_first: Vec<String>,
}

impl Faults {
    /// About `p` of all calls, spread evenly over the five kinds of fault.
    pub fn mixed(seed: u64, p: f64, hold: Duration) -> Faults {
        let each = p / 5.0;
        Faults {
            seed,
            http_500: each,
            http_503: each,
            reset: each,
            timeout: each,
            commit_then_500: each,
            hold,
            ..Faults::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Http500,
    Http503,
    Reset,
    Timeout,
    CommitThen500,
}

/// The outcome of one call as counted: `ok`, the emulator's error status, `throttled` or a fault.
pub type Counts = BTreeMap<(String, String, String), u64>;

struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

struct Inner {
    upstream: String,
    http: reqwest::Client,
    /// Multiplies every published rate and burst (1.0: AWS's own).
    scale: Mutex<f64>,
    faults: Mutex<Faults>,
    rng: Mutex<StdRng>,
    buckets: Mutex<HashMap<(String, String, String), TokenBucket>>,
    /// Requests already answered with a commit-then-500, by action and body.
    seen: Mutex<std::collections::HashSet<(String, Bytes)>>,
    counts: Mutex<Counts>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running proxy; dropping it does not stop it (the runtime or the lifetime does).
#[derive(Clone)]
pub struct AwsProxy {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl AwsProxy {
    /// Starts a proxy to `upstream` that enforces the published buckets times `scale`, injects
    /// nothing yet, and stops after `lifetime`.
    pub async fn start(upstream: &str, scale: f64, lifetime: Duration) -> AwsProxy {
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("http client"),
            scale: Mutex::new(scale),
            faults: Mutex::new(Faults::default()),
            rng: Mutex::new(StdRng::seed_from_u64(0)),
            buckets: Mutex::new(HashMap::new()),
            seen: Mutex::new(std::collections::HashSet::new()),
            counts: Mutex::new(Counts::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the AWS proxy");
        let addr = listener.local_addr().expect("proxy address");
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = tokio::time::timeout(lifetime, axum::serve(listener, app)).await;
        });
        AwsProxy { addr, inner }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.inner.rng) = StdRng::seed_from_u64(faults.seed);
        *lock(&self.inner.faults) = faults;
    }

    pub fn counts(&self) -> Counts {
        lock(&self.inner.counts).clone()
    }

    /// Calls counted with `outcome` (every service and action).
    pub fn total(&self, outcome: &str) -> u64 {
        self.counts()
            .iter()
            .filter(|((_, _, o), _)| o == outcome)
            .map(|(_, n)| n)
            .sum()
    }

    /// Calls of `action` with any outcome.
    pub fn calls_of(&self, action: &str) -> u64 {
        self.counts()
            .iter()
            .filter(|((_, a, _), _)| a == action)
            .map(|(_, n)| n)
            .sum()
    }

    /// Spends `n` tokens of the bucket of `action` as another client of the account would.
    pub fn spend(&self, access_key: &str, region: &str, service: &str, action: &str, n: u32) {
        for _ in 0..n {
            take(&self.inner, access_key, region, service, action);
        }
    }

    pub fn reset_counts(&self) {
        lock(&self.inner.counts).clear();
    }
}

/// (access key, region, service) from a SigV4 `Authorization` header.
pub fn credential_scope(headers: &HeaderMap) -> Option<(String, String, String)> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    let mut parts = cred.split('/');
    let key = parts.next()?.to_owned();
    let _date = parts.next()?;
    let region = parts.next()?.to_owned();
    let service = parts.next()?.to_owned();
    Some((key, region, service))
}

/// The action of a call: the JSON protocols' `X-Amz-Target`, the query protocols' `Action`, or
/// for S3 the REST method and query.
pub fn action(service: &str, method: &str, uri: &str, headers: &HeaderMap, body: &[u8]) -> String {
    if let Some(t) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return t.rsplit('.').next().unwrap_or(t).to_owned();
    }
    let query = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
    for kv in std::str::from_utf8(body)
        .unwrap_or("")
        .split('&')
        .chain(query.split('&'))
    {
        if let Some(a) = kv.strip_prefix("Action=") {
            return a.to_owned();
        }
    }
    if service == "s3" {
        let has = |k: &str| {
            query
                .split('&')
                .any(|kv| kv == k || kv.starts_with(&format!("{k}=")))
        };
        return match method {
            "GET" if has("versions") => "ListObjectVersions",
            "GET" if has("list-type") => "ListObjectsV2",
            "GET" => "GetObject",
            "POST" if has("delete") => "DeleteObjects",
            "PUT" => "PutObject",
            "DELETE" => "DeleteObject",
            "HEAD" => "HeadObject",
            _ => "Other",
        }
        .to_owned();
    }
    "Unknown".to_owned()
}

/// Whether the service speaks a query protocol (XML errors) rather than JSON.
fn is_query(service: &str) -> bool {
    matches!(service, "iam" | "sts" | "rds" | "s3" | "ec2")
}

/// Takes a token from the call's bucket: `true` if there was one.
fn take(inner: &Inner, key: &str, region: &str, service: &str, action: &str) -> bool {
    let (name, burst, rate) = bucket(service, action);
    let scale = *lock(&inner.scale);
    let (burst, rate) = (burst * scale.max(1.0), rate * scale);
    let now = Instant::now();
    let mut buckets = lock(&inner.buckets);
    let b = buckets
        .entry((key.to_owned(), region.to_owned(), name))
        .or_insert(TokenBucket {
            tokens: burst,
            updated: now,
        });
    b.tokens = (b.tokens + now.duration_since(b.updated).as_secs_f64() * rate).min(burst);
    b.updated = now;
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        true
    } else {
        false
    }
}

/// AWS's throttling answer in the service's protocol.
pub fn throttled(service: &str) -> Response {
    let mut r = if is_query(service) {
        let code = if service == "s3" {
            "SlowDown"
        } else {
            "Throttling"
        };
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
        );
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = if service == "s3" {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_REQUEST
        };
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("text/xml"));
        r
    } else {
        let mut r = Response::new(Body::from(
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        r.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        r.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static("ThrottlingException"),
        );
        r
    };
    r.headers_mut()
        .insert("x-amzn-requestid", HeaderValue::from_static("proxy"));
    r
}

/// A server error in the service's protocol (`InternalFailure` 500 or `ServiceUnavailable` 503).
fn server_error(service: &str, status: StatusCode) -> Response {
    let code = if status == StatusCode::SERVICE_UNAVAILABLE {
        "ServiceUnavailable"
    } else {
        "InternalFailure"
    };
    let body = if is_query(service) {
        format!("<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>injected</Message></Error><RequestId>proxy</RequestId></ErrorResponse>")
    } else {
        format!(r#"{{"__type":"{code}","message":"injected"}}"#)
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r
}

/// A response whose body fails at once: the client sees the connection dropped.
fn reset() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        ))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert("content-length", HeaderValue::from_static("100"));
    r
}

fn pick_fault(inner: &Inner, action: &str, body: &Bytes) -> Option<Fault> {
    let f = lock(&inner.faults).clone();
    if f.commit_then_500_first.iter().any(|a| a == action)
        && lock(&inner.seen).insert((action.to_owned(), body.clone()))
    {
        return Some(Fault::CommitThen500);
    }
    let x: f64 = lock(&inner.rng).random();
    let mut edge = 0.0;
    for (p, fault) in [
        (f.http_500, Fault::Http500),
        (f.http_503, Fault::Http503),
        (f.reset, Fault::Reset),
        (f.timeout, Fault::Timeout),
        (f.commit_then_500, Fault::CommitThen500),
    ] {
        edge += p;
        if x < edge {
            return Some(fault);
        }
    }
    None
}

fn count(inner: &Inner, service: &str, action: &str, outcome: &str) {
    *lock(&inner.counts)
        .entry((service.to_owned(), action.to_owned(), outcome.to_owned()))
        .or_default() += 1;
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return server_error("unknown", StatusCode::INTERNAL_SERVER_ERROR);
    };
    let uri = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    // The emulator's own API (reset, state) passes through uncounted.
    let scope = credential_scope(&parts.headers);
    let (key, region, service) = match scope {
        Some(s) if !uri.starts_with("/moto-api") => s,
        _ => return forward(&inner, &parts, &uri, body).await,
    };
    let action = action(&service, parts.method.as_str(), &uri, &parts.headers, &body);
    if !take(&inner, &key, &region, &service, &action) {
        count(&inner, &service, &action, "throttled");
        return throttled(&service);
    }
    let fault = pick_fault(&inner, &action, &body);
    match fault {
        Some(Fault::Http500) => {
            count(&inner, &service, &action, "fault_500");
            server_error(&service, StatusCode::INTERNAL_SERVER_ERROR)
        }
        Some(Fault::Http503) => {
            count(&inner, &service, &action, "fault_503");
            server_error(&service, StatusCode::SERVICE_UNAVAILABLE)
        }
        Some(Fault::Reset) => {
            count(&inner, &service, &action, "fault_reset");
            reset()
        }
        Some(Fault::Timeout) => {
            count(&inner, &service, &action, "fault_timeout");
            let hold = lock(&inner.faults).hold;
            tokio::time::sleep(hold).await;
            server_error(&service, StatusCode::INTERNAL_SERVER_ERROR)
        }
        Some(Fault::CommitThen500) => {
            // The fault only when the call did commit; a call that failed gets its own answer.
            let r = forward(&inner, &parts, &uri, body).await;
            if !r.status().is_success() {
                count(
                    &inner,
                    &service,
                    &action,
                    &format!("http_{}", r.status().as_u16()),
                );
                return r;
            }
            count(&inner, &service, &action, "fault_commit_then_500");
            server_error(&service, StatusCode::INTERNAL_SERVER_ERROR)
        }
        None => {
            let r = forward(&inner, &parts, &uri, body).await;
            let outcome = if r.status().is_success() {
                "ok".to_owned()
            } else {
                format!("http_{}", r.status().as_u16())
            };
            count(&inner, &service, &action, &outcome);
            r
        }
    }
}

async fn forward(
    inner: &Inner,
    parts: &axum::http::request::Parts,
    uri: &str,
    body: Bytes,
) -> Response {
    let mut req = inner
        .http
        .request(parts.method.clone(), format!("{}{uri}", inner.upstream));
    for (k, v) in &parts.headers {
        if !matches!(
            k.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            req = req.header(k, v);
        }
    }
    let Ok(resp) = req.body(body).send().await else {
        return server_error("unknown", StatusCode::BAD_GATEWAY);
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    for (k, v) in &headers {
        if !matches!(
            k.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            r.headers_mut().append(k, v.clone());
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_definition_writes_share_one_bucket_at_one_a_second() {
        let (a, burst, rate) = bucket("ecs", "RegisterTaskDefinition");
        let (b, ..) = bucket("ecs", "DeregisterTaskDefinition");
        assert_eq!((a.as_str(), burst, rate), (b.as_str(), 20.0, 1.0));
        assert_ne!(
            bucket("ecs", "CreateService").0,
            bucket("ecs", "UpdateService").0
        );
        assert_eq!(bucket("ecs", "DescribeTaskDefinition").1, 50.0);
    }

    #[test]
    fn actions_from_each_protocol() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonEC2ContainerServiceV20141113.CreateService"),
        );
        assert_eq!(action("ecs", "POST", "/", &h, b""), "CreateService");
        let h = HeaderMap::new();
        assert_eq!(
            action(
                "iam",
                "POST",
                "/",
                &h,
                b"Action=CreateRole&Version=2010-05-08"
            ),
            "CreateRole"
        );
        assert_eq!(
            action("s3", "GET", "/b?versions&prefix=x", &h, b""),
            "ListObjectVersions"
        );
        assert_eq!(action("s3", "POST", "/b?delete", &h, b""), "DeleteObjects");
    }

    #[test]
    fn the_scope_names_account_region_and_service() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static(
            "AWS4-HMAC-SHA256 Credential=testing/20261204/eu-west-1/iam/aws4_request, SignedHeaders=host, Signature=x",
        ));
        assert_eq!(
            credential_scope(&h),
            Some(("testing".into(), "eu-west-1".into(), "iam".into()))
        );
    }
}
