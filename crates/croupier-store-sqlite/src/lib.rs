//! Croupier's embedded storage: SQLite in WAL mode.
//!
//! Writes go through one writer thread that commits in batches (group commit,
//! see `writer`); reads use a pool of read-only connections. Every port method
//! that changes state is one job, hence one atomic unit inside its batch.

pub mod backup;
mod console;
mod dead_letters;
mod export;
mod games;
mod ledger;
mod migrate;
mod missions;
mod outbox;
mod players;
mod readers;
mod recommendations;
mod retention;
mod stats;
mod writer;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use croupier_core::ports::{IdempotencyStore, Store};
use croupier_core::{IdempotencyBegin, StoreError, StoreResult, StoredResponse};
use readers::ReadPool;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use writer::Writer;

pub use migrate::LATEST_VERSION;

/// How durable a commit is. `Full` fsyncs the WAL on every commit (batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronous {
    Full,
    Normal,
}

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// Most write jobs committed in one transaction.
    pub max_batch: usize,
    /// Write jobs that may wait for the writer before callers are slowed down.
    pub queue: usize,
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            max_batch: 256,
            queue: 8192,
            readers: 4,
        }
    }
}

pub struct SqliteStore {
    writer: Writer,
    readers: ReadPool,
    path: PathBuf,
    /// Dropping it stops the checkpointer thread.
    _checkpointer: std::sync::mpsc::Sender<()>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path, opts: &SqliteOptions) -> StoreResult<Self> {
        Self::start(Connection::open(path).map_err(internal)?, path, opts)
    }

    /// Opens the database at `path` and migrates it, like [`open`](Self::open),
    /// but refuses with `NotFound` if there is no such file — creating
    /// neither it nor its directory. For commands that only make sense on an
    /// existing store (an audit of a mistyped path would find a new, empty
    /// ledger clean).
    pub fn open_existing(path: &Path, opts: &SqliteOptions) -> StoreResult<Self> {
        // The usual flags but SQLITE_OPEN_CREATE: the check and the open are one.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let write = Connection::open_with_flags(path, flags).map_err(|e| {
            if path.exists() {
                internal(e)
            } else {
                StoreError::NotFound
            }
        })?;
        Self::start(write, path, opts)
    }

    /// Starts a store on `write`, the open write connection to `path`.
    fn start(mut write: Connection, path: &Path, opts: &SqliteOptions) -> StoreResult<Self> {
        configure(&write, opts.synchronous)?;
        migrate::run(&mut write)?;
        let readers = (0..opts.readers.max(1))
            .map(|_| {
                let c = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(internal)?;
                c.busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(internal)?;
                c.set_prepared_statement_cache_capacity(64);
                Ok(c)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        // Checkpoints run on their own thread, not inside the writer's
        // commits, where they took a fifth of its time (measured with perf).
        write
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(internal)?;
        let page_size: i64 = write
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(internal)?;
        let wal = Arc::new(writer::WalState::new(page_size));
        let checkpointer = spawn_checkpointer(path, wal.clone())?;
        let writer = Writer::spawn(write, opts.max_batch, opts.queue, wal)
            .map_err(|e| StoreError::Internal(format!("cannot start writer: {e}")))?;
        Ok(Self {
            writer,
            readers: ReadPool::new(readers),
            path: path.to_owned(),
            _checkpointer: checkpointer,
        })
    }

    /// Migrates the database at `path` without starting a store.
    pub fn migrate(path: &Path) -> StoreResult<u32> {
        let mut conn = Connection::open(path).map_err(internal)?;
        configure(&conn, Synchronous::Full)?;
        migrate::run(&mut conn)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Copies committed WAL frames into the database file once a second
/// with a PASSIVE checkpoint, which never blocks the writer or readers, and
/// publishes the WAL's length in frames and whether it has backfilled (and
/// synced) every one: the moment the writer can rewind the WAL cheaply.
/// Stops when the returned sender is dropped.
fn spawn_checkpointer(
    path: &Path,
    wal: Arc<writer::WalState>,
) -> StoreResult<std::sync::mpsc::Sender<()>> {
    let conn = Connection::open(path).map_err(internal)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(internal)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || loop {
            match stopped.recv_timeout(std::time::Duration::from_secs(1)) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    // Columns: busy, frames in the log, frames checkpointed.
                    let progress = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    });
                    match progress {
                        Ok((log, done)) => {
                            wal.frames.store(log, Ordering::Relaxed);
                            wal.caught_up.store(log == done, Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                    }
                }
                _ => return,
            }
        })
        .map_err(|e| StoreError::Internal(format!("cannot start checkpointer: {e}")))?;
    Ok(stop)
}

/// What a rewound WAL file is truncated to: enough that it rarely grows again
/// right away, far below the size it reaches under load.
const WAL_KEPT_BYTES: u64 = 64 << 20;

fn configure(conn: &Connection, sync: Synchronous) -> StoreResult<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(internal)?;
    let sync = match sync {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    // temp_store = MEMORY keeps SQLite's temporary files (statement journals)
    // in memory: on files they cost a third of the writer's time (perf).
    // journal_size_limit: a rewound WAL keeps its file at its largest size
    // (up to twice the writer's limit) unless truncated at its next commit.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;
         PRAGMA journal_size_limit = {WAL_KEPT_BYTES};"
    ))
    .map_err(internal)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
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

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Appends an event to the outbox inside the caller's transaction.
pub(crate) fn emit(
    conn: &Connection,
    event_type: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute((
            uuid::Uuid::now_v7().to_string(),
            event_type,
            payload.to_string(),
            millis(now),
            croupier_core::trace::instance(),
            croupier_core::trace::current(),
        ))
    })
    .map_err(internal)?;
    Ok(())
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: [u8; 32],
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> StoreResult<IdempotencyBegin> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.writer
            .write(move |c| {
                let found = c
                    .prepare_cached(
                        "SELECT request_hash, state, status, body, locked_until
                         FROM idempotency WHERE scope = ?1 AND key = ?2",
                    )
                    .and_then(|mut s| {
                        let mut rows = s.query((&scope, &key))?;
                        match rows.next()? {
                            Some(r) => Ok(Some((
                                r.get::<_, Vec<u8>>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, Option<i64>>(2)?,
                                r.get::<_, Option<Vec<u8>>>(3)?,
                                r.get::<_, i64>(4)?,
                            ))),
                            None => Ok(None),
                        }
                    })
                    .map_err(internal)?;
                let locked_until = millis(now + lease);
                match found {
                    None => {
                        c.prepare_cached(
                            "INSERT INTO idempotency (scope, key, request_hash, state, created_at, locked_until)
                             VALUES (?1, ?2, ?3, 'in_progress', ?4, ?5)",
                        )
                        .and_then(|mut s| {
                            s.execute((&scope, &key, &request_hash[..], millis(now), locked_until))
                        })
                        .map_err(internal)?;
                        Ok(IdempotencyBegin::Started)
                    }
                    Some((hash, _, _, _, _)) if hash != request_hash => Ok(IdempotencyBegin::Mismatch),
                    Some((_, state, status, body, _)) if state == "done" => {
                        Ok(IdempotencyBegin::Replay(StoredResponse {
                            status: status.unwrap_or(200) as u16,
                            body: body.unwrap_or_default(),
                        }))
                    }
                    Some((_, _, _, _, until)) if until > millis(now) => Ok(IdempotencyBegin::InProgress),
                    Some(_) => {
                        // The holder's lease ran out (its instance died): take the key over.
                        c.prepare_cached(
                            "UPDATE idempotency SET locked_until = ?3 WHERE scope = ?1 AND key = ?2",
                        )
                        .and_then(|mut s| s.execute((&scope, &key, locked_until)))
                        .map_err(internal)?;
                        Ok(IdempotencyBegin::Started)
                    }
                }
            })
            .await
    }

    async fn idempotency_complete(
        &self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> StoreResult<()> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE idempotency SET state = 'done', status = ?3, body = ?4
                     WHERE scope = ?1 AND key = ?2",
                )
                .and_then(|mut s| s.execute((&scope, &key, response.status as i64, &response.body)))
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn idempotency_release(&self, scope: &str, key: &str) -> StoreResult<()> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "DELETE FROM idempotency WHERE scope = ?1 AND key = ?2 AND state = 'in_progress'",
                )
                .and_then(|mut s| s.execute((&scope, &key)))
                .map_err(internal)?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.readers
            .read(|c| {
                c.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(|e| StoreError::Unavailable(e.to_string()))
            })
            .await?;
        // The writer answers only if its thread is alive and committing.
        self.writer.write(|_| Ok(())).await
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
