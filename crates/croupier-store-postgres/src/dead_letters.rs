//! Dead letters: events a consumer gave up on, kept until re-driven.

use crate::{db, from_millis, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::dead_letters::*;
use croupier_core::{OutboxEvent, PlayerId, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::Row;

const COLUMNS: &str = "id, consumer, event_id, event_type, position, payload, created_at,
    attempts, last_error, first_failed_at, last_failed_at, producer, traceparent";

fn dead_letter(r: &PgRow) -> StoreResult<DeadLetter> {
    Ok(DeadLetter {
        id: r.try_get(0).map_err(db)?,
        consumer: r.try_get(1).map_err(db)?,
        event: OutboxEvent {
            event_id: r.try_get(2).map_err(db)?,
            event_type: r.try_get(3).map_err(db)?,
            position: r.try_get(4).map_err(db)?,
            payload: r.try_get(5).map_err(db)?,
            created_at: from_millis(r.try_get(6).map_err(db)?),
            producer: r.try_get(11).map_err(db)?,
            traceparent: r.try_get(12).map_err(db)?,
        },
        attempts: u32::try_from(r.try_get::<i32, _>(7).map_err(db)?).unwrap_or(0),
        last_error: r.try_get(8).map_err(db)?,
        first_failed_at: from_millis(r.try_get(9).map_err(db)?),
        last_failed_at: from_millis(r.try_get(10).map_err(db)?),
    })
}

#[async_trait]
impl DeadLetterStore for PostgresStore {
    async fn dead_letter_put(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        // One statement: atomic on its own, no retry loop needed.
        sqlx::query_scalar(
            "INSERT INTO dead_letters (consumer, event_id, event_type, position, payload,
                 created_at, attempts, last_error, first_failed_at, last_failed_at,
                 producer, traceparent)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)
             ON CONFLICT (consumer, event_id) DO UPDATE SET
                 attempts = LEAST(dead_letters.attempts::bigint + EXCLUDED.attempts, 2147483647)::int,
                 last_error = EXCLUDED.last_error,
                 last_failed_at = EXCLUDED.last_failed_at
             RETURNING id",
        )
        .bind(consumer)
        .bind(event.event_id)
        .bind(&event.event_type)
        .bind(event.position)
        .bind(&event.payload)
        .bind(millis(event.created_at))
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .bind(error)
        .bind(millis(now))
        .bind(&event.producer)
        .bind(&event.traceparent)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn dead_letters(
        &self,
        consumer: Option<&str>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeadLetter>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM dead_letters
             WHERE id > $1 AND ($2::text IS NULL OR consumer = $2) ORDER BY id LIMIT $3"
        ))
        .bind(after)
        .bind(consumer)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(dead_letter).collect()
    }

    async fn dead_letter(&self, id: i64) -> StoreResult<Option<DeadLetter>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM dead_letters WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(dead_letter).transpose()
    }

    async fn dead_letter_delete(&self, id: i64) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM dead_letters WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn dead_letter_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n.max(0) as u64)
    }

    async fn dead_letter_audit(
        &self,
        actor: PlayerId,
        id: i64,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO admin_audit_log (actor, action, target, details, created_at)
             VALUES ($1, 'dead_letter.redrive', $2, $3, $4)",
        )
        .bind(actor.0)
        .bind(id.to_string())
        .bind(&details)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl ReplayStore for PostgresStore {
    async fn reset_stats(&self, consumer: &str) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM player_stats")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("DELETE FROM game_stats_hourly")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for table in ["stats_bet_results", "player_win_records"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let n = sqlx::query("DELETE FROM inbox WHERE consumer = $1")
            .bind(consumer)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok(n)
    }
}
