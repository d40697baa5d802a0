//! The `recommendations` consumer: play histories and co-play counts from
//! `bet.settled`, for `GET /v1/me/recommendations`.

use crate::bet_settled::{BetProjection, BetSettledConsumer};
use async_trait::async_trait;
use croupier_core::events::SettledBetEvent;
use croupier_core::ports::RecommendationStore;
use croupier_core::StoreResult;
use std::sync::Arc;

pub struct Recommendations(Arc<dyn RecommendationStore>);

#[async_trait]
impl BetProjection for Recommendations {
    const NAME: &'static str = "recommendations";

    async fn apply(&self, bets: &[SettledBetEvent]) -> StoreResult<u64> {
        self.0
            .apply_recommendation_bets(Self::NAME, bets, croupier_core::now())
            .await
    }
}

pub type RecommendationsConsumer = BetSettledConsumer<Recommendations>;

impl RecommendationsConsumer {
    pub const NAME: &'static str = Recommendations::NAME;

    pub fn new(store: Arc<dyn RecommendationStore>) -> Self {
        BetSettledConsumer(Recommendations(store))
    }
}
