//! The `missions` consumer: mission progress and rewards from `bet.settled`.

use crate::consumer::{Consumer, ConsumerError};
use crate::stats::{settled_bets, store_error};
use async_trait::async_trait;
use croupier_core::missions::{merge_rules, MissionRule};
use croupier_core::ports::MissionStore;
use croupier_core::{event_type, OutboxEvent};
use std::sync::Arc;

pub struct MissionsConsumer {
    store: Arc<dyn MissionStore>,
    /// The config file's rules; admin rules (read per batch) override them.
    config_rules: Vec<MissionRule>,
}

impl MissionsConsumer {
    pub const NAME: &'static str = "missions";

    pub fn new(store: Arc<dyn MissionStore>, config_rules: Vec<MissionRule>) -> Self {
        Self {
            store,
            config_rules,
        }
    }
}

#[async_trait]
impl Consumer for MissionsConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn event_types(&self) -> &[&'static str] {
        &[event_type::BET_SETTLED]
    }

    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        let bets = settled_bets(events)?;
        // Read per batch, so an admin change applies from the next batch on
        // without a restart (one small read; this is off the bet path).
        let admin = self.store.mission_rules().await.map_err(store_error)?;
        let rules = merge_rules(&self.config_rules, &admin);
        let applied = self
            .store
            .apply_mission_bets(Self::NAME, &rules, &bets, croupier_core::now())
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
