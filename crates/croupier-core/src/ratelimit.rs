//! Rate limiting port and its in-process implementation (GCRA).
//!
//! GCRA keeps one timestamp per key (the "theoretical arrival time"), so it is
//! cheap, exact, and the same algorithm a Redis script can run cluster-wide.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `limit` events per `period`, with bursts up to `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    pub fn new(limit: u32, period: Duration) -> Self {
        assert!(limit > 0, "quota limit must be positive");
        Self { limit, period }
    }

    fn interval(&self) -> Duration {
        self.period / self.limit
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after: Duration },
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Would one more event under `key` be allowed? Records nothing.
    async fn peek(&self, key: &str, quota: Quota) -> RateDecision;
    /// Records one event under `key` if allowed.
    async fn hit(&self, key: &str, quota: Quota) -> RateDecision;
}

/// GCRA over an in-process map. Entries whose arrival time has passed carry no
/// state and are pruned when the map grows.
#[derive(Default)]
pub struct LocalRateLimiter {
    tats: Mutex<HashMap<String, Instant>>,
}

const PRUNE_AT: usize = 100_000;

impl LocalRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    fn decide(&self, key: &str, quota: Quota, record: bool, now: Instant) -> RateDecision {
        let mut tats = self.tats.lock().expect("rate limiter lock poisoned");
        let tat = tats.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + quota.interval();
        let ahead = new_tat - now;
        if ahead > quota.period {
            return RateDecision::Limited {
                retry_after: ahead - quota.period,
            };
        }
        if record {
            if tats.len() >= PRUNE_AT {
                tats.retain(|_, t| *t > now);
            }
            tats.insert(key.to_owned(), new_tat);
        }
        RateDecision::Allowed
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn peek(&self, key: &str, quota: Quota) -> RateDecision {
        self.decide(key, quota, false, Instant::now())
    }

    async fn hit(&self, key: &str, quota: Quota) -> RateDecision {
        self.decide(key, quota, true, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_of_limit_then_limits_for_one_interval() {
        let l = LocalRateLimiter::new();
        let q = Quota::new(5, Duration::from_secs(50));
        let now = Instant::now();
        for i in 0..5 {
            assert_eq!(
                l.decide("k", q, true, now),
                RateDecision::Allowed,
                "event {i}"
            );
        }
        match l.decide("k", q, true, now) {
            RateDecision::Limited { retry_after } => {
                assert_eq!(retry_after, Duration::from_secs(10))
            }
            other => panic!("expected limit, got {other:?}"),
        }
        // One interval later exactly one more event fits.
        let later = now + Duration::from_secs(10);
        assert_eq!(l.decide("k", q, true, later), RateDecision::Allowed);
        assert!(matches!(
            l.decide("k", q, true, later),
            RateDecision::Limited { .. }
        ));
    }

    #[test]
    fn peek_records_nothing_and_keys_are_independent() {
        let l = LocalRateLimiter::new();
        let q = Quota::new(1, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.decide("a", q, false, now), RateDecision::Allowed);
        }
        assert_eq!(l.decide("a", q, true, now), RateDecision::Allowed);
        assert!(matches!(
            l.decide("a", q, false, now),
            RateDecision::Limited { .. }
        ));
        assert_eq!(l.decide("b", q, true, now), RateDecision::Allowed);
    }
}
