//! Client-side token buckets, one per AWS API bucket, set from AWS's published per-account
//! quotas (see `quota` below), so the operator never spends calls on its own throttling.
//!
//! The published rate is the ceiling. Other clients share the account's buckets, so each bucket's
//! rate adapts: it halves on a throttle AWS answers anyway and climbs back additively on success.
//! The client's burst is half the published one, which leaves AWS's bucket room for the jitter
//! between when a call leaves and when it arrives. Every attempt pays a token: the caller takes
//! one before the first, and the SDK's retries are charged by `aws` (`charge`) as they go out.
//!
//! A caller waiting for a token yields to callers of a higher priority waiting for the same
//! bucket (`priority::current`): a new tenant's calls go ahead of a bulk onboarding's.
//!
//! Owns: pacing of AWS calls. Must never: hold a lock across an await.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::priority::{self, Priority};

/// The API buckets that AWS meters together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// ECS RegisterTaskDefinition + DeregisterTaskDefinition (shared).
    EcsTaskDefinitionWrite,
    /// ECS CreateService / UpdateService / DeleteService.
    EcsServiceWrite,
    /// ECS DescribeServices / ListServices.
    EcsRead,
    /// ECS DescribeTaskDefinition / ListTaskDefinitions (published lower than the other reads).
    EcsTaskDefinitionRead,
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
            Bucket::EcsTaskDefinitionRead => (50.0, 20.0),
            Bucket::EcsTag => (20.0, 10.0),
            Bucket::SecretsWrite => (50.0, 50.0),
            Bucket::SecretsRead => (100.0, 100.0),
            Bucket::Iam => (20.0, 10.0),
            Bucket::S3 => (100.0, 100.0),
            Bucket::Logs => (10.0, 5.0),
            Bucket::Tagging => (5.0, 5.0),
        }
    }

    /// The bucket an AWS operation spends from (`service` as the SDK names it), for charging
    /// the SDK's retries; `None` for calls the operator does not pace (STS, RDS discovery).
    pub fn of(service: &str, operation: &str) -> Option<Bucket> {
        let service = service.to_ascii_lowercase();
        let read = ["Describe", "List", "Get", "BatchGet"]
            .iter()
            .any(|p| operation.starts_with(p));
        Some(match service.as_str() {
            "ecs" => match operation {
                "RegisterTaskDefinition" | "DeregisterTaskDefinition" | "DeleteTaskDefinitions" => {
                    Bucket::EcsTaskDefinitionWrite
                }
                "DescribeTaskDefinition" | "ListTaskDefinitions" => Bucket::EcsTaskDefinitionRead,
                "TagResource" | "UntagResource" => Bucket::EcsTag,
                _ if read => Bucket::EcsRead,
                _ => Bucket::EcsServiceWrite,
            },
            "secrets manager" | "secretsmanager" if read => Bucket::SecretsRead,
            "secrets manager" | "secretsmanager" => Bucket::SecretsWrite,
            "iam" => Bucket::Iam,
            "s3" => Bucket::S3,
            "cloudwatch logs" | "cloudwatchlogs" | "logs" => Bucket::Logs,
            "resource groups tagging api" | "resourcegroupstaggingapi" | "tagging" => {
                Bucket::Tagging
            }
            _ => return None,
        })
    }
}

/// A caller counted as waiting for a bucket until dropped (also when its wait is cancelled).
struct Waiting<'a> {
    throttle: &'a Throttle,
    bucket: Bucket,
    priority: Priority,
}

impl<'a> Waiting<'a> {
    fn new(throttle: &'a Throttle, bucket: Bucket, priority: Priority) -> Self {
        throttle.with(bucket, Instant::now(), |st, _| {
            st.waiting[priority.index()] += 1
        });
        Waiting {
            throttle,
            bucket,
            priority,
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let i = self.priority.index();
        self.throttle.with(self.bucket, Instant::now(), |st, _| {
            st.waiting[i] = st.waiting[i].saturating_sub(1)
        });
    }
}

/// The lowest share of the published rate a bucket adapts down to.
const MIN_SHARE: f64 = 0.05;
/// What a throttle leaves of the rate (multiplicative decrease).
const DECREASE: f64 = 0.5;
/// What each success adds back, as a share of the published rate (additive increase).
const INCREASE: f64 = 0.02;
/// Throttles within this long of a decrease answer calls sent before it took effect: one
/// decrease for all of them (as TCP halves once per round trip).
const DECREASE_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    tokens: f64,
    updated: Instant,
    /// The share of the published rate in use now (adaptive; 1.0 at most).
    share: f64,
    last_decrease: Option<Instant>,
    /// Callers waiting for a token, by priority.
    waiting: [usize; 3],
}

/// Token buckets for every [`Bucket`]. `scale` multiplies the published rates and bursts (1.0 in
/// production; a benchmark scales the harness's buckets and these by the same factor).
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

    /// Takes one token, waiting for it when the bucket is empty, behind any caller of a higher
    /// priority waiting for the same bucket.
    pub async fn acquire(&self, bucket: Bucket) {
        let me = priority::current();
        if self.try_take(bucket, me, Instant::now()).is_none() {
            return;
        }
        let _waiting = Waiting::new(self, bucket, me);
        loop {
            match self.try_take(bucket, me, Instant::now()) {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Takes a token if one is there and no caller of a higher priority waits for it; otherwise
    /// says how long until one may be.
    fn try_take(&self, bucket: Bucket, me: Priority, now: Instant) -> Option<Duration> {
        self.with(bucket, now, |st, rate| {
            let higher_waits = Priority::ALL
                .iter()
                .any(|p| *p > me && st.waiting[p.index()] > 0);
            if higher_waits {
                return Some(Duration::from_secs_f64(1.0 / rate));
            }
            if st.tokens >= 1.0 {
                st.tokens -= 1.0;
                None
            } else {
                Some(Duration::from_secs_f64((1.0 - st.tokens) / rate))
            }
        })
    }

    /// Charges one token for an attempt that is already going out (an SDK retry): the bucket
    /// may go into debt, which the next callers wait off.
    pub fn charge(&self, bucket: Bucket) {
        let floor = -self.burst(bucket);
        self.with(bucket, Instant::now(), |st, _| {
            st.tokens = (st.tokens - 1.0).max(floor)
        });
    }

    /// AWS throttled a call of this bucket: halve its rate (not below `MIN_SHARE`), once per
    /// `DECREASE_WINDOW`.
    pub fn throttled(&self, bucket: Bucket) {
        let now = Instant::now();
        self.with(bucket, now, |st, _| {
            if st
                .last_decrease
                .is_some_and(|at| now.saturating_duration_since(at) < DECREASE_WINDOW)
            {
                return;
            }
            st.last_decrease = Some(now);
            st.share = (st.share * DECREASE).max(MIN_SHARE);
            st.tokens = st.tokens.min(0.0);
        });
    }

    /// A call of this bucket succeeded: climb back towards the published rate.
    pub fn succeeded(&self, bucket: Bucket) {
        self.with(bucket, Instant::now(), |st, _| {
            st.share = (st.share + INCREASE).min(1.0)
        });
    }

    /// The share of the published rate the bucket runs at now.
    pub fn share(&self, bucket: Bucket) -> f64 {
        self.with(bucket, Instant::now(), |st, _| st.share)
    }

    fn burst(&self, bucket: Bucket) -> f64 {
        let (burst, _) = bucket.quota();
        (burst / 2.0).max(1.0) * self.scale.max(1.0)
    }

    /// Runs `f` on the bucket's state, refilled to `now`, with its current rate.
    fn with<R>(&self, bucket: Bucket, now: Instant, f: impl FnOnce(&mut State, f64) -> R) -> R {
        let (_, published) = bucket.quota();
        let burst = self.burst(bucket);
        let mut map = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let st = map.entry(bucket).or_insert(State {
            tokens: burst,
            updated: now,
            share: 1.0,
            last_decrease: None,
            waiting: [0; 3],
        });
        let rate = published * self.scale * st.share;
        let elapsed = now.saturating_duration_since(st.updated).as_secs_f64();
        st.tokens = (st.tokens + elapsed * rate).min(burst);
        st.updated = now;
        f(st, rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn time_for(t: &Throttle, bucket: Bucket, n: usize) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            t.acquire(bucket).await;
        }
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn half_the_published_burst_then_the_sustained_rate() {
        let t = Throttle::new(1.0);
        let free = time_for(&t, Bucket::EcsTaskDefinitionWrite, 10).await;
        assert!(free < Duration::from_millis(1), "the burst is free");
        let spent = time_for(&t, Bucket::EcsTaskDefinitionWrite, 5).await;
        assert!(
            spent >= Duration::from_secs(5) && spent < Duration::from_secs(6),
            "{spent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_are_independent() {
        let t = Throttle::new(1.0);
        time_for(&t, Bucket::EcsTaskDefinitionWrite, 10).await;
        let start = Instant::now();
        t.acquire(Bucket::EcsServiceWrite).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn scale_raises_rate_and_burst_alike() {
        let t = Throttle::new(10.0);
        // Burst 10 × 10, then 150 at 10 a second.
        let spent = time_for(&t, Bucket::EcsTaskDefinitionWrite, 250).await;
        assert!(
            spent >= Duration::from_secs(15) && spent < Duration::from_secs(16),
            "{spent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_charged_retry_is_paid_for_by_the_next_caller() {
        let t = Throttle::new(1.0);
        time_for(&t, Bucket::EcsTaskDefinitionWrite, 10).await;
        for _ in 0..3 {
            t.charge(Bucket::EcsTaskDefinitionWrite);
        }
        // Three tokens of debt, then the one asked for: four seconds at 1 a second.
        let spent = time_for(&t, Bucket::EcsTaskDefinitionWrite, 1).await;
        assert!(
            spent >= Duration::from_secs(4) && spent < Duration::from_secs(5),
            "{spent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttles_halve_the_rate_and_successes_bring_it_back() {
        let t = Throttle::new(1.0);
        t.throttled(Bucket::EcsServiceWrite);
        t.throttled(Bucket::EcsServiceWrite);
        assert_eq!(
            t.share(Bucket::EcsServiceWrite),
            0.5,
            "throttles of calls already in flight count once"
        );
        // At half of 5 a second, 5 calls from an empty bucket take 2 s.
        let spent = time_for(&t, Bucket::EcsServiceWrite, 5).await;
        assert!(
            spent >= Duration::from_secs(2) && spent < Duration::from_millis(2100),
            "{spent:?}"
        );
        for _ in 0..10 {
            tokio::time::advance(DECREASE_WINDOW).await;
            t.throttled(Bucket::EcsServiceWrite);
        }
        assert_eq!(t.share(Bucket::EcsServiceWrite), MIN_SHARE, "a floor");
        for _ in 0..100 {
            t.succeeded(Bucket::EcsServiceWrite);
        }
        assert_eq!(
            t.share(Bucket::EcsServiceWrite),
            1.0,
            "the published rate is the ceiling"
        );
        assert_eq!(t.share(Bucket::Iam), 1.0, "other buckets untouched");
    }

    #[tokio::test(start_paused = true)]
    async fn an_urgent_caller_takes_the_next_token_ahead_of_bulk_waiters() {
        let t = std::sync::Arc::new(Throttle::new(1.0));
        time_for(&t, Bucket::EcsTaskDefinitionWrite, 10).await;
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, p) in [
            ("bulk-1", Priority::Bulk),
            ("bulk-2", Priority::Bulk),
            ("urgent", Priority::Urgent),
        ] {
            let (t, order) = (t.clone(), order.clone());
            tasks.push(tokio::spawn(priority::scope(p, async move {
                t.acquire(Bucket::EcsTaskDefinitionWrite).await;
                order.lock().unwrap_or_else(|e| e.into_inner()).push(name);
            })));
            // The bulk callers wait first.
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.expect("task");
        }
        let order = order.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(order[0], "urgent", "{order:?}");
        assert_eq!(order.len(), 3);
        let waiting = t.with(Bucket::EcsTaskDefinitionWrite, Instant::now(), |st, _| {
            st.waiting
        });
        assert_eq!(waiting, [0, 0, 0], "every waiter is counted out");
    }

    #[test]
    fn each_operation_has_its_bucket() {
        let cases = [
            (
                "ECS",
                "RegisterTaskDefinition",
                Some(Bucket::EcsTaskDefinitionWrite),
            ),
            (
                "ECS",
                "DeregisterTaskDefinition",
                Some(Bucket::EcsTaskDefinitionWrite),
            ),
            (
                "ECS",
                "DescribeTaskDefinition",
                Some(Bucket::EcsTaskDefinitionRead),
            ),
            (
                "ECS",
                "ListTaskDefinitions",
                Some(Bucket::EcsTaskDefinitionRead),
            ),
            ("ECS", "DescribeServices", Some(Bucket::EcsRead)),
            ("ECS", "UpdateService", Some(Bucket::EcsServiceWrite)),
            ("ECS", "TagResource", Some(Bucket::EcsTag)),
            ("Secrets Manager", "ListSecrets", Some(Bucket::SecretsRead)),
            (
                "Secrets Manager",
                "CreateSecret",
                Some(Bucket::SecretsWrite),
            ),
            ("IAM", "GetRole", Some(Bucket::Iam)),
            ("CloudWatch Logs", "PutRetentionPolicy", Some(Bucket::Logs)),
            ("S3", "DeleteObjects", Some(Bucket::S3)),
            ("STS", "AssumeRole", None),
        ];
        for (service, op, want) in cases {
            assert_eq!(Bucket::of(service, op), want, "{service} {op}");
        }
    }
}
