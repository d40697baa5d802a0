//! Dead letters: events a consumer gave up on (a permanent error, or a
//! transient one past the attempt limit). Kept in the store, listed by the
//! admin API and re-drivable, so nothing a consumer failed is dropped silently.

use crate::error::{StoreError, StoreResult};
use crate::types::{OutboxEvent, PlayerId};
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
    /// Records in the admin audit log that `actor` re-drove dead letter `id`
    /// (action `dead_letter.redrive`, target the id).
    async fn dead_letter_audit(
        &self,
        actor: PlayerId,
        id: i64,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// What a re-drive did.
#[derive(Debug, PartialEq, Eq)]
pub enum Redrive {
    /// The consumer applied it (or had already: its inbox makes a repeat a
    /// no-op); the dead letter is removed.
    Applied,
    /// The consumer failed again; the dead letter stays, its attempts, error
    /// and last failure time updated.
    Failed(String),
}

/// Why a re-drive could not be attempted.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("no dead letter {0}")]
    NotFound(i64),
    /// The dead letter names a consumer this build does not run.
    #[error("no consumer named {0:?} in this build")]
    UnknownConsumer(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The event consumers a build runs, by the name their inboxes and dead
/// letters carry (`croupier::events` checks its consumers against it).
pub const CONSUMERS: &[&str] = &[
    "stats",
    "missions",
    "recommendations",
    "export",
    "notifications",
];

/// Hands a dead letter to its consumer's handler again (the admin API's
/// re-drive). Implemented by the events crate over the consumers.
#[async_trait]
pub trait Redriver: Send + Sync {
    async fn redrive(&self, id: i64) -> Result<Redrive, RedriveError>;
}

/// Rebuilding a projection (`croupier events replay --reset`).
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// In one transaction, forgets every event `consumer` handled (its inbox
    /// rows) and, for the statistics consumer, empties the statistics
    /// (`player_stats`, `game_stats_hourly`), so a replay applies every event
    /// afresh. Returns the inbox rows removed.
    async fn reset_stats(&self, consumer: &str) -> StoreResult<u64>;
}
