//! Dead letters: events a consumer gave up on (a permanent error, or a
//! transient one past the attempt limit). Kept in the store, listed by the
//! admin API and re-drivable, so nothing a consumer failed is dropped silently.

use crate::error::StoreResult;
use crate::types::OutboxEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One event one consumer could not apply. At most one per (consumer, event):
/// dead-lettering the same event again updates the row.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// Store-assigned, increasing: the admin API's id and page cursor.
    pub id: i64,
    pub consumer: String,
    /// The event as it was delivered (its id, type, position and payload).
    pub event: OutboxEvent,
    /// Deliveries that failed, summed over every time it was dead-lettered.
    pub attempts: u32,
    pub last_error: String,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
}

#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    /// Records that `consumer` gave up on `event` after `attempts` deliveries;
    /// if it already holds that (consumer, event), adds the attempts and
    /// replaces the error and last failure time. Returns the dead letter's id.
    async fn dead_letter_put(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// Dead letters with id greater than `after`, oldest first, optionally of
    /// one consumer only.
    async fn dead_letters(
        &self,
        consumer: Option<&str>,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeadLetter>>;
    async fn dead_letter(&self, id: i64) -> StoreResult<Option<DeadLetter>>;
    /// Removes a dead letter (once re-driven); `false` if it was not there.
    async fn dead_letter_delete(&self, id: i64) -> StoreResult<bool>;
    /// How many are waiting, all consumers together.
    async fn dead_letter_count(&self) -> StoreResult<u64>;
}
