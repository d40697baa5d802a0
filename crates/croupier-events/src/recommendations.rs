//! The `recommendations` consumer: play histories and co-play counts from
//! `bet.settled`, for `GET /v1/me/recommendations`.

use crate::consumer::{Consumer, ConsumerError};
use crate::stats::{settled_bets, store_error};
use async_trait::async_trait;
use croupier_core::ports::RecommendationStore;
use croupier_core::{event_type, OutboxEvent};
use std::sync::Arc;

pub struct RecommendationsConsumer {
    store: Arc<dyn RecommendationStore>,
}

impl RecommendationsConsumer {
    pub const NAME: &'static str = "recommendations";

    pub fn new(store: Arc<dyn RecommendationStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Consumer for RecommendationsConsumer {
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
            .apply_recommendation_bets(Self::NAME, &bets, croupier_core::now())
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
