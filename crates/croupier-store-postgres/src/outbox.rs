//! The outbox as the relay sees it: events claimed with a lease (`FOR UPDATE
//! SKIP LOCKED`), released, marked published, pruned; and the consumers'
//! inbox (`inbox_insert`).

use crate::{db, from_millis, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use croupier_core::ports::OutboxStore;
use croupier_core::{OutboxEvent, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::HashSet;
use uuid::Uuid;

const EVENT_COLUMNS: &str =
    "position, event_id, event_type, payload, created_at, producer, traceparent";

fn event(r: &PgRow) -> StoreResult<OutboxEvent> {
    Ok(OutboxEvent {
        position: r.try_get(0).map_err(db)?,
        event_id: r.try_get(1).map_err(db)?,
        event_type: r.try_get(2).map_err(db)?,
        payload: r.try_get(3).map_err(db)?,
        created_at: from_millis(r.try_get(4).map_err(db)?),
        producer: r.try_get(5).map_err(db)?,
        traceparent: r.try_get(6).map_err(db)?,
    })
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn outbox_after(&self, position: i64, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM outbox WHERE position > $1 ORDER BY position LIMIT $2"
        ))
        .bind(position)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(event).collect()
    }

    async fn outbox_claim(
        &self,
        owner: &str,
        limit: u32,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> StoreResult<Vec<OutboxEvent>> {
        // SKIP LOCKED: a concurrent claimer passes over rows being claimed
        // instead of waiting; a row claimed and committed meanwhile fails the
        // re-check of its lease. Either way claims are disjoint.
        let rows = sqlx::query(&format!(
            "UPDATE outbox SET lease_owner = $1, lease_until = $2
             WHERE position IN (
                 SELECT position FROM outbox WHERE published_at IS NULL
                 AND (lease_until IS NULL OR lease_until <= $3)
                 ORDER BY position LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             RETURNING {EVENT_COLUMNS}"
        ))
        .bind(owner)
        .bind(millis(now + lease))
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut events = rows.iter().map(event).collect::<StoreResult<Vec<_>>>()?;
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
        let done = sqlx::query(
            "UPDATE outbox SET published_at = $1, lease_owner = NULL, lease_until = NULL
             WHERE position = ANY($2) AND published_at IS NULL",
        )
        .bind(millis(now))
        .bind(positions)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn outbox_release(&self, owner: &str, positions: &[i64]) -> StoreResult<u64> {
        if positions.is_empty() {
            return Ok(0);
        }
        let done = sqlx::query(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL
             WHERE position = ANY($1) AND lease_owner = $2 AND published_at IS NULL",
        )
        .bind(positions)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn outbox_backlog(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n.max(0) as u64)
    }

    async fn outbox_prune(&self, published_before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM outbox WHERE position IN (
                 SELECT position FROM outbox
                 WHERE published_at IS NOT NULL AND published_at < $1 LIMIT $2)",
        )
        .bind(millis(published_before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }
}

/// Records `ids` in `consumer`'s inbox; returns those that were not there
/// yet. Call inside the transaction that applies the events' effects: a
/// concurrent handler of the same event waits on the key and then skips it.
pub(crate) async fn inbox_insert(
    c: &mut PgConnection,
    consumer: &str,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> StoreResult<HashSet<Uuid>> {
    let mut ids = ids.to_vec();
    // One key order for every handler: fewer lock-order deadlocks.
    ids.sort_unstable();
    ids.dedup();
    let fresh: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO inbox (consumer, event_id, handled_at)
         SELECT $1, id, $3 FROM UNNEST($2::uuid[]) AS id
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(consumer)
    .bind(&ids)
    .bind(millis(now))
    .fetch_all(c)
    .await
    .map_err(db)?;
    Ok(fresh.into_iter().collect())
}
