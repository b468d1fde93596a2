//! Where the agent's spans and log lines go. Log lines: JSON on stderr (the awslogs driver ships
//! them to the agent's log group). Spans: OpenTelemetry over OTLP/HTTP (JSON) to the collector
//! `OTEL_EXPORTER_OTLP_ENDPOINT` names (in AWS the cell's ADOT collector, `modules/collector`, which
//! forwards to X-Ray). Without that variable no exporter exists, and spans cost what `tracing` costs.
//!
//! Owns: the subscriber, the exporter and its flush at exit. Must never: export a field that holds
//! a message's, a mail's or a secret's content (span fields are the only attributes exported,
//! and the spans' fields are figures, names and ids).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The exporter, flushed when dropped (at exit).
pub struct Telemetry(Option<SdkTracerProvider>);

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the subscriber. `tenant` and `agent` become resource attributes of every span.
pub fn init(endpoint: Option<&str>, tenant: &str, agent: &str) -> Telemetry {
    let provider = endpoint.and_then(|e| match exporter(e) {
        Ok(x) => Some(
            SdkTracerProvider::builder()
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("openclaw-agent")
                        .with_attributes([
                            KeyValue::new("openclaw.tenant", tenant.to_owned()),
                            KeyValue::new("openclaw.agent", agent.to_owned()),
                        ])
                        .build(),
                )
                .with_batch_exporter(x)
                .build(),
        ),
        Err(e) => {
            eprintln!("openclaw-agent: tracing export off: {e}");
            None
        }
    });
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("openclaw-agent")));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::stderr),
        )
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

/// The OpenTelemetry trace id of the current span, when spans are exported.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let id = cx.span().span_context().trace_id();
    (id != opentelemetry::trace::TraceId::INVALID).then(|| id.to_string())
}
