//! The `stats` consumer: per-player and per-game results from `bet.settled`.

use crate::bet_settled::{BetProjection, BetSettledConsumer};
use async_trait::async_trait;
use croupier_core::events::SettledBetEvent;
use croupier_core::ports::StatsStore;
use croupier_core::StoreResult;
use std::sync::Arc;

pub struct Stats(Arc<dyn StatsStore>);

#[async_trait]
impl BetProjection for Stats {
    const NAME: &'static str = "stats";

    async fn apply(&self, bets: &[SettledBetEvent]) -> StoreResult<u64> {
        self.0
            .apply_settled_bets(Self::NAME, bets, croupier_core::now())
            .await
    }
}

pub type StatsConsumer = BetSettledConsumer<Stats>;

impl StatsConsumer {
    pub const NAME: &'static str = Stats::NAME;

    pub fn new(store: Arc<dyn StatsStore>) -> Self {
        BetSettledConsumer(Stats(store))
    }
}
