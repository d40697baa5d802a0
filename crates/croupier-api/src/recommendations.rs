//! Recommendations' configuration and the in-process cache of the global
//! model (similarities, popularity): it is the same for every player and
//! changes only as bets settle, so it is rebuilt at most every `cache_secs`.

use croupier_core::ports::RecommendationStore;
use croupier_core::recommendations::Model;
use croupier_core::StoreResult;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecommendationsConfig {
    /// How long an instance reuses the similarity matrix and popularity
    /// before reading them again (0: every request).
    pub cache_secs: u64,
    /// Popularity halves for every this many hours a bet is old.
    pub half_life_hours: u32,
    /// Bets older than this many days do not count towards popularity.
    pub window_days: u32,
}

impl Default for RecommendationsConfig {
    fn default() -> Self {
        Self {
            cache_secs: 5,
            half_life_hours: 72,
            window_days: 30,
        }
    }
}

impl RecommendationsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.cache_secs > 3600 {
            return Err("recommendations.cache_secs: must be 0-3600".into());
        }
        if !(1..=8760).contains(&self.half_life_hours) {
            return Err("recommendations.half_life_hours: must be 1-8760".into());
        }
        if !(1..=365).contains(&self.window_days) {
            return Err("recommendations.window_days: must be 1-365".into());
        }
        Ok(())
    }
}

/// The global model, shared by every request of an instance.
pub struct ModelCache {
    config: RecommendationsConfig,
    // A tokio mutex held across the reload: concurrent misses wait for one
    // load instead of all reading the store.
    current: tokio::sync::Mutex<Option<(Instant, Arc<Model>)>>,
}

impl ModelCache {
    pub fn new(config: RecommendationsConfig) -> Self {
        Self {
            config,
            current: tokio::sync::Mutex::new(None),
        }
    }

    pub async fn model(&self, store: &dyn RecommendationStore) -> StoreResult<Arc<Model>> {
        let ttl = Duration::from_secs(self.config.cache_secs);
        let mut current = self.current.lock().await;
        if let Some((at, model)) = current.as_ref() {
            if at.elapsed() < ttl {
                return Ok(model.clone());
            }
        }
        let started = Instant::now();
        let now = croupier_core::now();
        let since = now - chrono::Duration::days(i64::from(self.config.window_days));
        let data = store.recommendation_data(since).await?;
        let model = Arc::new(Model::build(&data, now, self.config.half_life_hours));
        metrics::histogram!("croupier_recommendations_model_load_seconds")
            .record(started.elapsed().as_secs_f64());
        *current = Some((Instant::now(), model.clone()));
        Ok(model)
    }
}
