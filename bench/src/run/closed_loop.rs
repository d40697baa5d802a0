//! Closed loop: `concurrency` workers, each sending its next bet as soon as the
//! previous one is answered. Measures the most the server sustains; latency
//! here is service time under that load (a slow answer delays the next send).

use super::{histogram, micros, Bets, Stats};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs until `duration` has passed (or Ctrl-C); returns when every worker has
/// finished its last request, which each bounds by the request timeout.
pub async fn run(bets: Arc<Bets>, stats: Arc<Stats>, concurrency: u32, duration: Duration) {
    let deadline = Instant::now() + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (bets, stats) = (bets.clone(), stats.clone());
        workers.spawn(async move {
            // Per-worker histogram: no shared lock per request; merged at the end.
            let mut hist = histogram();
            while Instant::now() < deadline && !stats.stopped() {
                stats.sent.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                let outcome = bets.send().await;
                let took = t0.elapsed();
                if stats.count(outcome) {
                    hist.saturating_record(micros(took));
                }
            }
            stats
                .latency
                .lock()
                .expect("not poisoned")
                .add(&hist)
                .expect("same bounds");
        });
    }
    while workers.join_next().await.is_some() {}
}
