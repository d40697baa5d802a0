//! Dead letters: events a consumer gave up on, kept until re-driven.

use crate::{from_millis, internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::dead_letters::*;
use croupier_core::{OutboxEvent, PlayerId, StoreResult};

const COLUMNS: &str = "id, consumer, event_id, event_type, position, payload, created_at,
    attempts, last_error, first_failed_at, last_failed_at, producer, traceparent";

type Row = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
);

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

fn dead_letter(row: Row) -> StoreResult<DeadLetter> {
    let (
        id,
        consumer,
        event_id,
        event_type,
        position,
        payload,
        created,
        attempts,
        error,
        first,
        last,
        producer,
        traceparent,
    ) = row;
    Ok(DeadLetter {
        id,
        consumer,
        event: OutboxEvent {
            position,
            event_id: event_id.parse().map_err(internal)?,
            event_type,
            payload: serde_json::from_str(&payload).map_err(internal)?,
            created_at: from_millis(created),
            producer,
            traceparent,
        },
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error: error,
        first_failed_at: from_millis(first),
        last_failed_at: from_millis(last),
    })
}

#[async_trait]
impl DeadLetterStore for SqliteStore {
    async fn dead_letter_put(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let (consumer, event, error) = (consumer.to_owned(), event.clone(), error.to_owned());
        let payload = serde_json::to_string(&event.payload).map_err(internal)?;
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO dead_letters (consumer, event_id, event_type, position, payload,
                         created_at, attempts, last_error, first_failed_at, last_failed_at,
                         producer, traceparent)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)
                     ON CONFLICT (consumer, event_id) DO UPDATE SET
                         attempts = attempts + excluded.attempts,
                         last_error = excluded.last_error,
                         last_failed_at = excluded.last_failed_at
                     RETURNING id",
                )
                .and_then(|mut s| {
                    s.query_row(
                        rusqlite::params![
                            consumer,
                            event.event_id.to_string(),
                            event.event_type,
                            event.position,
                            payload,
                            millis(event.created_at),
                            i64::from(attempts),
                            error,
                            millis(now),
                            event.producer,
                            event.traceparent,
                        ],
                        |r| r.get(0),
                    )
                })
                .map_err(internal)
            })
            .await
    }

    async fn dead_letters(
        &self,
        consumer: Option<&str>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeadLetter>> {
        let consumer = consumer.map(str::to_owned);
        let rows = self
            .readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM dead_letters
                         WHERE id > ?1 AND (?2 IS NULL OR consumer = ?2) ORDER BY id LIMIT ?3"
                    ))
                    .map_err(internal)?;
                let rows = s
                    .query_map((after, consumer, limit), from_row)
                    .map_err(internal)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(internal)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter().map(dead_letter).collect()
    }

    async fn dead_letter(&self, id: i64) -> StoreResult<Option<DeadLetter>> {
        let row = self
            .readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!("SELECT {COLUMNS} FROM dead_letters WHERE id = ?1"))
                    .map_err(internal)?;
                let mut rows = s.query_map([id], from_row).map_err(internal)?;
                rows.next().transpose().map_err(internal)
            })
            .await?;
        row.map(dead_letter).transpose()
    }

    async fn dead_letter_delete(&self, id: i64) -> StoreResult<bool> {
        self.writer
            .write(move |c| {
                c.prepare_cached("DELETE FROM dead_letters WHERE id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map(|n| n == 1)
                    .map_err(internal)
            })
            .await
    }

    async fn dead_letter_count(&self) -> StoreResult<u64> {
        self.readers
            .read(|c| {
                c.prepare_cached("SELECT COUNT(*) FROM dead_letters")
                    .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
                    .map(|n| n.max(0) as u64)
                    .map_err(internal)
            })
            .await
    }

    async fn dead_letter_audit(
        &self,
        actor: PlayerId,
        id: i64,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO admin_audit_log (actor, action, target, details, created_at)
                     VALUES (?1, 'dead_letter.redrive', ?2, ?3, ?4)",
                )
                .and_then(|mut s| {
                    s.execute((
                        actor.to_string(),
                        id.to_string(),
                        details.to_string(),
                        millis(now),
                    ))
                })
                .map_err(internal)?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl ReplayStore for SqliteStore {
    async fn reset_stats(&self, consumer: &str) -> StoreResult<u64> {
        let consumer = consumer.to_owned();
        self.writer
            .write(move |c| {
                // Statistics before the inbox: the refuse-before-write rule
                // does not apply (nothing to refuse), and all three commit together.
                c.execute_batch(
                    "DELETE FROM player_stats; DELETE FROM game_stats_hourly;
                     DELETE FROM stats_bet_results; DELETE FROM player_win_records;",
                )
                .map_err(internal)?;
                c.prepare_cached("DELETE FROM inbox WHERE consumer = ?1")
                    .and_then(|mut s| s.execute([&consumer]))
                    .map(|n| n as u64)
                    .map_err(internal)
            })
            .await
    }
}
