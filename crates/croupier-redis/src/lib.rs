//! Croupier's Redis adapters, for running many instances:
//!
//! - [`RedisRateLimiter`]: the `croupier-core` rate-limit port as one atomic
//!   GCRA script, so a quota is shared by every instance;
//! - [`RevocationBus`]: session revocations announced on a pub/sub channel,
//!   with an end-to-end liveness signal the session cache relies on;
//! - [`NotificationBus`]: live notifications fanned out to every api instance.
//!
//! Redis is never on the critical path of correctness: every call is bounded
//! by a short timeout, and when Redis cannot answer, rate limits degrade (to
//! an in-process limiter, or open) and the session cache falls back to
//! re-reading the store. Each degradation is counted in a metric and logged,
//! at most once per [`WARN_EVERY`] per kind so an outage cannot flood logs.

mod notifications;
mod ratelimit;
mod revocation;
mod subscription;

pub use notifications::NotificationBus;
pub use ratelimit::RedisRateLimiter;
pub use revocation::{BusEvent, RevocationBus};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How to reach Redis and how long to wait for it.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port[/db]` or `redis+unix:///path`.
    pub url: String,
    /// Put before every key and channel, so deployments can share a server.
    pub key_prefix: String,
    /// Longest wait for one call (connecting included); past it the call
    /// counts as failed.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis: no answer within {0:?}")]
    Timeout(Duration),
}

/// A handle on one Redis server: a multiplexed connection that reconnects by
/// itself, shared by clones.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show only where it points.
        let info = self.client.get_connection_info();
        f.debug_struct("Redis")
            .field("addr", &info.addr().to_string())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Redis {
    /// Checks the URL and prepares the connection without connecting, so an
    /// instance starts (degraded) while Redis is down. Call from a Tokio runtime.
    pub fn connect(opts: &RedisOptions) -> Result<Self, Error> {
        let client = redis::Client::open(opts.url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(opts.timeout))
            .set_response_timeout(Some(opts.timeout))
            // Few quick retries: callers time out anyway, and the manager
            // reconnects again on the next call after an I/O error.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            conn,
            prefix: opts.key_prefix.as_str().into(),
            timeout: opts.timeout,
        })
    }

    /// One round trip, bounded by the timeout.
    pub async fn ping(&self) -> Result<(), Error> {
        self.query::<String>(&redis::cmd("PING")).await.map(|_| ())
    }

    /// The key prefix, e.g. `croupier:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, Error> {
        let mut conn = self.conn.clone();
        bounded(self.timeout, cmd.query_async(&mut conn)).await
    }

    pub(crate) async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, Error> {
        let mut conn = self.conn.clone();
        bounded(self.timeout, invocation.invoke_async(&mut conn)).await
    }
}

async fn bounded<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(Error::from),
        Err(_) => Err(Error::Timeout(limit)),
    }
}

/// Milliseconds on a monotonic clock (since first use), never 0.
pub(crate) fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// A failing-Redis warning is logged at most this often per kind.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Counts a failed Redis call and logs it, at most once per [`WARN_EVERY`],
/// with how many were left unlogged since.
pub(crate) struct ErrorLog {
    op: &'static str,
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl ErrorLog {
    pub(crate) const fn new(op: &'static str) -> Self {
        Self {
            op,
            last_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, error: &dyn Display, consequence: &str) {
        metrics::counter!("croupier_redis_errors_total", "op" => self.op).increment(1);
        let now = now_ms();
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64;
        if due
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            tracing::warn!(op = self.op, error = %error, suppressed, "redis unavailable: {consequence}");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}
