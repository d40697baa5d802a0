//! Cluster-wide GCRA: the same algorithm as `croupier_core::ratelimit::
//! LocalRateLimiter`, run atomically inside Redis so every instance shares one
//! quota per key.

use crate::{ErrorLog, Redis};
use async_trait::async_trait;
use croupier_core::circuit::CircuitBreaker;
use croupier_core::ratelimit::{Quota, RateDecision, RateLimiter, RateStatus};
use std::sync::Arc;
use std::time::Duration;

/// KEYS[1] holds the theoretical arrival time (TAT) in microseconds.
/// ARGV: emission interval µs, period µs, 1 to record the event.
/// Returns {allowed (1) or not (0), retry_after µs, remaining events, reset
/// µs} (`RateStatus`, computed as `LocalRateLimiter` does).
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
  return {0, ahead - period, 0, tat - now}
end
local after = tat
if ARGV[3] == '1' then
  local ttl = math.ceil(ahead / 1000)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl)
  after = new_tat
end
local remaining = math.floor((period - (after - now)) / interval)
return {1, 0, remaining, after - now}
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
    breaker: CircuitBreaker,
    errors: ErrorLog,
}

impl RedisRateLimiter {
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            script: redis::Script::new(GCRA),
            fallback: None,
            // Every call waits for Redis: open on the first failure.
            breaker: CircuitBreaker::new("redis_ratelimit", 1, COOLDOWN),
            errors: ErrorLog::new("ratelimit"),
        }
    }

    /// Decides with `fallback` while Redis is unavailable, instead of allowing.
    pub fn with_fallback(mut self, fallback: Arc<dyn RateLimiter>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    async fn decide(&self, key: &str, quota: Quota, record: bool) -> RateStatus {
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
    ) -> Result<RateStatus, crate::Error> {
        let period_us = (quota.period.as_micros() as u64).min(MAX_PERIOD_US);
        let interval_us = period_us / u64::from(quota.limit);
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}rl:{key}", self.redis.prefix()))
            .arg(interval_us)
            .arg(period_us)
            .arg(if record { "1" } else { "0" });
        let (allowed, retry_us, remaining, reset_us): (i64, i64, i64, i64) =
            self.redis.invoke(&invocation).await?;
        let micros = |us: i64| Duration::from_micros(us.max(0) as u64);
        Ok(RateStatus {
            decision: if allowed == 1 {
                RateDecision::Allowed
            } else {
                RateDecision::Limited {
                    retry_after: micros(retry_us),
                }
            },
            remaining: remaining.clamp(0, i64::from(quota.limit)) as u32,
            reset: micros(reset_us),
        })
    }

    async fn degraded(&self, key: &str, quota: Quota, record: bool) -> RateStatus {
        match &self.fallback {
            Some(local) => {
                metrics::counter!("croupier_ratelimit_degraded_total", "fallback" => "local")
                    .increment(1);
                if record {
                    local.hit_status(key, quota).await
                } else {
                    // The port's peek reports no quota; only the decision
                    // is used from it.
                    RateStatus {
                        decision: local.peek(key, quota).await,
                        ..RateStatus::open(quota)
                    }
                }
            }
            None => {
                metrics::counter!("croupier_ratelimit_degraded_total", "fallback" => "open")
                    .increment(1);
                RateStatus::open(quota)
            }
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn peek(&self, key: &str, quota: Quota) -> RateDecision {
        self.decide(key, quota, false).await.decision
    }

    async fn hit(&self, key: &str, quota: Quota) -> RateDecision {
        self.decide(key, quota, true).await.decision
    }

    async fn hit_status(&self, key: &str, quota: Quota) -> RateStatus {
        self.decide(key, quota, true).await
    }
}
