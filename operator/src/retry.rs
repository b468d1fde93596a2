//! Per-tenant exponential backoff with jitter for retryable errors. The `backoff` crate is kept
//! behind this one module (it is unmaintained, RUSTSEC-2025-0012), so swapping it for `backon`
//! touches nothing else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use backoff::backoff::Backoff;
use backoff::ExponentialBackoff;

#[derive(Debug)]
pub struct Backoffs {
    initial: Duration,
    max: Duration,
    per_key: Mutex<HashMap<String, ExponentialBackoff>>,
}

impl Backoffs {
    pub fn new(initial: Duration, max: Duration) -> Backoffs {
        Backoffs {
            initial,
            max,
            per_key: Mutex::new(HashMap::new()),
        }
    }

    /// The next delay for `key`: doubling from `initial` up to `max`, with ±50 % jitter.
    pub fn next(&self, key: &str) -> Duration {
        let mut map = self.per_key.lock().unwrap_or_else(|e| e.into_inner());
        let b = map
            .entry(key.to_owned())
            .or_insert_with(|| ExponentialBackoff {
                initial_interval: self.initial,
                current_interval: self.initial,
                max_interval: self.max,
                multiplier: 2.0,
                randomization_factor: 0.5,
                max_elapsed_time: None,
                ..ExponentialBackoff::default()
            });
        b.next_backoff().unwrap_or(self.max)
    }

    /// Forgets `key`'s failures (after a success).
    pub fn reset(&self, key: &str) {
        self.per_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_and_are_capped() {
        let b = Backoffs::new(Duration::from_secs(1), Duration::from_secs(30));
        let delays: Vec<Duration> = (0..10).map(|_| b.next("acme")).collect();
        assert!(
            delays[0] >= Duration::from_millis(500) && delays[0] <= Duration::from_millis(1500)
        );
        assert!(delays[3] >= Duration::from_secs(4), "{delays:?}");
        assert!(
            delays.iter().all(|d| *d <= Duration::from_secs(45)),
            "{delays:?}"
        );
        // Keys are independent, and a reset starts over.
        assert!(b.next("globex") <= Duration::from_millis(1500));
        b.reset("acme");
        assert!(b.next("acme") <= Duration::from_millis(1500));
    }
}
