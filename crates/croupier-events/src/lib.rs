//! Croupier's events: from the transactional outbox to the consumers.
//!
//! ```text
//! outbox rows ──(claim with a lease)──► Relay ──► Bus ──► consumers
//!                                         ▲        ├─ InProcessBus: calls the consumers directly
//!        mark published once delivered ───┘        └─ JetStreamBus: one stream per domain;
//!                                                     JetStreamSource runs the consumers
//!                                                     from durable pull consumers
//! ```
//!
//! Delivery is at least once: the relay marks an event published only after
//! the bus acknowledged it, so a crash in between publishes it again
//! (JetStream drops the copy by its `Nats-Msg-Id` within the duplicate window;
//! consumers drop any other copy through their inbox). Effects are exactly
//! once: a [`Consumer`] applies an event through a store method that records
//! the event id in its inbox in the same transaction, and the source
//! acknowledges only after that commit.

mod bet_settled;
mod consumer;
pub mod export;
mod housekeeping;
mod inprocess;
pub mod jetstream;
pub mod missions;
pub mod notifications;
pub mod recommendations;
mod relay;
mod replay;
pub mod stats;

pub use bet_settled::{BetProjection, BetSettledConsumer};
pub use consumer::{
    redrive, Consumer, ConsumerError, ConsumerRedriver, DeadLetters, LogDeadLetters,
    StoreDeadLetters,
};
pub use croupier_core::dead_letters::{Redrive, RedriveError, Redriver};
pub use export::{ExportConsumer, ExportOptions, ObjectLocation};
pub use housekeeping::{Housekeeper, HousekeepingOptions, Tidied};
pub use inprocess::InProcessBus;
pub use missions::MissionsConsumer;
pub use notifications::NotificationsConsumer;
pub use recommendations::RecommendationsConsumer;
pub use relay::{Bus, Relay, RelayOptions, RelayStep};
pub use replay::{replay, ReplayReport};
pub use stats::StatsConsumer;

/// Cancels the relay and worker loops on shutdown.
pub use tokio_util::sync::CancellationToken;

/// Names of consumers, streams and metrics labels: what durable consumer
/// names and inbox keys accept everywhere.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The admin API validates `?consumer=` against the core list.
    #[test]
    fn the_core_list_names_exactly_these_consumers() {
        let mut ours = vec![
            StatsConsumer::NAME,
            MissionsConsumer::NAME,
            RecommendationsConsumer::NAME,
            ExportConsumer::NAME,
            NotificationsConsumer::NAME,
        ];
        let mut listed = croupier_core::dead_letters::CONSUMERS.to_vec();
        ours.sort_unstable();
        listed.sort_unstable();
        assert_eq!(ours, listed);
    }
}
