//! Exponential backoff with jitter, for retrying idempotent work (a
//! transaction that lost a serialization race, a reconnect, a relay round).
//! The jitter keeps instances that failed together from retrying in lockstep.
//! Each retry is counted in `croupier_retries_total{op}`.

use rand::Rng;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    op: &'static str,
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Delays start near `min` and double up to `max`.
    pub fn new(op: &'static str, min: Duration, max: Duration) -> Self {
        Self {
            op,
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The delay before the next retry: the exponential step, of which a
    /// random half is jitter ("equal jitter": never much below the step's
    /// half, so a retry storm still spreads out). Counts the retry.
    pub fn next_delay(&mut self) -> Duration {
        metrics::counter!("croupier_retries_total", "op" => self.op).increment(1);
        let step = self
            .min
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        half + half.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
    }

    /// Retries so far since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// After a success: the next failure starts again from `min`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_up_to_the_cap_and_reset() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        let mut b = Backoff::new("test", min, max);
        let mut steps = Vec::new();
        for i in 0..8u32 {
            let d = b.next_delay();
            let step = (min * (1 << i)).min(max);
            assert!(
                d >= step / 2 && d <= step,
                "retry {i}: {d:?} outside {step:?}/2..={step:?}"
            );
            steps.push(d);
        }
        assert!(steps[7] >= max / 2, "capped steps stay near the cap");
        assert_eq!(b.attempts(), 8);
        b.reset();
        assert!(b.next_delay() <= min);
    }

    #[test]
    fn jitter_spreads_retries() {
        let delays: std::collections::HashSet<Duration> = (0..20)
            .map(|_| {
                Backoff::new("test", Duration::from_secs(1), Duration::from_secs(1)).next_delay()
            })
            .collect();
        assert!(
            delays.len() > 1,
            "twenty first retries, all equal: {delays:?}"
        );
    }
}
