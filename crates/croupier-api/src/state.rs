//! Shared application state handed to every handler.

use crate::auth::{SessionCache, SessionFeed};
use crate::catalog::Catalog;
use crate::config::ApiConfig;
use croupier_core::ports::Store;
use croupier_core::ratelimit::RateLimiter;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Recently built `GET /v1/games/{game}/stats` answers (JSON bodies), per game.
pub type GameStatsCache = Arc<Mutex<HashMap<String, (Instant, axum::body::Bytes)>>>;

/// One `Arc`: every middleware and extractor clones the state per request,
/// and one contended reference count is cheaper than one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub config: Arc<ApiConfig>,
    pub sessions: SessionCache,
    /// How other instances' revocations reach `sessions`; see [`SessionFeed`].
    pub session_feed: SessionFeed,
    pub limiter: Arc<dyn RateLimiter>,
    pub catalog: Arc<Catalog>,
    /// Set while shutting down: `/readyz` answers 503 so balancers drain us.
    pub draining: Arc<AtomicBool>,
    /// Re-drives dead letters (`POST /v1/admin/dead-letters/{id}/redrive`);
    /// `None`: 503.
    pub redriver: Option<Arc<dyn croupier_core::dead_letters::Redriver>>,
    /// This instance's live-notification sockets (`GET /v1/ws`).
    pub hub: Arc<crate::ws::Hub>,
    /// `GET /v1/games/{game}/stats` answers, kept `http.game_stats_cache_secs`.
    pub game_stats_cache: GameStatsCache,
    /// The recommendations' global model, cached.
    pub recommendations: Arc<crate::recommendations::ModelCache>,
    /// This instance's request slots (`http.max_in_flight`).
    pub shedder: Arc<crate::shed::Shedder>,
    /// What session expiry and faucet periods are measured on (tests move a
    /// manual clock instead of sleeping).
    pub clock: croupier_core::Clock,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: ApiConfig, limiter: Arc<dyn RateLimiter>) -> Self {
        let sessions = SessionCache::new(
            1_000_000,
            std::time::Duration::from_secs(config.auth.session_cache_secs.max(1)),
        );
        let catalog = Arc::new(Catalog::new(config.games.clone()));
        let hub = Arc::new(crate::ws::Hub::new(&config.ws));
        let recommendations = Arc::new(crate::recommendations::ModelCache::new(
            config.recommendations.clone(),
        ));
        let shedder = Arc::new(crate::shed::Shedder::new(
            config.http.max_in_flight,
            std::time::Duration::from_millis(config.http.queue_timeout_ms),
        ));
        Self(Arc::new(Shared {
            catalog,
            shedder,
            store,
            config: Arc::new(config),
            sessions,
            session_feed: SessionFeed::Local,
            limiter,
            draining: Arc::new(AtomicBool::new(false)),
            redriver: None,
            hub,
            game_stats_cache: Default::default(),
            recommendations,
            clock: croupier_core::Clock::system(),
        }))
    }

    fn configure(&mut self) -> &mut Shared {
        Arc::get_mut(&mut self.0).expect("AppState is configured before it is shared")
    }

    /// Sets the clock sessions and claims are measured on (default: the wall clock).
    pub fn with_clock(mut self, clock: croupier_core::Clock) -> Self {
        self.configure().clock = clock;
        self
    }

    /// Sets where other instances' revocations come from (default
    /// [`SessionFeed::Local`]: this instance is the only one).
    pub fn with_session_feed(mut self, feed: SessionFeed) -> Self {
        self.configure().session_feed = feed;
        self
    }

    /// Sets how dead letters are re-driven (the events crate's consumers).
    pub fn with_redriver(
        mut self,
        redriver: Arc<dyn croupier_core::dead_letters::Redriver>,
    ) -> Self {
        self.configure().redriver = Some(redriver);
        self
    }

    /// Reloads the admin game overrides from the store.
    pub async fn reload_catalog(&self) -> Result<(), croupier_core::StoreError> {
        self.catalog.load(self.store.game_overrides().await?);
        Ok(())
    }
}
