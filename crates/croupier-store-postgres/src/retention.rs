//! Retention (bounded deletes of inbox records, idempotency keys and the
//! stats consumer's bet results past their policy) and planner upkeep that
//! does not wait for autovacuum.

use crate::{db, in_tx, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::retention::{uuid_v7_floor, RetentionStore};
use croupier_core::StoreResult;

/// Autovacuum's default thresholds: a table is analyzed once this many rows
/// plus this share of its rows changed, and vacuumed once as many are dead.
const BASE_ROWS: f64 = 50.0;
const ANALYZE_SHARE: f64 = 0.1;
const VACUUM_SHARE: f64 = 0.2;

#[async_trait]
impl RetentionStore for PostgresStore {
    async fn inbox_prune(
        &self,
        consumer: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        // A range of the primary key: ids below the floor are older.
        let done = sqlx::query(
            "DELETE FROM inbox WHERE consumer = $1 AND event_id IN (
                 SELECT event_id FROM inbox WHERE consumer = $1 AND event_id < $2
                 ORDER BY event_id LIMIT $3)",
        )
        .bind(consumer)
        .bind(uuid_v7_floor(before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn idempotency_prune(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        summarize_new_ranges(&self.pool, "idempotency_by_age").await;
        let done = sqlx::query(
            "DELETE FROM idempotency WHERE (scope, key) IN (
                 SELECT scope, key FROM idempotency
                 WHERE created_at < $1 AND (state = 'done' OR locked_until < $1)
                 LIMIT $2)",
        )
        .bind(millis(before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn bet_results_prune(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        summarize_new_ranges(&self.pool, "stats_bet_results_by_age").await;
        in_tx!(self, |c| crate::stats::prune_bet_results_tx(
            c, before, limit
        )
        .await)
    }

    /// Analyzes (and vacuums) this schema's tables that changed past
    /// autovacuum's own thresholds, whether or not autovacuum runs: a plan
    /// cached while a table was empty is replanned only once the table is
    /// analyzed, and until then scans it whole (seen on a fresh install
    /// without autovacuum: bets/s halved run after run).
    async fn maintain(&self) -> StoreResult<Vec<String>> {
        let due: Vec<(String, bool)> = sqlx::query_as(
            "SELECT relname::text, n_dead_tup > $1 + $3 * GREATEST(n_live_tup, 0)
             FROM pg_stat_user_tables
             WHERE schemaname = current_schema()
               AND (n_mod_since_analyze > $1 + $2 * GREATEST(n_live_tup, 0)
                    OR n_dead_tup > $1 + $3 * GREATEST(n_live_tup, 0))
             ORDER BY relname",
        )
        .bind(BASE_ROWS)
        .bind(ANALYZE_SHARE)
        .bind(VACUUM_SHARE)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        for (table, vacuum) in &due {
            let what = if *vacuum {
                "VACUUM (ANALYZE, SKIP_LOCKED)"
            } else {
                "ANALYZE (SKIP_LOCKED)"
            };
            // VACUUM refuses a transaction block: the simple protocol, alone.
            sqlx::raw_sql(&format!("{what} {}", quote_ident(table)))
                .execute(&self.pool)
                .await
                .map_err(db)?;
        }
        Ok(due.into_iter().map(|(t, _)| t).collect())
    }
}

/// Summarizes the page ranges added to `index`'s table since it last looked.
/// The prunes find old rows through BRIN indexes, which skip only summarized
/// ranges; ranges are summarized by VACUUM (or autovacuum's `autosummarize`),
/// and a table that only grows is never vacuumed, so without this a prune
/// reads every page added since the index was made (330 ms every pass for
/// 1M bet results, measured). Best effort: it needs the index's owner, and
/// a prune without it is slow, not wrong.
async fn summarize_new_ranges(pool: &sqlx::PgPool, index: &str) {
    let done = sqlx::query("SELECT brin_summarize_new_values($1::regclass)")
        .bind(index)
        .execute(pool)
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, index, "cannot summarize new ranges; the prune reads them whole");
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
