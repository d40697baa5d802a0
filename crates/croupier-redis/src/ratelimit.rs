//! Cluster-wide GCRA: the same algorithm as `croupier_core::ratelimit::
//! LocalRateLimiter`, run atomically inside Redis so every instance shares one
//! quota per key.

use crate::{now_ms, ErrorLog, Redis};
use async_trait::async_trait;
use croupier_core::ratelimit::{Quota, RateDecision, RateLimiter};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// KEYS[1] holds the theoretical arrival time (TAT) in microseconds.
/// ARGV: emission interval µs, period µs, 1 to record the event.
/// Returns {1, 0} (allowed) or {0, retry_after µs}.
///
/// The clock is Redis's own `TIME`, not the caller's: instances' clocks
/// drift apart, and a shared quota needs one clock. (Scripts are replicated
/// by effect since Redis 5, so reading the time in one is allowed.)
/// The key expires exactly when its TAT passes, since from then on it carries
/// no state: idle keys vanish by themselves.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > period then
  return {0, ahead - period}
end
if ARGV[3] == '1' then
  local ttl = math.ceil(ahead / 1000)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
end
return {1, 0}
"#;

/// Ten years: longer periods are clamped so that µs timestamps stay exact in
/// Lua's doubles (below 2^53).
const MAX_PERIOD_US: u64 = 10 * 365 * 24 * 3600 * 1_000_000;

/// After a failed call, Redis is skipped for this long (decisions degrade at
/// once instead of each waiting for the timeout); then one call probes it.
const COOLDOWN: Duration = Duration::from_secs(1);

/// A [`RateLimiter`] whose state lives in Redis under `<prefix>rl:<key>`.
///
/// When Redis fails or is slower than its timeout, the decision is made by
/// the fallback limiter if one is set (per instance: looser cluster-wide, but
/// still a limit), otherwise the event is allowed (fail open). Either way
/// `croupier_ratelimit_degraded_total{fallback}` counts it.
pub struct RedisRateLimiter {
    redis: Redis,
    script: redis::Script,
    fallback: Option<Arc<dyn RateLimiter>>,
    breaker: Breaker,
    errors: ErrorLog,
}

impl RedisRateLimiter {
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            script: redis::Script::new(GCRA),
            fallback: None,
            breaker: Breaker::default(),
            errors: ErrorLog::new("ratelimit"),
        }
    }

    /// Decides with `fallback` while Redis is unavailable, instead of allowing.
    pub fn with_fallback(mut self, fallback: Arc<dyn RateLimiter>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    async fn decide(&self, key: &str, quota: Quota, record: bool) -> RateDecision {
        if !self.breaker.allow() {
            return self.degraded(key, quota, record).await;
        }
        match self.eval(key, quota, record).await {
            Ok(decision) => {
                self.breaker.success();
                decision
            }
            Err(e) => {
                self.breaker.failure();
                let consequence = if self.fallback.is_some() {
                    "rate limits are enforced per instance"
                } else {
                    "rate limits fail open"
                };
                self.errors.record(&e, consequence);
                self.degraded(key, quota, record).await
            }
        }
    }

    async fn eval(
        &self,
        key: &str,
        quota: Quota,
        record: bool,
    ) -> Result<RateDecision, crate::Error> {
        let period_us = (quota.period.as_micros() as u64).min(MAX_PERIOD_US);
        let interval_us = period_us / u64::from(quota.limit);
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}rl:{key}", self.redis.prefix()))
            .arg(interval_us)
            .arg(period_us)
            .arg(if record { "1" } else { "0" });
        let (allowed, retry_us): (i64, i64) = self.redis.invoke(&invocation).await?;
        Ok(if allowed == 1 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_micros(retry_us.max(0) as u64),
            }
        })
    }

    async fn degraded(&self, key: &str, quota: Quota, record: bool) -> RateDecision {
        match &self.fallback {
            Some(local) => {
                metrics::counter!("croupier_ratelimit_degraded_total", "fallback" => "local")
                    .increment(1);
                if record {
                    local.hit(key, quota).await
                } else {
                    local.peek(key, quota).await
                }
            }
            None => {
                metrics::counter!("croupier_ratelimit_degraded_total", "fallback" => "open")
                    .increment(1);
                RateDecision::Allowed
            }
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn peek(&self, key: &str, quota: Quota) -> RateDecision {
        self.decide(key, quota, false).await
    }

    async fn hit(&self, key: &str, quota: Quota) -> RateDecision {
        self.decide(key, quota, true).await
    }
}

/// Open for [`COOLDOWN`] after a failure, then lets one probe through.
#[derive(Default)]
struct Breaker {
    /// 0: closed (use Redis); else the `now_ms` until which Redis is skipped.
    open_until: AtomicU64,
}

impl Breaker {
    fn allow(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = now_ms();
        // Past the cooldown the first caller becomes the probe; the others
        // keep degrading until it reports.
        now >= until
            && self
                .open_until
                .compare_exchange(
                    until,
                    now + COOLDOWN.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    fn success(&self) {
        self.open_until.store(0, Ordering::Release);
    }

    fn failure(&self) {
        self.open_until
            .store(now_ms() + COOLDOWN.as_millis() as u64, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_lets_one_probe_through_after_the_cooldown() {
        let b = Breaker::default();
        assert!(b.allow() && b.allow(), "closed");
        b.failure();
        assert!(!b.allow(), "open during the cooldown");
        // Pretend the cooldown is over.
        b.open_until
            .store(now_ms().saturating_sub(1).max(1), Ordering::Release);
        assert!(b.allow(), "the first caller probes");
        assert!(!b.allow(), "the others wait for the probe");
        b.success();
        assert!(b.allow(), "closed again");
    }
}
