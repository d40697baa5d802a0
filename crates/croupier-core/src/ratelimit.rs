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

/// A decision together with what is left of the key's quota after it: what
/// `RateLimit-Remaining` and `RateLimit-Reset` report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateStatus {
    pub decision: RateDecision,
    /// Events still allowed at once after this decision (0 when limited).
    pub remaining: u32,
    /// Until the whole quota is available again (the key then has no state).
    pub reset: Duration,
}

impl RateStatus {
    /// What a limiter that cannot decide reports when it fails open: an
    /// allowed event on a fresh key.
    pub fn open(quota: Quota) -> Self {
        Self {
            decision: RateDecision::Allowed,
            remaining: quota.limit - 1,
            reset: quota.interval(),
        }
    }
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Would one more event under `key` be allowed? Records nothing.
    async fn peek(&self, key: &str, quota: Quota) -> RateDecision;
    /// Records one event under `key` if allowed.
    async fn hit(&self, key: &str, quota: Quota) -> RateDecision;
    /// Like [`hit`](Self::hit), also reporting the quota left afterwards.
    async fn hit_status(&self, key: &str, quota: Quota) -> RateStatus;
}

/// GCRA's view of a key's state: with the theoretical arrival time `ahead`
/// of now, how many more events fit at once.
fn remaining(quota: Quota, ahead: Duration) -> u32 {
    let interval = quota.interval().as_nanos().max(1);
    let left = quota.period.saturating_sub(ahead).as_nanos() / interval;
    left.min(u128::from(quota.limit)) as u32
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
        self.status(key, quota, record, now).decision
    }

    fn status(&self, key: &str, quota: Quota, record: bool, now: Instant) -> RateStatus {
        let mut tats = self.tats.lock().expect("rate limiter lock poisoned");
        let tat = tats.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + quota.interval();
        let ahead = new_tat - now;
        if ahead > quota.period {
            return RateStatus {
                decision: RateDecision::Limited {
                    retry_after: ahead - quota.period,
                },
                remaining: 0,
                reset: tat - now,
            };
        }
        let after = if record {
            if tats.len() >= PRUNE_AT {
                tats.retain(|_, t| *t > now);
            }
            tats.insert(key.to_owned(), new_tat);
            new_tat
        } else {
            tat
        };
        RateStatus {
            decision: RateDecision::Allowed,
            remaining: remaining(quota, after - now),
            reset: after - now,
        }
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

    async fn hit_status(&self, key: &str, quota: Quota) -> RateStatus {
        self.status(key, quota, true, Instant::now())
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
    fn status_counts_the_remaining_burst_down_and_reports_the_reset() {
        let l = LocalRateLimiter::new();
        let q = Quota::new(5, Duration::from_secs(50));
        let now = Instant::now();
        for i in 1..=5u32 {
            let s = l.status("k", q, true, now);
            assert_eq!(s.decision, RateDecision::Allowed, "event {i}");
            assert_eq!(s.remaining, 5 - i, "event {i}");
            // Whole again once every recorded event's interval has passed.
            assert_eq!(s.reset, Duration::from_secs(10 * u64::from(i)));
        }
        let s = l.status("k", q, true, now);
        assert_eq!(
            s,
            RateStatus {
                decision: RateDecision::Limited {
                    retry_after: Duration::from_secs(10)
                },
                remaining: 0,
                reset: Duration::from_secs(50),
            }
        );
        // 25 s later two intervals have passed: two events fit again.
        let later = now + Duration::from_secs(25);
        assert_eq!(l.status("k", q, false, later).remaining, 2);
        let s = l.status("k", q, true, later);
        assert_eq!((s.remaining, s.reset), (1, Duration::from_secs(35)));
        assert_eq!(
            RateStatus::open(q),
            RateStatus {
                decision: RateDecision::Allowed,
                remaining: 4,
                reset: Duration::from_secs(10)
            }
        );
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
