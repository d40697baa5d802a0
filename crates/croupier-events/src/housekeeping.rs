//! Housekeeping, run by the relay role: deletes inbox records, the stats
//! consumer's bet results and idempotency keys past their retention, in
//! bounded batches, and asks the store to refresh its planner statistics. Each tick takes `now` as an
//! input, so tests drive it with any clock.

use chrono::{DateTime, Duration, Utc};
use croupier_core::retention::RetentionStore;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Rows deleted per statement: each is one short transaction.
const PRUNE_BATCH: u32 = 5_000;
/// Statements per table and tick: a backlog drains over several ticks
/// instead of holding the store for long.
const MAX_BATCHES_PER_TICK: u32 = 20;

#[derive(Clone, Debug)]
pub struct HousekeepingOptions {
    /// Pause between ticks.
    pub interval: std::time::Duration,
    /// Consumers whose inbox is pruned.
    pub consumers: Vec<String>,
    /// Inbox records of events older than this are deleted; `None` keeps them.
    /// Must outlast every redelivery (outbox retention, stream age). The
    /// stats consumer's bet results (when `stats` is among `consumers`)
    /// follow it: past it no event can arrive to be placed among them.
    pub inbox_retention: Option<Duration>,
    /// Idempotency keys older than this are deleted; `None` keeps them.
    pub idempotency_retention: Option<Duration>,
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tidied {
    pub inbox: u64,
    pub bet_results: u64,
    pub idempotency: u64,
    pub analyzed: Vec<String>,
}

pub struct Housekeeper {
    store: Arc<dyn RetentionStore>,
    opts: HousekeepingOptions,
}

impl Housekeeper {
    pub fn new(store: Arc<dyn RetentionStore>, opts: HousekeepingOptions) -> Self {
        Self { store, opts }
    }

    /// One pass at `now`; a failing step is logged and the others still run.
    pub async fn tick(&self, now: DateTime<Utc>) -> Tidied {
        let mut done = Tidied::default();
        if let Some(keep) = self.opts.inbox_retention {
            for consumer in &self.opts.consumers {
                let prune = |limit| self.store.inbox_prune(consumer, now - keep, limit);
                done.inbox += drain("inbox", prune).await;
            }
            if self
                .opts
                .consumers
                .iter()
                .any(|c| c == crate::StatsConsumer::NAME)
            {
                let prune = |limit| self.store.bet_results_prune(now - keep, limit);
                done.bet_results = drain("stats_bet_results", prune).await;
            }
        }
        if let Some(keep) = self.opts.idempotency_retention {
            let prune = |limit| self.store.idempotency_prune(now - keep, limit);
            done.idempotency += drain("idempotency", prune).await;
        }
        match self.store.maintain().await {
            Ok(tables) => done.analyzed = tables,
            Err(e) => tracing::warn!(error = %e, "cannot refresh planner statistics"),
        }
        let pruned = [
            ("inbox", done.inbox),
            ("stats_bet_results", done.bet_results),
            ("idempotency", done.idempotency),
        ];
        for (table, n) in pruned {
            if n > 0 {
                metrics::counter!("croupier_retention_pruned_total", "table" => table).increment(n);
            }
        }
        if !done.analyzed.is_empty() {
            tracing::debug!(tables = ?done.analyzed, "planner statistics refreshed");
        }
        done
    }

    /// Ticks every `interval` until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            self.tick(croupier_core::now()).await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.opts.interval) => {}
            }
        }
    }
}

/// Deletes in batches until a short one, or the tick's share is spent.
async fn drain<F, Fut>(table: &str, mut prune: F) -> u64
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = croupier_core::StoreResult<u64>>,
{
    let mut total = 0;
    for _ in 0..MAX_BATCHES_PER_TICK {
        match prune(PRUNE_BATCH).await {
            Ok(n) => {
                total += n;
                if n < u64::from(PRUNE_BATCH) {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, table, "cannot prune");
                break;
            }
        }
    }
    total
}
