//! Retention and upkeep: rows kept only to deduplicate (consumer inboxes,
//! idempotency keys) or to order late events (the stats consumer's bet
//! results) are deleted once no redelivery or retry can need them,
//! so storage grows with what must be kept (ledger, bets), not with every
//! event ever handled; and the backend's planner statistics are kept fresh,
//! so plans made while a table was empty do not outlive its growth.

use crate::error::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes up to `limit` of `consumer`'s inbox records of events created
    /// before `before`; returns how many. Event ids are UUIDv7, so their
    /// creation time orders them (see [`uuid_v7_floor`]).
    async fn inbox_prune(
        &self,
        consumer: &str,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64>;
    /// Deletes up to `limit` idempotency records created before `before`
    /// (completed, or abandoned with their lease long over); returns how many.
    async fn idempotency_prune(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Prunes the stats consumer's per-bet results of bets settled before
    /// `before`: picks up to `limit` of them, and for each player they
    /// belong to folds every result up to the newest picked one into the
    /// player's win-record floors (see [`crate::events::fold_into_floors`]),
    /// then deletes those results; returns how many. A result is kept to
    /// place a late event in its player's sequence, so it may go once no
    /// event of its time can arrive: the inbox retention.
    async fn bet_results_prune(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Refreshes what the backend's planner knows about tables that changed
    /// much since it last looked; returns the tables it refreshed.
    async fn maintain(&self) -> StoreResult<Vec<String>>;
}

/// The smallest UUIDv7 of millisecond `t`: every UUIDv7 made at or after `t`
/// sorts at or above it, every one made before `t` below it (UUIDs compare
/// as bytes on both backends, and as their lowercase hex text).
pub fn uuid_v7_floor(t: DateTime<Utc>) -> Uuid {
    let ms = t.timestamp_millis().clamp(0, (1 << 48) - 1) as u128;
    // 48 bits of time, version 7, variant 0b10, every other bit zero.
    Uuid::from_u128((ms << 80) | (0x7 << 76) | (0b10 << 62))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A real UUIDv7 (random low bits) made at Unix millisecond `ms`.
    fn v7_at(ms: i64) -> Uuid {
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            (ms / 1000) as u64,
            ((ms % 1000) * 1_000_000) as u32,
        );
        Uuid::new_v7(ts)
    }

    proptest! {
        #[test]
        fn ids_sort_around_the_floor_by_their_time(ms in 1i64..(1 << 47), delta in 1i64..1_000_000) {
            let floor = uuid_v7_floor(DateTime::from_timestamp_millis(ms).unwrap());
            prop_assert_eq!(floor.get_version_num(), 7);
            let earlier = v7_at((ms - delta).max(0));
            prop_assert!(earlier < floor);
            prop_assert!(earlier.to_string() < floor.to_string());
            for id in [v7_at(ms), v7_at(ms + delta)] {
                prop_assert!(id >= floor);
                prop_assert!(id.to_string() >= floor.to_string());
            }
        }
    }
}
