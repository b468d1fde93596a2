//! AWS clients for one cell: built once, with the cell's region and optional endpoint override,
//! attempt and operation timeouts, and an interceptor that counts every attempt (the SDK's own
//! retries included) by service, operation and outcome (the AWS error code), so metrics and tests
//! see exactly what went on the wire. The same interceptor charges each retry to its token bucket
//! and tells the bucket of every throttle and success, so the client rate adapts.
//!
//! Owns: client construction, call accounting, error classification. Must never: log a request
//! or response body (secret values travel in them).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::config::{AwsTimeouts, CellConfig};
pub use crate::error::{is_throttle, AwsError};
use crate::metrics::Metrics;
use crate::throttle::{Bucket, Throttle};

/// Calls made through one set of clients: totals for tests and benchmarks.
#[derive(Debug, Default)]
pub struct CallCounter {
    pub total: AtomicU64,
    pub writes: AtomicU64,
}

impl CallCounter {
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.total.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }
}

/// Reads are Describe/List/Get (and their Batch forms); everything else changes something.
pub fn is_write(operation: &str) -> bool {
    let operation = operation.strip_prefix("Batch").unwrap_or(operation);
    !["Describe", "List", "Get"]
        .iter()
        .any(|p| operation.starts_with(p))
}

#[derive(Debug, Clone)]
struct StartedAt(Instant);
impl Storable for StartedAt {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
struct Accounting {
    metrics: Arc<Metrics>,
    counter: Arc<CallCounter>,
    throttle: Arc<Throttle>,
}

fn service_and_operation(cfg: &ConfigBag) -> (String, String) {
    cfg.load::<Metadata>()
        .map(|m| (m.service().to_owned(), m.name().to_owned()))
        .unwrap_or_else(|| ("unknown".into(), "unknown".into()))
}

impl Intercept for Accounting {
    fn name(&self) -> &'static str {
        "OpenClawAccounting"
    }

    fn modify_before_signing(
        &self,
        _context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(StartedAt(Instant::now()));
        // The caller paid for the first attempt; a retry pays as it goes out.
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1)
        {
            let (service, operation) = service_and_operation(cfg);
            if let Some(bucket) = Bucket::of(&service, &operation) {
                self.throttle.charge(bucket);
            }
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = service_and_operation(cfg);
        let outcome = match context.response() {
            Some(resp) if resp.status().is_success() => "ok".to_owned(),
            Some(resp) => error_code(
                resp.headers().get("x-amzn-errortype"),
                resp.body().bytes(),
                resp.status().as_u16(),
            ),
            None => "transport_error".to_owned(),
        };
        let seconds = cfg
            .load::<StartedAt>()
            .map(|s| s.0.elapsed().as_secs_f64())
            .unwrap_or_default();
        self.counter.total.fetch_add(1, Ordering::Relaxed);
        if is_write(&operation) {
            self.counter.writes.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(bucket) = Bucket::of(&service, &operation) {
            if is_throttle(&outcome) {
                self.throttle.throttled(bucket);
            } else if outcome == "ok" {
                self.throttle.succeeded(bucket);
            }
        }
        self.metrics
            .observe_aws_call(&service, &operation, &outcome, seconds);
        Ok(())
    }
}

/// The AWS error code of a failed response: the `x-amzn-ErrorType` header (JSON protocols), the
/// body's `__type` or `<Code>` (query protocols), else `http_<status>`. Never the message.
pub fn error_code(header: Option<&str>, body: Option<&[u8]>, status: u16) -> String {
    let clean = |s: &str| -> String {
        let s = s.split(':').next().unwrap_or(s);
        let s = s.rsplit('#').next().unwrap_or(s);
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .take(64)
            .collect()
    };
    if let Some(h) = header {
        let code = clean(h);
        if !code.is_empty() {
            return code;
        }
    }
    if let Some(body) = body {
        let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if let Some(t) = v.get("__type").and_then(|t| t.as_str()) {
                let code = clean(t);
                if !code.is_empty() {
                    return code;
                }
            }
        }
        if let Some(start) = text.find("<Code>") {
            if let Some(len) = text[start + 6..].find("</Code>") {
                let code = clean(&text[start + 6..start + 6 + len]);
                if !code.is_empty() {
                    return code;
                }
            }
        }
    }
    format!("http_{status}")
}

/// The clients of one cell.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub iam: aws_sdk_iam::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub rds: aws_sdk_rds::Client,
    pub s3: aws_sdk_s3::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The Resource Groups Tagging API: the tags of many log groups in one call.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub counter: Arc<CallCounter>,
    pub throttle: Arc<Throttle>,
}

impl Clients {
    pub async fn new(
        cell: &CellConfig,
        metrics: Arc<Metrics>,
        throttle: Throttle,
        timeouts: AwsTimeouts,
    ) -> Clients {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(cell.region.clone()))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(timeouts.connect)
                    .operation_attempt_timeout(timeouts.attempt)
                    .operation_timeout(timeouts.operation)
                    .build(),
            );
        if let Some(endpoint) = &cell.aws_endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        let counter = Arc::new(CallCounter::default());
        let throttle = Arc::new(throttle);
        let acct = || Accounting {
            metrics: metrics.clone(),
            counter: counter.clone(),
            throttle: throttle.clone(),
        };
        Clients {
            ecs: aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(&sdk)
                    .interceptor(acct())
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&sdk)
                    .interceptor(acct())
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(&sdk)
                    .interceptor(acct())
                    .build(),
            ),
            rds: aws_sdk_rds::Client::from_conf(
                aws_sdk_rds::config::Builder::from(&sdk)
                    .interceptor(acct())
                    .build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    // An endpoint override (the emulator) takes the bucket in the path.
                    .force_path_style(cell.aws_endpoint_url.is_some())
                    .interceptor(acct())
                    .build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(&sdk)
                    .interceptor(acct())
                    .build(),
            ),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
                aws_sdk_resourcegroupstagging::config::Builder::from(&sdk)
                    .interceptor(acct())
                    .build(),
            ),
            counter,
            throttle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_from_each_protocol() {
        assert_eq!(
            error_code(
                Some("ThrottlingException:http://internal.amazon.com/"),
                None,
                400
            ),
            "ThrottlingException"
        );
        assert_eq!(
            error_code(
                None,
                Some(br#"{"__type":"com.amazonaws.ecs#ClientException","message":"x"}"#),
                400
            ),
            "ClientException"
        );
        assert_eq!(
            error_code(
                None,
                Some(b"<ErrorResponse><Error><Code>NoSuchEntity</Code><Message>secret stuff</Message></Error></ErrorResponse>"),
                404
            ),
            "NoSuchEntity"
        );
        assert_eq!(error_code(None, Some(b"<html>500</html>"), 500), "http_500");
        assert_eq!(
            error_code(Some("Bad Code<script>"), None, 400),
            "BadCodescript"
        );
    }

    #[test]
    fn writes_are_everything_but_reads() {
        for op in [
            "DescribeServices",
            "ListSecrets",
            "GetRolePolicy",
            "BatchGetSecretValue",
        ] {
            assert!(!is_write(op), "{op}");
        }
        for op in [
            "CreateService",
            "PutRolePolicy",
            "TagResource",
            "RestoreSecret",
            "BatchDeleteItem",
        ] {
            assert!(is_write(op), "{op}");
        }
    }

    #[test]
    fn throttle_codes() {
        assert!(is_throttle("ThrottlingException"));
        assert!(is_throttle("Throttling"));
        assert!(!is_throttle("AccessDenied"));
    }
}
