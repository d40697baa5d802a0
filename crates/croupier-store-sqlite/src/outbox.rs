//! The outbox as the relay sees it: events claimed with a lease, released,
//! marked published, pruned; and the consumers' inbox (`inbox_insert`).

use crate::{from_millis, internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use croupier_core::ports::OutboxStore;
use croupier_core::{OutboxEvent, StoreResult};
use rusqlite::Connection;

const EVENT_COLUMNS: &str =
    "position, event_id, event_type, payload, created_at, producer, traceparent";

type EventRow = (i64, String, String, String, i64, String, Option<String>);

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn event(row: EventRow) -> StoreResult<OutboxEvent> {
    let (position, id, event_type, payload, at, producer, traceparent) = row;
    Ok(OutboxEvent {
        position,
        event_id: id.parse().map_err(internal)?,
        event_type,
        payload: serde_json::from_str(&payload).map_err(internal)?,
        created_at: from_millis(at),
        producer,
        traceparent,
    })
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn outbox_after(&self, position: i64, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {EVENT_COLUMNS} FROM outbox WHERE position > ?1 ORDER BY position LIMIT ?2"
                    ))
                    .map_err(internal)?;
                let rows = s
                    .query_map((position, limit), event_from_row)
                    .map_err(internal)?;
                rows.map(|row| event(row.map_err(internal)?)).collect()
            })
            .await
    }

    async fn outbox_claim(
        &self,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Vec<OutboxEvent>> {
        let now_ms = millis(now);
        // Ask a reader first: an idle relay then costs the writer nothing.
        let claimable = self
            .readers
            .read(move |c| {
                c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL
                     AND (lease_until IS NULL OR lease_until <= ?1))",
                )
                .and_then(|mut s| s.query_row([now_ms], |r| r.get::<_, bool>(0)))
                .map_err(internal)
            })
            .await?;
        if !claimable || limit == 0 {
            return Ok(vec![]);
        }
        let (owner, until) = (owner.to_owned(), millis(now + lease));
        let mut events = self
            .writer
            .write(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "UPDATE outbox SET lease_owner = ?1, lease_until = ?2
                         WHERE position IN (
                             SELECT position FROM outbox WHERE published_at IS NULL
                             AND (lease_until IS NULL OR lease_until <= ?3)
                             ORDER BY position LIMIT ?4)
                         RETURNING {EVENT_COLUMNS}"
                    ))
                    .map_err(internal)?;
                let rows = s
                    .query_map((&owner, until, now_ms, limit), event_from_row)
                    .map_err(internal)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(internal)?;
                Ok(rows)
            })
            .await?
            .into_iter()
            .map(event)
            .collect::<StoreResult<Vec<_>>>()?;
        // RETURNING promises no order.
        events.sort_by_key(|e| e.position);
        Ok(events)
    }

    async fn outbox_mark_published(
        &self,
        positions: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        if positions.is_empty() {
            return Ok(0);
        }
        let positions = positions.to_vec();
        self.writer
            .write(move |c| {
                let mut s = c
                    .prepare_cached(
                        "UPDATE outbox SET published_at = ?1, lease_owner = NULL, lease_until = NULL
                         WHERE position = ?2 AND published_at IS NULL",
                    )
                    .map_err(internal)?;
                let mut marked = 0;
                for p in positions {
                    marked += s.execute((millis(now), p)).map_err(internal)? as u64;
                }
                Ok(marked)
            })
            .await
    }

    async fn outbox_release(&self, owner: &str, positions: &[i64]) -> StoreResult<u64> {
        if positions.is_empty() {
            return Ok(0);
        }
        let (owner, positions) = (owner.to_owned(), positions.to_vec());
        self.writer
            .write(move |c| {
                let mut s = c
                    .prepare_cached(
                        "UPDATE outbox SET lease_owner = NULL, lease_until = NULL
                         WHERE position = ?1 AND lease_owner = ?2 AND published_at IS NULL",
                    )
                    .map_err(internal)?;
                let mut released = 0;
                for p in positions {
                    released += s.execute((p, &owner)).map_err(internal)? as u64;
                }
                Ok(released)
            })
            .await
    }

    async fn outbox_backlog(&self) -> StoreResult<u64> {
        self.readers
            .read(|c| {
                c.prepare_cached("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
                    .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
                    .map(|n| n.max(0) as u64)
                    .map_err(internal)
            })
            .await
    }

    async fn outbox_prune(&self, published_before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let before = millis(published_before);
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "DELETE FROM outbox WHERE position IN (
                         SELECT position FROM outbox
                         WHERE published_at IS NOT NULL AND published_at < ?1 LIMIT ?2)",
                )
                .and_then(|mut s| s.execute((before, limit)))
                .map(|n| n as u64)
                .map_err(internal)
            })
            .await
    }
}

/// Records `event_id` in `consumer`'s inbox; `false` if it was already there.
/// Call inside the transaction (write job) that applies the event's effect.
pub(crate) fn inbox_insert(
    c: &Connection,
    consumer: &str,
    event_id: uuid::Uuid,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    c.prepare_cached(
        "INSERT INTO inbox (consumer, event_id, handled_at) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )
    .and_then(|mut s| s.execute((consumer, event_id.to_string(), millis(now))))
    .map(|n| n == 1)
    .map_err(internal)
}
