//! The `missions` consumer: mission progress and rewards from `bet.settled`.

use crate::bet_settled::{BetProjection, BetSettledConsumer};
use async_trait::async_trait;
use croupier_core::events::SettledBetEvent;
use croupier_core::missions::{merge_rules, MissionRule};
use croupier_core::ports::MissionStore;
use croupier_core::StoreResult;
use std::sync::Arc;

pub struct Missions {
    store: Arc<dyn MissionStore>,
    /// The config file's rules; admin rules (read per batch) override them.
    config_rules: Vec<MissionRule>,
}

#[async_trait]
impl BetProjection for Missions {
    const NAME: &'static str = "missions";

    async fn apply(&self, bets: &[SettledBetEvent]) -> StoreResult<u64> {
        // Read per batch, so an admin change applies from the next batch on
        // without a restart (one small read; this is off the bet path).
        let admin = self.store.mission_rules().await?;
        let rules = merge_rules(&self.config_rules, &admin);
        self.store
            .apply_mission_bets(Self::NAME, &rules, bets, croupier_core::now())
            .await
    }
}

pub type MissionsConsumer = BetSettledConsumer<Missions>;

impl MissionsConsumer {
    pub const NAME: &'static str = Missions::NAME;

    pub fn new(store: Arc<dyn MissionStore>, config_rules: Vec<MissionRule>) -> Self {
        BetSettledConsumer(Missions {
            store,
            config_rules,
        })
    }
}
