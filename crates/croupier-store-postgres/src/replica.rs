//! Read replicas for history reads.
//!
//! Reads that may lag a little (bet history, wallet entries, the seed-pair
//! list) go to a replica, round robin; everything else, and every read a
//! player expects to reflect the write they just made (balances, one bet by
//! id, a mines round, sessions, the audit), stays on the primary. A replica
//! that fails with a connection error or a timeout is skipped for a few
//! seconds, and the read is answered by the next one or by the primary.

use croupier_core::{StoreError, StoreResult};
use sqlx::PgPool;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a failed replica is left alone before it is tried again.
const COOL_DOWN: Duration = Duration::from_secs(5);

struct Replica {
    pool: PgPool,
    /// Milliseconds since `Reads::epoch` before which this replica is skipped.
    skip_until_ms: AtomicU64,
}

pub(crate) struct Reads {
    primary: PgPool,
    replicas: Vec<Replica>,
    next: AtomicUsize,
    epoch: Instant,
    /// Bound on one replica read, connection included, before falling back.
    timeout: Duration,
}

impl Reads {
    pub fn new(primary: PgPool, replicas: Vec<PgPool>, timeout: Duration) -> Self {
        Self {
            primary,
            replicas: replicas
                .into_iter()
                .map(|pool| Replica {
                    pool,
                    skip_until_ms: AtomicU64::new(0),
                })
                .collect(),
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
            timeout,
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Runs `read` on a healthy replica, falling back to the others and then
    /// to the primary on connection errors and timeouts. Other errors (a bad
    /// query) are returned as they are.
    pub async fn run<T, F, Fut>(&self, read: F) -> StoreResult<T>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        let n = self.replicas.len();
        if n > 0 {
            let start = self.next.fetch_add(1, Ordering::Relaxed);
            for k in 0..n {
                let i = (start + k) % n;
                let replica = &self.replicas[i];
                if replica.skip_until_ms.load(Ordering::Relaxed) > self.now_ms() {
                    continue;
                }
                let result = tokio::time::timeout(self.timeout, read(replica.pool.clone())).await;
                let error = match result {
                    Ok(Ok(v)) => {
                        metrics::counter!("croupier_postgres_reads_total", "pool" => "replica")
                            .increment(1);
                        return Ok(v);
                    }
                    Ok(Err(StoreError::Unavailable(e))) => e,
                    Ok(Err(other)) => return Err(other),
                    Err(_) => "timed out".to_owned(),
                };
                tracing::warn!(replica = i, error = %error, "read replica unavailable; skipping it for {COOL_DOWN:?}");
                metrics::counter!("croupier_postgres_replica_failures_total").increment(1);
                replica.skip_until_ms.store(
                    self.now_ms() + COOL_DOWN.as_millis() as u64,
                    Ordering::Relaxed,
                );
            }
        }
        metrics::counter!("croupier_postgres_reads_total", "pool" => "primary").increment(1);
        read(self.primary.clone()).await
    }
}
