//! A circuit breaker for calls to a dependency the platform can work without
//! for a while (Redis, NATS): after `threshold` consecutive failures it
//! opens, and callers fail fast for `cooldown` instead of each waiting out a
//! timeout; then one caller probes (half-open), and its outcome closes the
//! circuit or opens it for another cooldown.
//!
//! Exported as `croupier_circuit_state{circuit}` (0 closed, 1 open,
//! 2 half-open), `croupier_circuit_opened_total{circuit}` and
//! `croupier_circuit_rejected_total{circuit}` (calls failed fast).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    fn gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        }
    }
}

pub struct CircuitBreaker {
    name: &'static str,
    threshold: u32,
    cooldown: Duration,
    /// Consecutive failures while closed.
    failures: AtomicU32,
    /// 0: closed. Otherwise the clock reading (ms) until which calls fail
    /// fast; the first caller past it moves it on and becomes the probe.
    open_until: AtomicU64,
    /// 1 while a probe is out (for the state gauge and [`Self::state`]).
    probing: AtomicU32,
}

impl CircuitBreaker {
    /// `threshold` consecutive failures open the circuit for `cooldown`.
    pub fn new(name: &'static str, threshold: u32, cooldown: Duration) -> Self {
        metrics::gauge!("croupier_circuit_state", "circuit" => name).set(0.0);
        Self {
            name,
            threshold: threshold.max(1),
            cooldown,
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            probing: AtomicU32::new(0),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// May a call go ahead? False means: fail fast, do not call. Past the
    /// cooldown exactly one caller is let through as the probe; it must
    /// report [`Self::success`] or [`Self::failure`].
    pub fn allow(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = now_ms();
        let probe = now >= until
            && self
                .open_until
                .compare_exchange(
                    until,
                    now + self.cooldown_ms(),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok();
        if probe {
            self.probing.store(1, Ordering::Release);
            self.set_gauge(CircuitState::HalfOpen);
        } else {
            metrics::counter!("croupier_circuit_rejected_total", "circuit" => self.name)
                .increment(1);
        }
        probe
    }

    pub fn success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        if self.open_until.swap(0, Ordering::AcqRel) != 0 {
            self.probing.store(0, Ordering::Release);
            self.set_gauge(CircuitState::Closed);
            tracing::info!(circuit = self.name, "circuit closed");
        }
    }

    pub fn failure(&self) {
        let open = self.open_until.load(Ordering::Acquire) != 0;
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if open || failures >= self.threshold {
            // A failed probe, or the threshold reached: (re)open.
            self.open_until
                .store(now_ms() + self.cooldown_ms(), Ordering::Release);
            self.probing.store(0, Ordering::Release);
            self.set_gauge(CircuitState::Open);
            metrics::counter!("croupier_circuit_opened_total", "circuit" => self.name).increment(1);
            if !open {
                tracing::warn!(circuit = self.name, failures, cooldown = ?self.cooldown, "circuit opened");
            }
        }
    }

    pub fn state(&self) -> CircuitState {
        if self.open_until.load(Ordering::Acquire) == 0 {
            CircuitState::Closed
        } else if self.probing.load(Ordering::Acquire) == 1 {
            CircuitState::HalfOpen
        } else {
            CircuitState::Open
        }
    }

    fn cooldown_ms(&self) -> u64 {
        self.cooldown.as_millis() as u64
    }

    fn set_gauge(&self, state: CircuitState) {
        metrics::gauge!("croupier_circuit_state", "circuit" => self.name).set(state.gauge());
    }

    #[cfg(test)]
    fn end_cooldown(&self) {
        let until = self.open_until.load(Ordering::Acquire);
        if until != 0 {
            self.open_until
                .store(now_ms().saturating_sub(1).max(1), Ordering::Release);
        }
    }
}

/// Milliseconds on a monotonic clock (since first use), never 0.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_lets_one_probe_through() {
        let b = CircuitBreaker::new("test", 3, Duration::from_secs(60));
        b.failure();
        b.failure();
        assert!(b.allow(), "two failures of three: still closed");
        b.success();
        b.failure();
        b.failure();
        assert_eq!(
            b.state(),
            CircuitState::Closed,
            "a success resets the count"
        );
        b.failure();
        assert_eq!(b.state(), CircuitState::Open);
        assert!(!b.allow() && !b.allow(), "open during the cooldown");

        b.end_cooldown();
        assert!(b.allow(), "the first caller probes");
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert!(!b.allow(), "the others wait for the probe");
        b.failure();
        assert_eq!(b.state(), CircuitState::Open, "a failed probe reopens");
        assert!(!b.allow());

        b.end_cooldown();
        assert!(b.allow());
        b.success();
        assert_eq!(b.state(), CircuitState::Closed);
        assert!(b.allow() && b.allow(), "closed again");
    }

    #[test]
    fn a_threshold_of_one_opens_on_the_first_failure() {
        let b = CircuitBreaker::new("test1", 1, Duration::from_secs(60));
        b.failure();
        assert!(!b.allow());
    }
}
