//! Builds the platform from configuration and serves it.

use crate::config::Config;
use anyhow::Context;
use croupier_api::auth::SessionFeed;
use croupier_api::AppState;
use croupier_core::ports::Store;
use croupier_core::ratelimit::{LocalRateLimiter, RateLimiter};
use croupier_redis::{BusEvent, NotificationBus, Redis, RedisRateLimiter, RevocationBus};
use croupier_store_sqlite::SqliteStore;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Opens the configured store: PostgreSQL when `database_url` is set, else
/// the embedded SQLite file (creating the data directory if needed).
/// Either way the schema is migrated first.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &cfg.database_url {
        let store = croupier_store_postgres::PostgresStore::connect(url, cfg.postgres_options())
            .await
            .context("cannot open the PostgreSQL database")?;
        return Ok(Arc::new(store));
    }
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;
    let path = cfg.database_path();
    let store = SqliteStore::open(&path, &cfg.sqlite_options())
        .with_context(|| format!("cannot open database {}", path.display()))?;
    Ok(Arc::new(store))
}

/// Opens the configured store for a command that only reads or repairs
/// one (`ledger audit`, `events replay`, `verify-restore`): like
/// [`open_store`], but the store must already exist, embedded or in
/// PostgreSQL. A mistyped `--data-dir` or database is an error, and creates
/// nothing.
pub async fn open_existing_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = &cfg.database_url {
        let found = croupier_store_postgres::PostgresStore::exists(url)
            .await
            .context("cannot open the PostgreSQL database")?;
        if !found {
            anyhow::bail!("no Croupier store in that PostgreSQL database (no _sqlx_migrations; run `croupier migrate` or `serve` first)");
        }
        return open_store(cfg).await;
    }
    let path = cfg.database_path();
    match SqliteStore::open_existing(&path, &cfg.sqlite_options()) {
        Ok(store) => Ok(Arc::new(store)),
        Err(croupier_core::StoreError::NotFound) => anyhow::bail!(
            "no Croupier store at {} (no {}; run `croupier migrate` or `serve` first)",
            cfg.data_dir.display(),
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot open database {}", path.display())),
    }
}

/// The rate limiter: shared through Redis when `redis_url` is set (falling
/// back to per-instance limits while Redis is unavailable), else in-process.
async fn rate_limiter(cfg: &Config) -> anyhow::Result<(Arc<dyn RateLimiter>, Option<Redis>)> {
    let local = Arc::new(LocalRateLimiter::new());
    let Some(opts) = cfg.redis_options() else {
        return Ok((local, None));
    };
    let redis = Redis::connect(&opts).context("invalid redis_url")?;
    // Not fatal: the platform runs degraded until Redis answers.
    match redis.ping().await {
        Ok(()) => tracing::info!(redis = ?redis, "redis reachable"),
        Err(e) => tracing::warn!(redis = ?redis, error = %e,
            "redis unreachable at start; running degraded until it answers"),
    }
    let limiter = RedisRateLimiter::new(redis.clone()).with_fallback(local);
    Ok((Arc::new(limiter), Some(redis)))
}

/// Where other instances' session revocations come from: the Redis bus; or,
/// on PostgreSQL without Redis (other instances may share the database),
/// nowhere, so cached sessions are re-read every second; or, on the embedded
/// store, nobody else can revoke.
fn session_feed(cfg: &Config, state: &AppState, redis: Option<Redis>) -> SessionFeed {
    match (redis, &cfg.database_url) {
        (Some(redis), _) => {
            let sessions = state.sessions.clone();
            // Retried as long as another instance may cache the session.
            let retry_for = Duration::from_secs(cfg.auth.session_cache_secs.max(1));
            let bus = RevocationBus::start(redis, retry_for, move |event| match event {
                BusEvent::Revoked(hashes) => sessions.invalidate_many(hashes),
                BusEvent::Resync => sessions.invalidate_all(),
            });
            SessionFeed::Shared(Arc::new(bus))
        }
        (None, Some(_)) => SessionFeed::Absent,
        (None, None) => SessionFeed::Local,
    }
}

/// Where the `notifications` consumer sends live notifications, and how this
/// instance's sockets hear them: with Redis, through pub/sub (every api
/// instance subscribes), whichever instance handles the event; without,
/// straight to this process's sockets. Roles split across processes without
/// Redis start anyway (the rest of the platform works), with a warning: the
/// sockets then get nothing.
fn notifier(
    cfg: &Config,
    state: &AppState,
    redis: Option<&Redis>,
) -> Option<Arc<dyn croupier_core::notify::Notifier>> {
    let roles = cfg.roles;
    match redis {
        Some(redis) if roles.api => {
            let hub = state.hub.clone();
            let bus = NotificationBus::subscribe(redis.clone(), move |n| hub.dispatch(n));
            Some(Arc::new(bus))
        }
        Some(redis) => Some(Arc::new(NotificationBus::publisher(redis.clone()))),
        None if roles.api && roles.worker => Some(state.hub.clone()),
        None => {
            tracing::warn!(roles = %roles, "roles split without redis_url: live notifications \
                (GET /v1/ws) reach no socket; set redis_url to fan them out");
            None
        }
    }
}

/// A platform listening on a socket, as `serve` runs it and tests spawn it.
pub struct Running {
    pub addr: SocketAddr,
    /// Where `/metrics` is served (`metrics_listen`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    metrics_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub state: AppState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    events: crate::events::Events,
    /// Holds the notification subscription (if any) open.
    _notifier: Option<Arc<dyn croupier_core::notify::Notifier>>,
}

impl Running {
    /// Drains: readiness goes 503, the listener stops, in-flight requests
    /// finish; then the relay and consumers finish their batch and stop.
    pub async fn stop(self) -> std::io::Result<()> {
        self.state.draining.store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(());
        // Upgraded sockets are not in-flight requests: close them (1001).
        self.state.hub.close_all();
        let served = self.task.await.unwrap_or(Ok(()));
        self.events.stop().await;
        // Scrapes are short and harmless to cut: no drain for them.
        if let Some(t) = self.metrics_task {
            t.abort();
        }
        served
    }
}

/// Binds `cfg.listen` (port 0 picks a free port) and serves in the background.
pub async fn start(cfg: &Config) -> anyhow::Result<Running> {
    start_on(cfg, croupier_core::Clock::system()).await
}

/// [`start`], with sessions and claims measured on `clock` (tests hold a
/// manual one).
pub async fn start_on(cfg: &Config, clock: croupier_core::Clock) -> anyhow::Result<Running> {
    let store = open_store(cfg).await?;
    croupier_api::metrics::handle();
    croupier_api::metrics::spawn_upkeep();
    let (limiter, redis) = rate_limiter(cfg).await?;
    let state = AppState::new(store.clone(), cfg.api(), limiter).with_clock(clock);
    let notifier = notifier(cfg, &state, redis.as_ref());
    let feed = session_feed(cfg, &state, redis);
    // Any api instance re-drives dead letters itself: a consumer's handler is
    // a store method, so it needs no bus and no worker role.
    let redriver = croupier_events::ConsumerRedriver::new(
        store.clone(),
        crate::events::consumers(cfg, &store),
    );
    let state = state
        .with_session_feed(feed)
        .with_redriver(Arc::new(redriver));
    state
        .reload_catalog()
        .await
        .context("cannot load the game catalog")?;
    // Admin changes made on other instances arrive within this period.
    let refresher = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Err(e) = refresher.reload_catalog().await {
                tracing::warn!(error = %e, "cannot reload the game catalog");
            }
        }
    });
    if cfg.roles.api {
        croupier_api::metrics::spawn_session_gauge(state.clone());
    }
    let events = crate::events::Events::start(cfg, store.clone(), notifier.clone()).await?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let (metrics_addr, metrics_task) = match serve_metrics(cfg, &state).await? {
        Some((a, t)) => (Some(a), Some(t)),
        None => (None, None),
    };
    // Without the api role only /livez and /readyz are served.
    let app = if cfg.roles.api {
        croupier_api::router(state.clone())
    } else {
        croupier_api::ops_router(state.clone())
    }
    .into_make_service_with_connect_info::<SocketAddr>();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running {
        addr,
        metrics_addr,
        metrics_task,
        state,
        shutdown: tx,
        task,
        events,
        _notifier: notifier,
    })
}

/// Serves `/metrics` on `metrics_listen`, apart from the API.
async fn serve_metrics(
    cfg: &Config,
    state: &AppState,
) -> anyhow::Result<Option<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)>> {
    let Some(at) = cfg.metrics_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(at)
        .await
        .with_context(|| format!("cannot listen on {at} (metrics_listen)"))?;
    let addr = listener.local_addr()?;
    let app = croupier_api::metrics_router(state.clone());
    Ok(Some((
        addr,
        tokio::spawn(async move { axum::serve(listener, app).await }),
    )))
}

/// `croupier serve`: runs until SIGTERM or Ctrl-C, then drains.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    // Handlers go in before anything can announce readiness: a signal that
    // arrives once the URL is logged must drain, not kill the process.
    let stop = shutdown_signal()?;
    // Process-wide: `start` alone (tests run several instances in one
    // process) keeps the default name.
    if let Some(id) = &cfg.instance_id {
        croupier_core::trace::set_instance(id.clone());
    }
    let otlp = match &cfg.telemetry.otlp_endpoint {
        Some(endpoint) => Some(
            croupier_otlp::Otlp::install(&croupier_otlp::OtlpOptions {
                endpoint: endpoint.clone(),
                json: cfg.telemetry.otlp_protocol == crate::config::OtlpProtocol::Json,
                service_name: cfg.telemetry.service_name.clone(),
                instance: croupier_core::trace::instance().to_owned(),
                sample_ratio: cfg.telemetry.sample_ratio,
                timeout: std::time::Duration::from_millis(cfg.telemetry.timeout_ms),
                max_queue: cfg.telemetry.max_queue,
            })
            .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    let running = start(&cfg).await?;
    tracing::info!(
        instance = croupier_core::trace::instance(),
        url = %format!("http://{}", running.addr),
        data_dir = %cfg.data_dir.display(),
        store = running.state.store.backend(),
        redis = cfg.redis_url.is_some(),
        roles = %cfg.roles,
        metrics = %running.metrics_addr.map_or("off".into(), |a| format!("http://{a}/metrics")),
        "croupier listening on http://{}", running.addr
    );
    stop.await;
    if cfg.shutdown_drain_secs > 0 {
        // Not ready, still serving: the load balancer's checks see the 503
        // and move traffic away before the listener closes.
        running.state.draining.store(true, Ordering::Relaxed);
        tracing::info!(
            drain_secs = cfg.shutdown_drain_secs,
            "draining: /readyz answers 503"
        );
        let drain = std::time::Duration::from_secs(cfg.shutdown_drain_secs);
        tokio::select! {
            _ = tokio::time::sleep(drain) => {}
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: skipping the drain"),
        }
    }
    tracing::info!(grace_secs = cfg.shutdown_grace_secs, "shutting down");
    let grace = std::time::Duration::from_secs(cfg.shutdown_grace_secs);
    let stopped = match tokio::time::timeout(grace, running.stop()).await {
        Ok(r) => r.map_err(anyhow::Error::from),
        Err(_) => {
            tracing::warn!("grace period over; abandoning in-flight requests");
            Ok(())
        }
    };
    if let Some(otlp) = otlp {
        // The export thread blocks while it flushes.
        let _ = tokio::task::spawn_blocking(move || otlp.shutdown()).await;
    }
    stopped
}

/// Registers the SIGINT and SIGTERM handlers now; the future completes on either.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
