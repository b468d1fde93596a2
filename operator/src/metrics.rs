//! The operator's Prometheus metrics, all prefixed `openclaw_`.
//!
//! Owns: metric names, labels and their cardinality. Per-tenant labels appear only on the
//! per-tenant series, never on histograms. Must never: put a secret, an error message or any
//! unbounded user string in a label (AWS error codes are sanitised to [A-Za-z0-9_.], 64 chars).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Reasons a cell's database can be non-compliant (`openclaw_cell_noncompliant{reason}`).
pub const NONCOMPLIANCE_REASONS: [&str; 3] = [
    "storage_unencrypted",
    "publicly_accessible",
    "iam_auth_disabled",
];

/// What one resync measured, as the gauges show it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResyncFigures {
    pub duration: std::time::Duration,
    pub inventory_size: usize,
    pub aws_calls: u64,
    pub aws_writes: u64,
    pub orphans: usize,
    pub orphans_removed: usize,
}

#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: IntCounterVec,
    pub reconcile_duration: Histogram,
    pub queue_depth: IntGauge,
    pub queue_wait: Histogram,
    pub in_flight: IntGauge,
    pub leader: IntGauge,
    pub tenants_by_phase: IntGaugeVec,
    pub tenant_condition: IntGaugeVec,
    pub aws_requests: IntCounterVec,
    pub aws_request_duration: HistogramVec,
    pub aws_throttles: IntCounterVec,
    pub actions: IntCounterVec,
    /// Tenant database sessions the session guard ended, by reason.
    pub tenant_sessions_ended: IntCounterVec,
    pub drift_detected: IntCounterVec,
    pub drift_repaired: IntCounterVec,
    pub resync_duration: Histogram,
    pub last_resync: prometheus::Gauge,
    pub inventory_size: IntGauge,
    pub last_resync_aws_calls: IntGauge,
    pub last_resync_aws_writes: IntGauge,
    pub orphans: IntGauge,
    pub orphans_removed: prometheus::IntCounter,
    pub resync_interval: IntGauge,
    pub agents: IntGaugeVec,
    pub tenant_not_ready_since: prometheus::GaugeVec,
    pub bedrock_input_tokens: prometheus::CounterVec,
    pub bedrock_output_tokens: prometheus::CounterVec,
    pub bedrock_cost_usd: prometheus::CounterVec,
    pub fargate_vcpu_seconds: prometheus::CounterVec,
    pub fargate_memory_byte_seconds: prometheus::CounterVec,
    pub fargate_cost_usd: prometheus::CounterVec,
    pub cell_noncompliant: IntGaugeVec,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are constants; a failure here is a programming error caught by tests.
    r.unwrap_or_else(|e| panic!("metric definition: {e}"))
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let reconciles = must(IntCounterVec::new(
            Opts::new("openclaw_reconciles_total", "Tenant reconciles by result."),
            &["result"],
        ));
        let reconcile_duration = must(Histogram::with_opts(
            HistogramOpts::new(
                "openclaw_reconcile_duration_seconds",
                "Time to reconcile one tenant.",
            )
            .buckets(vec![
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
            ]),
        ));
        let queue_depth = must(IntGauge::new(
            "openclaw_queue_depth",
            "Tenants waiting in the work queue.",
        ));
        let queue_wait = must(Histogram::with_opts(
            HistogramOpts::new(
                "openclaw_queue_wait_seconds",
                "Time a due tenant waited for a worker.",
            )
            .buckets(vec![0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0]),
        ));
        let in_flight = must(IntGauge::new(
            "openclaw_reconciles_in_flight",
            "Reconciles running now.",
        ));
        let leader = must(IntGauge::new(
            "openclaw_leader",
            "1 when this replica holds the leader lease.",
        ));
        let build_info = must(IntGaugeVec::new(
            Opts::new("openclaw_build_info", "Build information; always 1."),
            &["version"],
        ));
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let tenants_by_phase = must(IntGaugeVec::new(
            Opts::new("openclaw_tenants", "Tenants by phase."),
            &["phase"],
        ));
        let tenant_condition = must(IntGaugeVec::new(
            Opts::new(
                "openclaw_tenant_condition",
                "1 when the tenant's condition holds (Ready, Degraded, Failed, Paused).",
            ),
            &["tenant", "condition"],
        ));
        let aws_requests = must(IntCounterVec::new(
            Opts::new(
                "openclaw_aws_requests_total",
                "AWS API calls by service, operation and outcome (ok or the AWS error code).",
            ),
            &["service", "operation", "outcome"],
        ));
        let aws_request_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "openclaw_aws_request_duration_seconds",
                "AWS API call latency by service.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["service"],
        ));
        let aws_throttles = must(IntCounterVec::new(
            Opts::new(
                "openclaw_aws_throttles_total",
                "AWS calls refused by throttling.",
            ),
            &["service", "operation"],
        ));
        let actions = must(IntCounterVec::new(
            Opts::new(
                "openclaw_actions_total",
                "Changes applied to managed resources, by resource kind and action.",
            ),
            &["resource", "action"],
        ));
        let tenant_sessions_ended = must(IntCounterVec::new(
            Opts::new(
                "openclaw_tenant_sessions_ended_total",
                "Tenant database sessions ended for running past their tier's limit, by reason (statement or idle_in_transaction).",
            ),
            &["reason"],
        ));
        let drift_detected = must(IntCounterVec::new(
            Opts::new(
                "openclaw_drift_detected_total",
                "Drift found by the resync, by resource kind; security=true when access was widened.",
            ),
            &["resource", "security"],
        ));
        let drift_repaired = must(IntCounterVec::new(
            Opts::new(
                "openclaw_drift_repaired_total",
                "Drift repaired, by resource kind; security=true when access was widened.",
            ),
            &["resource", "security"],
        ));
        let resync_duration = must(Histogram::with_opts(
            HistogramOpts::new(
                "openclaw_resync_duration_seconds",
                "Time to build the inventory and diff every tenant.",
            )
            .buckets(vec![0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0]),
        ));
        let last_resync = must(prometheus::Gauge::new(
            "openclaw_last_resync_timestamp_seconds",
            "Unix time the last resync completed.",
        ));
        let inventory_size = must(IntGauge::new(
            "openclaw_inventory_resources",
            "Resources in the last resync's inventory.",
        ));
        let last_resync_aws_calls = must(IntGauge::new(
            "openclaw_last_resync_aws_calls",
            "AWS calls the last resync made.",
        ));
        let last_resync_aws_writes = must(IntGauge::new(
            "openclaw_last_resync_aws_writes",
            "AWS write calls the last resync made (orphan removal only).",
        ));
        let orphans = must(IntGauge::new(
            "openclaw_orphans",
            "Resources with our tags and no tenant row, at the last resync.",
        ));
        let orphans_removed = must(prometheus::IntCounter::new(
            "openclaw_orphans_removed_total",
            "Orphaned resources removed after the grace period.",
        ));
        let resync_interval = must(IntGauge::new(
            "openclaw_resync_interval_seconds",
            "The configured resync interval.",
        ));
        let agents = must(IntGaugeVec::new(
            Opts::new("openclaw_agents", "Agents by tenant, kind and state."),
            &["tenant", "kind", "state"],
        ));
        let tenant_not_ready_since = must(prometheus::GaugeVec::new(
            Opts::new(
                "openclaw_tenant_not_ready_since_timestamp_seconds",
                "Unix time the tenant's Ready condition turned False (or it was created); no \
                 series while Ready.",
            ),
            &["tenant"],
        ));
        let per_tenant_counter = |name: &str, help: &str, labels: &[&str]| {
            must(prometheus::CounterVec::new(Opts::new(name, help), labels))
        };
        let bedrock_input_tokens = per_tenant_counter(
            "openclaw_tenant_bedrock_input_tokens_total",
            "Bedrock input tokens used by the tenant's agents.",
            &["tenant", "model"],
        );
        let bedrock_output_tokens = per_tenant_counter(
            "openclaw_tenant_bedrock_output_tokens_total",
            "Bedrock output tokens used by the tenant's agents.",
            &["tenant", "model"],
        );
        let bedrock_cost_usd = per_tenant_counter(
            "openclaw_tenant_bedrock_cost_usd_total",
            "Bedrock cost of the tenant's agents, priced from the configured table.",
            &["tenant"],
        );
        let fargate_vcpu_seconds = per_tenant_counter(
            "openclaw_tenant_fargate_vcpu_seconds_total",
            "Fargate vCPU-seconds of the tenant's running tasks.",
            &["tenant"],
        );
        let fargate_memory_byte_seconds = per_tenant_counter(
            "openclaw_tenant_fargate_memory_byte_seconds_total",
            "Fargate memory of the tenant's running tasks, in byte-seconds.",
            &["tenant"],
        );
        let fargate_cost_usd = per_tenant_counter(
            "openclaw_tenant_fargate_cost_usd_total",
            "Fargate cost of the tenant's running tasks, priced from the configured table.",
            &["tenant"],
        );
        let cell_noncompliant = must(IntGaugeVec::new(
            Opts::new(
                "openclaw_cell_noncompliant",
                "1 when the cell's database fails a compliance check (reason).",
            ),
            &["reason"],
        ));
        for c in [
            Box::new(resync_interval.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(agents.clone()),
            Box::new(tenant_not_ready_since.clone()),
            Box::new(bedrock_input_tokens.clone()),
            Box::new(bedrock_output_tokens.clone()),
            Box::new(bedrock_cost_usd.clone()),
            Box::new(fargate_vcpu_seconds.clone()),
            Box::new(fargate_memory_byte_seconds.clone()),
            Box::new(fargate_cost_usd.clone()),
            Box::new(cell_noncompliant.clone()),
        ] {
            must(registry.register(c));
        }
        for c in [
            Box::new(drift_detected.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(drift_repaired.clone()),
            Box::new(resync_duration.clone()),
            Box::new(last_resync.clone()),
            Box::new(inventory_size.clone()),
            Box::new(last_resync_aws_calls.clone()),
            Box::new(last_resync_aws_writes.clone()),
            Box::new(orphans.clone()),
            Box::new(orphans_removed.clone()),
        ] {
            must(registry.register(c));
        }
        for c in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(reconcile_duration.clone()),
            Box::new(queue_depth.clone()),
            Box::new(queue_wait.clone()),
            Box::new(in_flight.clone()),
            Box::new(leader.clone()),
            Box::new(build_info),
            Box::new(tenants_by_phase.clone()),
            Box::new(tenant_condition.clone()),
            Box::new(aws_requests.clone()),
            Box::new(aws_request_duration.clone()),
            Box::new(aws_throttles.clone()),
            Box::new(actions.clone()),
            Box::new(tenant_sessions_ended.clone()),
        ] {
            must(registry.register(c));
        }
        let m = Metrics {
            registry,
            tenant_sessions_ended,
            reconciles,
            reconcile_duration,
            queue_depth,
            queue_wait,
            in_flight,
            leader,
            tenants_by_phase,
            tenant_condition,
            aws_requests,
            aws_request_duration,
            aws_throttles,
            actions,
            drift_detected,
            drift_repaired,
            resync_duration,
            last_resync,
            inventory_size,
            last_resync_aws_calls,
            last_resync_aws_writes,
            orphans,
            orphans_removed,
            resync_interval,
            agents,
            tenant_not_ready_since,
            bedrock_input_tokens,
            bedrock_output_tokens,
            bedrock_cost_usd,
            fargate_vcpu_seconds,
            fargate_memory_byte_seconds,
            fargate_cost_usd,
            cell_noncompliant,
        };
        m.precreate();
        m
    }

    /// Creates the labelled series that alerts and dashboards read at 0, so that they exist
    /// (and `increase()` sees their first change) before anything happens.
    pub fn precreate(&self) {
        for result in ["ok", "error", "terminal_error"] {
            self.reconciles.with_label_values(&[result]);
        }
        for resource in crate::kind::Kind::ALL.map(crate::kind::Kind::as_str) {
            for security in ["true", "false"] {
                self.drift_detected.with_label_values(&[resource, security]);
                self.drift_repaired.with_label_values(&[resource, security]);
            }
        }
        for reason in NONCOMPLIANCE_REASONS {
            self.cell_noncompliant.with_label_values(&[reason]);
        }
    }

    pub fn record_drift(&self, kind: crate::kind::Kind, security: bool) {
        self.drift_detected
            .with_label_values(&[kind.as_str(), if security { "true" } else { "false" }])
            .inc();
    }

    pub fn record_repair(&self, kind: crate::kind::Kind, security: bool) {
        self.drift_repaired
            .with_label_values(&[kind.as_str(), if security { "true" } else { "false" }])
            .inc();
    }

    pub fn record_resync(&self, r: &ResyncFigures) {
        self.resync_duration.observe(r.duration.as_secs_f64());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        self.last_resync.set(now);
        self.inventory_size.set(r.inventory_size as i64);
        self.last_resync_aws_calls.set(r.aws_calls as i64);
        self.last_resync_aws_writes.set(r.aws_writes as i64);
        self.orphans.set(r.orphans as i64);
        self.orphans_removed.inc_by(r.orphans_removed as u64);
    }

    pub fn observe_aws_call(&self, service: &str, operation: &str, outcome: &str, seconds: f64) {
        self.aws_requests
            .with_label_values(&[service, operation, outcome])
            .inc();
        self.aws_request_duration
            .with_label_values(&[service])
            .observe(seconds);
        // Touched on every call, so the series exists (at 0) before the first throttle.
        let throttles = self.aws_throttles.with_label_values(&[service, operation]);
        if crate::error::is_throttle(outcome) {
            throttles.inc();
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        let m = Metrics::new();
        m.reconciles.with_label_values(&["ok"]).inc();
        m.observe_aws_call("ECS", "CreateService", "ThrottlingException", 0.1);
        m.tenants_by_phase.with_label_values(&["Ready"]).set(1);
        let text = m.render();
        for name in [
            "openclaw_reconciles_total{result=\"ok\"} 1",
            "openclaw_aws_throttles_total{operation=\"CreateService\",service=\"ECS\"} 1",
            "openclaw_build_info{version=",
            "openclaw_tenants{phase=\"Ready\"} 1",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
        for family in m.registry.gather() {
            assert!(family.name().starts_with("openclaw_"), "{}", family.name());
        }
    }
}
