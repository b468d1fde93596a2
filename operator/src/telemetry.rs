//! Where the operator's log lines and spans go. Log lines: stderr, JSON with
//! `OPENCLAW_LOG_FORMAT=json`, level from `RUST_LOG`. Spans: OpenTelemetry over OTLP/HTTP (JSON)
//! to the collector `OTEL_EXPORTER_OTLP_ENDPOINT` names (in AWS the ADOT collector, which forwards
//! to X-Ray): one span per reconcile (`reconcile::Reconciler::reconcile`) and, beneath it, the AWS
//! SDK's own span per operation (`ECS.CreateService`, …), which this module lets through to the
//! exporter only. Without the variable no exporter exists.
//!
//! Owns: the subscriber, the exporter and its flush at exit. Must never: export a span field that
//! holds a secret (the operator's spans carry tenant names, verbs and outcomes; the SDK's carry the
//! service, the operation and an invocation id).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The SDK crates whose operation spans are exported.
const SDK_OPERATION_SPANS: [&str; 8] = [
    "aws_sdk_ecs=debug",
    "aws_sdk_iam=debug",
    "aws_sdk_secretsmanager=debug",
    "aws_sdk_rds=debug",
    "aws_sdk_s3=debug",
    "aws_sdk_cloudwatchlogs=debug",
    "aws_sdk_resourcegroupstagging=debug",
    "aws_sdk_sts=debug",
];

/// The exporter, flushed when dropped (at exit).
pub struct Telemetry(Option<SdkTracerProvider>);

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the subscriber for `service` (`openclaw-operator`, …).
pub fn init(service: &'static str) -> Telemetry {
    let endpoint = std::env::var(ENDPOINT).ok().filter(|e| !e.is_empty());
    let provider = endpoint.and_then(|e| match exporter(&e) {
        Ok(x) => Some(
            SdkTracerProvider::builder()
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(service)
                        .build(),
                )
                .with_batch_exporter(x)
                .build(),
        ),
        Err(e) => {
            eprintln!("openclaw: tracing export off: {e}");
            None
        }
    });
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "info".to_owned());
    // With export on, the SDK's one span per AWS operation (a debug span of the service crate's
    // target, `Service.Operation`) is let through; the runtime's inner spans are not.
    let directives = if provider.is_some() {
        format!("{base},{}", SDK_OPERATION_SPANS.join(","))
    } else {
        base
    };
    let env = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if std::env::var("OPENCLAW_LOG_FORMAT").as_deref() == Ok("json") {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    let _ = tracing_subscriber::registry()
        .with(env)
        .with(fmt)
        .with(otel)
        .try_init();
    Telemetry(provider)
}

fn exporter(endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let base = endpoint.trim_end_matches('/');
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(format!("{base}/v1/traces"))
        .build()
        .map_err(|e| e.to_string())
}
