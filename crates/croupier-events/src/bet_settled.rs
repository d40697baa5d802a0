//! The one shape of the `bet.settled` projections (stats, missions,
//! recommendations): decode the batch, hand it to the projection's store,
//! which applies each event at most once per consumer (its inbox, in the same
//! transaction), and count the events it had already applied as redelivered.

use crate::consumer::{Consumer, ConsumerError};
use async_trait::async_trait;
use croupier_core::events::{BetSettled, SettledBetEvent};
use croupier_core::{event_type, OutboxEvent, StoreError, StoreResult};
use serde::Deserialize;

/// What one projection does with a batch of settled bets.
#[async_trait]
pub trait BetProjection: Send + Sync + 'static {
    /// The consumer's name: its inbox key, durable name and metric label.
    const NAME: &'static str;

    /// Applies the bets this consumer has not applied yet, in one
    /// transaction; returns how many it applied.
    async fn apply(&self, bets: &[SettledBetEvent]) -> StoreResult<u64>;
}

/// A consumer of `bet.settled` feeding one projection.
pub struct BetSettledConsumer<P>(pub(crate) P);

#[async_trait]
impl<P: BetProjection> Consumer for BetSettledConsumer<P> {
    fn name(&self) -> &str {
        P::NAME
    }

    fn event_types(&self) -> &[&'static str] {
        &[event_type::BET_SETTLED]
    }

    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        let bets = settled_bets(events)?;
        let applied = self.0.apply(&bets).await.map_err(store_error)?;
        let repeats = bets.len() as u64 - applied;
        if repeats > 0 {
            metrics::counter!("croupier_consumer_redelivered_total", "consumer" => P::NAME)
                .increment(repeats);
        }
        Ok(())
    }
}

/// `bet.settled` events decoded for the store; a payload that does not decode
/// is a permanent failure (retrying cannot fix it).
fn settled_bets(events: &[OutboxEvent]) -> Result<Vec<SettledBetEvent>, ConsumerError> {
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
