//! Open loop: bet k is due at `start + k / rate`, whatever happened to earlier
//! bets. Latency is measured from that intended time, not from when the
//! request actually left, so a stall in the server (or in the generator) shows
//! up as the queueing delay real users would see: the correction for
//! coordinated omission.

use super::ticker::Ticker;
use super::{micros, Bets, Stats};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Pacing {
    pub rate: f64,
    pub duration: Duration,
    pub max_outstanding: u64,
    pub late_threshold: Duration,
    /// How long to wait for answers still in flight after the window.
    pub drain: Duration,
}

/// Sends on schedule for `duration`, then waits (bounded) for the stragglers.
pub async fn run(bets: Arc<Bets>, stats: Arc<Stats>, p: Pacing) {
    let outstanding = Arc::new(AtomicU64::new(0));
    let drain = p.drain;
    // Spawned, so it runs on a runtime worker next to the requests it spawns
    // (block_on's own thread would make every spawn a cross-thread wake-up).
    let pacer = tokio::spawn(pace(bets, stats, outstanding.clone(), p));
    pacer.await.expect("pacer panicked");
    let until = Instant::now() + drain;
    while outstanding.load(Ordering::Acquire) > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn pace(bets: Arc<Bets>, stats: Arc<Stats>, outstanding: Arc<AtomicU64>, p: Pacing) {
    let ticker = Ticker::new().expect("create timerfd");
    let start = Instant::now();
    let deadline = start + p.duration;
    let interval = 1.0 / p.rate;
    let total = (p.rate * p.duration.as_secs_f64()).floor() as u64;
    let mut burst = 0u32;
    for k in 0..total {
        let intended = start + Duration::from_secs_f64(k as f64 * interval);
        if intended > Instant::now() {
            ticker.sleep_until(intended).await.expect("timerfd wait");
            burst = 0;
        } else {
            // Behind schedule: let the spawned requests run now and then
            // instead of spawning the whole backlog first.
            burst += 1;
            if burst % 64 == 0 {
                tokio::task::yield_now().await;
            }
        }
        // At the cap, hold the schedule (these sends will be late) rather than
        // open unbounded sockets; give up on what the window can no longer fit.
        while outstanding.load(Ordering::Acquire) >= p.max_outstanding
            && Instant::now() < deadline
            && !stats.stopped()
        {
            let _ = ticker
                .sleep_until(Instant::now() + Duration::from_micros(200))
                .await;
        }
        let capped = outstanding.load(Ordering::Acquire) >= p.max_outstanding;
        if capped || Instant::now() >= deadline + p.late_threshold || stats.stopped() {
            stats.unsent.fetch_add(total - k, Ordering::Relaxed);
            break;
        }
        outstanding.fetch_add(1, Ordering::AcqRel);
        stats.sent.fetch_add(1, Ordering::Relaxed);
        let (bets, stats, outstanding) = (bets.clone(), stats.clone(), outstanding.clone());
        let late_threshold = p.late_threshold;
        tokio::spawn(async move {
            // Lag is taken when the request task actually starts, so it also
            // covers time queued behind other tasks on the runtime.
            let behind = intended.elapsed();
            if behind > late_threshold {
                stats.late.fetch_add(1, Ordering::Relaxed);
            }
            stats.record_lag(micros(behind));
            let outcome = bets.send().await;
            // From the intended send time: includes any wait for the schedule.
            let took = intended.elapsed();
            if stats.count(outcome) {
                stats.record_latency(micros(took));
            }
            outstanding.fetch_sub(1, Ordering::AcqRel);
        });
    }
}
