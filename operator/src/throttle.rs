//! Client-side token buckets, one per AWS API bucket, set from AWS's published per-account
//! quotas (see `quota` below), so the operator never spends calls on its own throttling.
//!
//! Owns: pacing of AWS calls. Must never: hold a lock across an await.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The API buckets that AWS meters together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// ECS RegisterTaskDefinition + DeregisterTaskDefinition (shared).
    EcsTaskDefinitionWrite,
    /// ECS CreateService / UpdateService / DeleteService.
    EcsServiceWrite,
    /// ECS DescribeServices / ListServices / DescribeTaskDefinition.
    EcsRead,
    /// ECS TagResource / UntagResource.
    EcsTag,
    /// Secrets Manager writes.
    SecretsWrite,
    /// Secrets Manager ListSecrets / Describe.
    SecretsRead,
    /// IAM: unpublished and account-global; kept low.
    Iam,
    /// S3 ListObjectVersions / DeleteObjects on the tenant bucket (S3 allows 3,500 writes and
    /// 5,500 reads a second per prefix; far below that).
    S3,
    /// CloudWatch Logs: DescribeLogGroups and the group writes (CreateLogGroup and
    /// PutRetentionPolicy are published at 5 a second; DescribeLogGroups at 10).
    Logs,
    /// Resource Groups Tagging GetResources (unpublished; kept low).
    Tagging,
}

impl Bucket {
    /// (burst, sustained per second) from the published quotas.
    pub fn quota(self) -> (f64, f64) {
        match self {
            Bucket::EcsTaskDefinitionWrite => (20.0, 1.0),
            Bucket::EcsServiceWrite => (50.0, 5.0),
            Bucket::EcsRead => (100.0, 20.0),
            Bucket::EcsTag => (20.0, 10.0),
            Bucket::SecretsWrite => (50.0, 50.0),
            Bucket::SecretsRead => (100.0, 100.0),
            Bucket::Iam => (20.0, 10.0),
            Bucket::S3 => (100.0, 100.0),
            Bucket::Logs => (10.0, 5.0),
            Bucket::Tagging => (5.0, 5.0),
        }
    }
}

#[derive(Debug)]
struct State {
    tokens: f64,
    updated: Instant,
}

/// Token buckets for every [`Bucket`]. `scale` multiplies the sustained rates (1.0 in
/// production; the local benchmark may raise it, since the emulator has no quotas).
#[derive(Debug)]
pub struct Throttle {
    scale: f64,
    state: Mutex<HashMap<Bucket, State>>,
}

impl Throttle {
    pub fn new(scale: f64) -> Throttle {
        Throttle {
            scale: if scale > 0.0 { scale } else { 1.0 },
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token, waiting for it when the bucket is empty.
    pub async fn acquire(&self, bucket: Bucket) {
        loop {
            let wait = self.try_take(bucket, Instant::now());
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Takes a token if one is there; otherwise says how long until one is.
    fn try_take(&self, bucket: Bucket, now: Instant) -> Option<Duration> {
        let (burst, rate) = bucket.quota();
        let rate = rate * self.scale;
        let burst = burst.max(1.0) * self.scale.max(1.0);
        let mut map = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = map.entry(bucket).or_insert(State {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(st.updated).as_secs_f64();
        st.tokens = (st.tokens + elapsed * rate).min(burst);
        st.updated = now;
        if st.tokens >= 1.0 {
            st.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - st.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_sustained_rate() {
        let t = Throttle::new(1.0);
        let start = Instant::now();
        for _ in 0..20 {
            t.acquire(Bucket::EcsTaskDefinitionWrite).await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(1),
            "the burst is free"
        );
        for _ in 0..5 {
            t.acquire(Bucket::EcsTaskDefinitionWrite).await;
        }
        let spent = start.elapsed();
        assert!(
            spent >= Duration::from_secs(5) && spent < Duration::from_secs(6),
            "{spent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_are_independent() {
        let t = Throttle::new(1.0);
        for _ in 0..20 {
            t.acquire(Bucket::EcsTaskDefinitionWrite).await;
        }
        let start = Instant::now();
        t.acquire(Bucket::EcsServiceWrite).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn scale_raises_the_rate() {
        let t = Throttle::new(10.0);
        let start = Instant::now();
        for _ in 0..(200 + 50) {
            t.acquire(Bucket::EcsTaskDefinitionWrite).await;
        }
        let spent = start.elapsed();
        assert!(
            spent >= Duration::from_secs(5) && spent < Duration::from_secs(6),
            "{spent:?}"
        );
    }
}
