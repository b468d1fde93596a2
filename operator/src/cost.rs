//! Cost transparency per tenant: Bedrock tokens and their price (from `shared.usage` in the tenant
//! database, priced by a configurable table), and Fargate vCPU-seconds and GB-seconds (each
//! agent's running tasks times its task size, accrued by the leader into `openclaw.fargate_usage`
//! in the control store).
//!
//! Owns: the arithmetic and the cost queries. Exported counters equal the stored totals, so they
//! only ever grow and survive restarts. Must never: read a tenant's data beyond usage figures.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::metrics::Metrics;
pub use crate::prices::{Prices, TokenPrice};
use crate::store::StoreError;

/// vCPU-seconds and GB-seconds of `running` tasks of a size over `seconds`.
pub fn fargate_usage(cpu: i32, memory: i32, running: i32, seconds: f64) -> (f64, f64) {
    let (vcpu, gb) = crds::fargate::vcpu_and_gb(cpu, memory);
    let n = f64::from(running.max(0));
    (vcpu * n * seconds, gb * n * seconds)
}

/// Adds `seconds` of every agent's current running tasks to its tenant's hourly bucket.
pub async fn accrue_fargate(
    pool: &PgPool,
    seconds: f64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows: Vec<(String, i32, i32, Option<i32>)> = sqlx::query_as(
        "SELECT tenant, cpu, memory, running_count FROM openclaw.agents \
         WHERE running_count IS NOT NULL AND running_count > 0",
    )
    .fetch_all(pool)
    .await?;
    let mut per_tenant: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (tenant, cpu, memory, running) in rows {
        let (v, g) = fargate_usage(cpu, memory, running.unwrap_or(0), seconds);
        let e = per_tenant.entry(tenant).or_default();
        e.0 += v;
        e.1 += g;
    }
    let hour = now.timestamp() - now.timestamp().rem_euclid(3600);
    let hour = DateTime::<Utc>::from_timestamp(hour, 0).unwrap_or(now);
    for (tenant, (v, g)) in per_tenant {
        sqlx::query(
            "INSERT INTO openclaw.fargate_usage (tenant, hour, vcpu_seconds, gb_seconds) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, hour) DO UPDATE SET \
             vcpu_seconds = fargate_usage.vcpu_seconds + EXCLUDED.vcpu_seconds, \
             gb_seconds = fargate_usage.gb_seconds + EXCLUDED.gb_seconds",
        )
        .bind(&tenant)
        .bind(hour)
        .bind(v)
        .bind(g)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// One tenant's cost figures over a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantCost {
    pub tenant: String,
    /// (model, input tokens, output tokens)
    pub tokens: Vec<(String, i64, i64)>,
    pub bedrock_usd: f64,
    pub vcpu_seconds: f64,
    pub gb_seconds: f64,
    pub fargate_usd: f64,
}

/// Cost per tenant since `since` (all time when `None`).
pub async fn report(
    control: &PgPool,
    tenant_db: &PgPool,
    prices: &Prices,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<TenantCost>, StoreError> {
    let since = since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let tokens: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT tenant, model, sum(input_tokens)::bigint, sum(output_tokens)::bigint \
         FROM shared.usage WHERE at >= $1 GROUP BY tenant, model ORDER BY tenant, model",
    )
    .bind(since)
    .fetch_all(tenant_db)
    .await?;
    let fargate: Vec<(String, f64, f64)> = sqlx::query_as(
        "SELECT tenant, sum(vcpu_seconds), sum(gb_seconds) FROM openclaw.fargate_usage \
         WHERE hour >= date_trunc('hour', $1::timestamptz) GROUP BY tenant ORDER BY tenant",
    )
    .bind(since)
    .fetch_all(control)
    .await?;
    // Usage rows carry the tenant's database name (its session user); people read tenant names.
    let mut conn = control.acquire().await?;
    let tenants = crate::store::tenants_by_db_name(&mut conn).await?;
    drop(conn);
    let mut unknown = 0usize;
    let mut out: BTreeMap<String, TenantCost> = BTreeMap::new();
    for (db_name, model, input, output) in tokens {
        let Some(tenant) = tenants.get(&db_name).cloned() else {
            unknown += 1;
            continue;
        };
        let c = out.entry(tenant.clone()).or_insert_with(|| TenantCost {
            tenant,
            ..Default::default()
        });
        c.bedrock_usd += prices.tokens_usd(&model, input, output);
        c.tokens.push((model, input, output));
    }
    if unknown > 0 {
        // Rows of a role no tenant row names: left by a teardown that did not finish.
        tracing::warn!(
            groups = unknown,
            "usage rows of no known tenant are left out of the cost report"
        );
    }
    for (tenant, v, g) in fargate {
        let c = out.entry(tenant.clone()).or_insert_with(|| TenantCost {
            tenant,
            ..Default::default()
        });
        c.vcpu_seconds = v;
        c.gb_seconds = g;
        c.fargate_usd = prices.fargate_usd(v, g);
    }
    Ok(out.into_values().collect())
}

/// Sets the per-tenant cost counters to the stored all-time totals.
pub async fn export(
    control: &PgPool,
    tenant_db: &PgPool,
    prices: &Prices,
    metrics: &Metrics,
) -> Result<(), StoreError> {
    for c in report(control, tenant_db, prices, None).await? {
        for (model, input, output) in &c.tokens {
            let l = [c.tenant.as_str(), model.as_str()];
            raise_to(
                &metrics.bedrock_input_tokens.with_label_values(&l),
                *input as f64,
            );
            raise_to(
                &metrics.bedrock_output_tokens.with_label_values(&l),
                *output as f64,
            );
        }
        let t = [c.tenant.as_str()];
        raise_to(
            &metrics.bedrock_cost_usd.with_label_values(&t),
            c.bedrock_usd,
        );
        raise_to(
            &metrics.fargate_vcpu_seconds.with_label_values(&t),
            c.vcpu_seconds,
        );
        raise_to(
            &metrics.fargate_memory_byte_seconds.with_label_values(&t),
            c.gb_seconds * GIB,
        );
        raise_to(
            &metrics.fargate_cost_usd.with_label_values(&t),
            c.fargate_usd,
        );
    }
    Ok(())
}

/// Fargate memory is priced per GB-hour, which AWS defines as GiB; the metric is in bytes.
const GIB: f64 = 1_073_741_824.0;

/// Counters only grow: raise to the stored total (a total never shrinks, except by erasure).
fn raise_to(counter: &prometheus::Counter, total: f64) {
    let delta = total - counter.get();
    if delta > 0.0 {
        counter.inc_by(delta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_prices_by_model_with_a_default() {
        let p = Prices::default();
        let usd = p.tokens_usd("anthropic.claude-3-5-haiku-20241022-v1:0", 10_000, 2_000);
        assert!((usd - (10.0 * 0.0008 + 2.0 * 0.004)).abs() < 1e-12, "{usd}");
        let unknown = p.tokens_usd("some.new-model-v1:0", 1000, 1000);
        assert!((unknown - (0.003 + 0.015)).abs() < 1e-12);
    }

    #[test]
    fn fargate_usage_is_tasks_times_size_times_time() {
        assert_eq!(fargate_usage(512, 1024, 2, 60.0), (60.0, 120.0));
        assert_eq!(fargate_usage(256, 512, 0, 60.0), (0.0, 0.0));
        let p = Prices::default();
        assert!((p.fargate_usd(3600.0, 3600.0) - (0.04048 + 0.004445)).abs() < 1e-12);
    }
}
