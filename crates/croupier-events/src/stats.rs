//! The `stats` consumer: per-player and per-game results from `bet.settled`.

use crate::consumer::{Consumer, ConsumerError};
use async_trait::async_trait;
use croupier_core::events::{BetSettled, SettledBetEvent};
use croupier_core::ports::StatsStore;
use croupier_core::{event_type, OutboxEvent, StoreError};
use serde::Deserialize;
use std::sync::Arc;

pub struct StatsConsumer {
    store: Arc<dyn StatsStore>,
}

impl StatsConsumer {
    pub const NAME: &'static str = "stats";

    pub fn new(store: Arc<dyn StatsStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Consumer for StatsConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn event_types(&self) -> &[&'static str] {
        &[event_type::BET_SETTLED]
    }

    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        let bets = settled_bets(events)?;
        let applied = self
            .store
            .apply_settled_bets(Self::NAME, &bets, croupier_core::now())
            .await
            .map_err(store_error)?;
        let repeats = bets.len() as u64 - applied;
        if repeats > 0 {
            metrics::counter!("croupier_consumer_redelivered_total", "consumer" => Self::NAME)
                .increment(repeats);
        }
        Ok(())
    }
}

/// `bet.settled` events decoded for the store; a payload that does not decode
/// is a permanent failure (retrying cannot fix it).
pub(crate) fn settled_bets(events: &[OutboxEvent]) -> Result<Vec<SettledBetEvent>, ConsumerError> {
    events
        .iter()
        .map(|e| {
            // From the borrowed tree: no copy of the payload per consumer.
            let bet = BetSettled::deserialize(&e.payload).map_err(|err| {
                ConsumerError::Permanent(format!("bad bet.settled {}: {err}", e.event_id))
            })?;
            Ok(SettledBetEvent {
                event_id: e.event_id,
                at: e.created_at,
                bet,
            })
        })
        .collect()
}

/// A store refusal of the data itself is not worth retrying; anything else is.
pub(crate) fn store_error(e: StoreError) -> ConsumerError {
    match e {
        StoreError::AlreadyExported(m) => ConsumerError::Permanent(m),
        other => ConsumerError::Transient(other.to_string()),
    }
}
