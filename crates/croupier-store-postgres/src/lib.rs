//! Croupier's server storage: PostgreSQL through sqlx.
//!
//! Every port method that changes state is one transaction (or one statement,
//! which is its own transaction) holding only the acting player's row locks:
//! the active seed pair, then the wallet (always in that order, so two
//! commands of one player cannot deadlock), or a mines round. System accounts
//! have no balance row, so no row is shared by every bet. A transaction that
//! fails with a serialization failure or a deadlock is retried whole a few
//! times before the caller sees a retryable `Unavailable`.
//!
//! Bets are settled in batches (`batch`): many bets, one transaction.
//! History reads may go to read replicas (`replica`).

mod batch;
mod console;
mod dead_letters;
mod export;
mod games;
mod ledger;
mod missions;
mod outbox;
mod players;
mod recommendations;
mod replica;
mod retention;
mod stats;

pub use batch::BetPathStats;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use croupier_core::ports::{IdempotencyStore, Store};
use croupier_core::{CurrencyCode, IdempotencyBegin, StoreError, StoreResult, StoredResponse};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::PgConnection;
use std::str::FromStr;
use std::time::Duration;

/// Pool settings.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a command waits for a connection (a free one, or a new one
    /// while the server is down) before `Unavailable`: keep it short, so
    /// requests fail fast during an outage.
    pub acquire_timeout: Duration,
    /// Schema(s) every connection uses as `search_path` (e.g. for isolated
    /// test schemas); `None` keeps the server's default. Not applied to replicas.
    pub search_path: Option<String>,
    /// Most bets settled in one transaction; 1 gives each bet its own.
    pub bet_batch_max: usize,
    /// Tasks settling bet batches, each using one connection at a time.
    pub bet_lanes: usize,
    /// Bound on one bet transaction (or batch), the connection wait included,
    /// and on one replica read; past it the caller gets `Unavailable`.
    pub bet_timeout: Duration,
    /// Read replicas for history reads (`replica` module); empty: the primary.
    pub replica_urls: Vec<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(1),
            search_path: None,
            bet_batch_max: 64,
            bet_lanes: 2,
            bet_timeout: Duration::from_secs(5),
            replica_urls: vec![],
        }
    }
}

pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) bets: batch::Bets,
    pub(crate) reads: replica::Reads,
    /// Stops the pool sampler with the store: the sampler holds a handle of
    /// the pool, which would otherwise outlive the store with its connections.
    _sampler: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Migrations embedded from `migrations/`. They only add (a release that
/// drops something does it after the code stopped using it), so the previous
/// release runs on a schema a newer one migrated: migrations this binary does
/// not know are allowed, or a rollback would be refused.
fn migrator() -> sqlx::migrate::Migrator {
    let mut m = sqlx::migrate!();
    m.set_ignore_missing(true);
    m
}

impl PostgresStore {
    /// Connects to `url` and applies pending migrations.
    pub async fn connect(url: &str, opts: PostgresOptions) -> StoreResult<Self> {
        let conn = PgConnectOptions::from_str(url).map_err(db)?;
        Self::connect_with(conn, opts).await
    }

    /// Like `connect`, from parsed connection options.
    pub async fn connect_with(conn: PgConnectOptions, opts: PostgresOptions) -> StoreResult<Self> {
        let conn = match &opts.search_path {
            Some(path) => conn.options([("search_path", path.as_str())]),
            None => conn,
        };
        let pool_options = || {
            PgPoolOptions::new()
                .max_connections(opts.max_connections.max(1))
                .min_connections(opts.min_connections)
                .acquire_timeout(opts.acquire_timeout)
        };
        let pool = pool_options().connect_with(conn).await.map_err(db)?;
        migrator().run(&pool).await.map_err(migrate_error)?;
        // Replicas connect lazily: one that is down must not stop the start.
        let replicas = opts
            .replica_urls
            .iter()
            .map(|url| {
                let conn = PgConnectOptions::from_str(url).map_err(db)?;
                Ok(pool_options().connect_lazy_with(conn))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let bets = batch::Bets::start(
            pool.clone(),
            batch::BetSettings {
                max_batch: opts.bet_batch_max.max(1),
                lanes: opts.bet_lanes.max(1),
                attempt_timeout: opts.bet_timeout,
                queue_timeout: opts.bet_timeout,
            },
        );
        let reads = replica::Reads::new(pool.clone(), replicas, opts.bet_timeout);
        let sampler = AbortOnDrop(tokio::spawn(sample_pool(pool.clone())).abort_handle());
        Ok(Self {
            pool,
            bets,
            reads,
            _sampler: sampler,
        })
    }

    /// Whether the database at `url` holds a Croupier store (its migration
    /// log), creating nothing: commands that only read or check a store
    /// (an audit, a restore's verification) must not call an empty or
    /// mistyped database a clean one.
    pub async fn exists(url: &str) -> StoreResult<bool> {
        use sqlx::Connection;
        let conn = PgConnectOptions::from_str(url).map_err(db)?;
        let mut c = PgConnection::connect_with(&conn).await.map_err(db)?;
        let found = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut c)
            .await
            .map_err(db);
        let _ = c.close().await;
        found
    }

    /// Applies pending migrations to the database at `url` without starting a store.
    pub async fn migrate(url: &str) -> StoreResult<()> {
        let conn = PgConnectOptions::from_str(url).map_err(db)?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(conn)
            .await
            .map_err(db)?;
        let result = migrator().run(&pool).await.map_err(migrate_error);
        pool.close().await;
        result
    }

    /// The underlying pool (for tooling and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Counters of the bet path (batches, fallbacks), for tests and tuning.
    pub fn bet_path_stats(&self) -> BetPathStats {
        self.bets.stats()
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Publishes the pool's occupancy every few seconds until it is closed (or
/// the store dropped):
/// `croupier_db_pool_connections{state}` (in_use, idle) and
/// `croupier_db_pool_max_connections`. Waiting shows as acquire timeouts
/// (`croupier_db_pool_timeouts_total`) once every connection is in use.
async fn sample_pool(pool: PgPool) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    while !pool.is_closed() {
        let (size, idle) = (pool.size(), pool.num_idle() as u32);
        metrics::gauge!("croupier_db_pool_connections", "state" => "in_use")
            .set(f64::from(size.saturating_sub(idle)));
        metrics::gauge!("croupier_db_pool_connections", "state" => "idle").set(f64::from(idle));
        metrics::gauge!("croupier_db_pool_max_connections")
            .set(f64::from(pool.options().get_max_connections()));
        tick.tick().await;
    }
}

// ---- errors and transactions -----------------------------------------------

/// Marks an `Unavailable` that came from a serialization failure or a
/// deadlock: the transaction is retried whole.
const RETRY_MARK: &str = "transaction conflict, retry";
const MAX_ATTEMPTS: u32 = 5;

pub(crate) fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.starts_with(RETRY_MARK))
}

pub(crate) fn retry_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{RETRY_MARK}: {e}"))
}

/// Maps a sqlx error: conflicts to a retryable `Unavailable`, connection and
/// capacity problems to `Unavailable`, everything else to `Internal`.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            if code == "40001" || code == "40P01" {
                retry_error(e)
            } else if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") {
                StoreError::Unavailable(e.to_string())
            } else {
                StoreError::Internal(e.to_string())
            }
        }
        sqlx::Error::PoolTimedOut => {
            metrics::counter!("croupier_db_pool_timeouts_total").increment(1);
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => db(e),
        other => StoreError::Internal(format!("migration failed: {other}")),
    }
}

/// The constraint a unique violation hit, if `e` is one.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            Some(d.constraint().unwrap_or_default().to_owned())
        }
        _ => None,
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub(crate) fn currency(s: &str) -> StoreResult<CurrencyCode> {
    CurrencyCode::parse(s).ok_or_else(|| StoreError::Internal(format!("bad currency {s}")))
}

/// Runs `$body` (an expression using `$c: &mut PgConnection`, yielding a
/// `StoreResult`) in a transaction; commits on `Ok`, rolls back on `Err`,
/// and retries the whole transaction on serialization failures and deadlocks.
macro_rules! in_tx {
    ($store:expr, |$c:ident| $body:expr) => {{
        let mut attempt: u32 = 0;
        let mut backoff = croupier_core::backoff::Backoff::new(
            "postgres_transaction",
            std::time::Duration::from_millis(5),
            std::time::Duration::from_millis(200),
        );
        let span_start = std::time::SystemTime::now();
        let result = loop {
            attempt += 1;
            let started = std::time::Instant::now();
            let mut tx = $store.pool.begin().await.map_err($crate::db)?;
            let result = {
                let $c: &mut sqlx::PgConnection = &mut *tx;
                $body
            };
            let outcome = match result {
                Ok(v) => tx.commit().await.map(|()| v).map_err($crate::db),
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
            };
            metrics::histogram!("croupier_db_transaction_duration_seconds",
                "backend" => "postgres", "op" => "transaction")
            .record(started.elapsed().as_secs_f64());
            match outcome {
                Err(e) if $crate::retryable(&e) && attempt < $crate::MAX_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "retrying postgres transaction");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                other => break other,
            }
        };
        croupier_core::trace::record_child(
            "postgres transaction",
            croupier_core::trace::SpanKind::Client,
            croupier_core::trace::current().as_deref(),
            span_start,
            vec![("db.system", "postgresql".to_owned()), ("croupier.attempts", attempt.to_string())],
            result.is_err(),
        );
        result
    }};
}
pub(crate) use in_tx;

/// Appends an event to the outbox inside the caller's transaction.
pub(crate) async fn emit(
    c: &mut PgConnection,
    event_type: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(event_type)
    .bind(payload)
    .bind(millis(now))
    .bind(croupier_core::trace::instance())
    .bind(croupier_core::trace::current())
    .execute(c)
    .await
    .map_err(db)?;
    Ok(())
}

type IdemRow = (Vec<u8>, String, Option<i32>, Option<Vec<u8>>, i64);

async fn idem_row(c: &mut PgConnection, scope: &str, key: &str) -> StoreResult<Option<IdemRow>> {
    sqlx::query_as::<_, IdemRow>(
        "SELECT request_hash, state, status, body, locked_until FROM idempotency
         WHERE scope = $1 AND key = $2 FOR UPDATE",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(c)
    .await
    .map_err(db)
}

async fn idempotency_begin_tx(
    c: &mut PgConnection,
    scope: &str,
    key: &str,
    request_hash: [u8; 32],
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> StoreResult<IdempotencyBegin> {
    let locked_until = millis(now + lease);
    let inserted = sqlx::query(
        "INSERT INTO idempotency (scope, key, request_hash, state, created_at, locked_until)
         VALUES ($1, $2, $3, 'in_progress', $4, $5) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(&request_hash[..])
    .bind(millis(now))
    .bind(locked_until)
    .execute(&mut *c)
    .await
    .map_err(db)?
    .rows_affected();
    if inserted == 1 {
        return Ok(IdempotencyBegin::Started);
    }
    let Some((hash, state, status, body, until)) = idem_row(&mut *c, scope, key).await? else {
        // Released between the insert and the read: let the caller's retry start it.
        return Err(retry_error("idempotency key vanished"));
    };
    if hash != request_hash {
        return Ok(IdempotencyBegin::Mismatch);
    }
    if state == "done" {
        return Ok(IdempotencyBegin::Replay(StoredResponse {
            status: status.unwrap_or(200) as u16,
            body: body.unwrap_or_default(),
        }));
    }
    if until > millis(now) {
        return Ok(IdempotencyBegin::InProgress);
    }
    // The holder's lease ran out (its instance died): take the key over.
    sqlx::query("UPDATE idempotency SET locked_until = $3 WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .bind(locked_until)
        .execute(c)
        .await
        .map_err(db)?;
    Ok(IdempotencyBegin::Started)
}

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: [u8; 32],
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> StoreResult<IdempotencyBegin> {
        in_tx!(self, |c| idempotency_begin_tx(
            c,
            scope,
            key,
            request_hash,
            now,
            lease
        )
        .await)
    }

    async fn idempotency_complete(
        &self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency SET state = 'done', status = $3, body = $4
             WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .bind(i32::from(response.status))
        .bind(&response.body)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn idempotency_release(&self, scope: &str, key: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'in_progress'",
        )
        .bind(scope)
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
