//! Retention: bounded deletes of inbox records, idempotency keys and the
//! stats consumer's bet results past their policy, each one short write job
//! so bets queue behind it briefly.

use crate::{internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::retention::{uuid_v7_floor, RetentionStore};
use croupier_core::StoreResult;

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn inbox_prune(
        &self,
        consumer: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        let (consumer, floor) = (consumer.to_owned(), uuid_v7_floor(before).to_string());
        self.writer
            .write(move |c| {
                // A range of the primary key: ids below the floor are older.
                c.prepare_cached(
                    "DELETE FROM inbox WHERE consumer = ?1 AND event_id IN (
                         SELECT event_id FROM inbox WHERE consumer = ?1 AND event_id < ?2
                         ORDER BY event_id LIMIT ?3)",
                )
                .and_then(|mut s| s.execute((&consumer, &floor, limit)))
                .map(|n| n as u64)
                .map_err(internal)
            })
            .await
    }

    async fn idempotency_prune(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let before = millis(before);
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "DELETE FROM idempotency WHERE (scope, key) IN (
                         SELECT scope, key FROM idempotency
                         WHERE created_at < ?1 AND (state = 'done' OR locked_until < ?1)
                         ORDER BY created_at LIMIT ?2)",
                )
                .and_then(|mut s| s.execute((before, limit)))
                .map(|n| n as u64)
                .map_err(internal)
            })
            .await
    }

    async fn bet_results_prune(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let before = millis(before);
        self.writer
            .write(move |c| crate::stats::prune_bet_results(c, before, limit))
            .await
    }

    /// SQLite plans without statistics here: its heuristics suit these
    /// indexes, and `ANALYZE` could only change plans that were measured.
    async fn maintain(&self) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }
}
