//! Builds the platform from configuration and serves it.

use crate::config::Config;
use anyhow::Context;
use croupier_api::AppState;
use croupier_core::ports::Store;
use croupier_core::ratelimit::LocalRateLimiter;
use croupier_store_sqlite::SqliteStore;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
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

/// A platform listening on a socket, as `serve` runs it and tests spawn it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Drains: readiness goes 503, the listener stops, in-flight requests finish.
    pub async fn stop(self) -> std::io::Result<()> {
        self.state.draining.store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(());
        self.task.await.unwrap_or(Ok(()))
    }
}

/// Binds `cfg.listen` (port 0 picks a free port) and serves in the background.
pub async fn start(cfg: &Config) -> anyhow::Result<Running> {
    let store = open_store(cfg).await?;
    croupier_api::metrics::handle();
    croupier_api::metrics::spawn_upkeep();
    let state = AppState::new(store, cfg.api(), Arc::new(LocalRateLimiter::new()));
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
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let app =
        croupier_api::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
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
        state,
        shutdown: tx,
        task,
    })
}

/// `croupier serve`: runs until SIGTERM or Ctrl-C, then drains.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    // Handlers go in before anything can announce readiness: a signal that
    // arrives once the URL is logged must drain, not kill the process.
    let stop = shutdown_signal()?;
    let running = start(&cfg).await?;
    tracing::info!(
        url = %format!("http://{}", running.addr),
        data_dir = %cfg.data_dir.display(),
        store = running.state.store.backend(),
        "croupier listening on http://{}", running.addr
    );
    stop.await;
    tracing::info!(grace_secs = cfg.shutdown_grace_secs, "shutting down");
    let grace = std::time::Duration::from_secs(cfg.shutdown_grace_secs);
    match tokio::time::timeout(grace, running.stop()).await {
        Ok(r) => r?,
        Err(_) => tracing::warn!("grace period over; abandoning in-flight requests"),
    }
    Ok(())
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
