//! The single writer: one thread owns the write connection and commits jobs in
//! batches (group commit): one transaction and one fsync for many jobs, and
//! callers are answered only after the COMMIT — nothing is acknowledged
//! before it is durable.
//!
//! Jobs run without savepoints (they cost a third of the writer's time). The
//! rule that makes this safe: **a job refuses before it writes.** A job that
//! fails having written nothing (`total_changes` unchanged) leaves the batch
//! intact; a job that fails after writing — a bug or a real storage fault —
//! taints the batch, which is rolled back whole: every caller in it gets a
//! retryable `Unavailable`, so atomicity never depends on the rule.

use croupier_core::{StoreError, StoreResult};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Sends a job's result once the batch's fate is known.
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// Runs a job (`Some(conn)`) or abandons it (`None`: the batch could not start);
/// says whether the job succeeded and how to answer its caller.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Reply) + Send>;

#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// `wal` is what the checkpointer reports of the WAL, to keep it bounded.
    pub(crate) fn spawn(
        conn: Connection,
        max_batch: usize,
        queue: usize,
        wal: Arc<WalState>,
    ) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>(queue.max(1));
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, max_batch.max(1), wal))?;
        Ok(Self { jobs })
    }

    /// Runs `f` in the next batch; resolves after the batch commits.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        // The caller's trace context, for the events the job writes.
        let trace = croupier_core::trace::current();
        let parent = trace.clone();
        let start = std::time::SystemTime::now();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => croupier_core::trace::scope_sync(trace, || f(conn)),
                None => Err(StoreError::Unavailable(
                    "write batch could not start".into(),
                )),
            };
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let answer = match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
                };
                let _ = tx.send(answer);
            });
            (ok, reply)
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("sqlite writer has stopped".into()))?;
        let result = rx
            .await
            .map_err(|_| StoreError::Internal("write job panicked".into()))?;
        // From queueing to commit: what the caller waited for.
        croupier_core::trace::record_child(
            "sqlite write",
            croupier_core::trace::SpanKind::Client,
            parent.as_deref(),
            start,
            vec![("db.system", "sqlite".to_owned())],
            result.is_err(),
        );
        result
    }
}

/// Past this size the writer rewinds the WAL between batches.
const WAL_LIMIT_BYTES: u64 = 256 << 20;

/// What the checkpointer last saw of the WAL.
pub(crate) struct WalState {
    page_size: i64,
    /// Frames in the log (it rewinds to 0 on restart; the file keeps its size).
    pub(crate) frames: AtomicI64,
    /// Every frame was backfilled and the database file synced.
    pub(crate) caught_up: AtomicBool,
}

impl WalState {
    pub(crate) fn new(page_size: i64) -> Self {
        Self {
            page_size,
            frames: AtomicI64::new(0),
            caught_up: AtomicBool::new(false),
        }
    }
}

fn writer_loop(
    conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    wal: Arc<WalState>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    let mut last_wal_check = std::time::Instant::now();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        run_batch(&conn, &mut batch);
        metrics::histogram!("croupier_db_transaction_duration_seconds",
            "backend" => "sqlite", "op" => "write_batch")
        .record(started.elapsed().as_secs_f64());
        if last_wal_check.elapsed() >= std::time::Duration::from_millis(100) {
            last_wal_check = std::time::Instant::now();
            bound_wal(&conn, &wal);
        }
    }
    tracing::debug!("sqlite writer stopped");
}

/// Runs a transaction-control statement through the statement cache: these
/// run for every job, so they should not be re-parsed each time.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_batch(conn: &Connection, batch: &mut Vec<Job>) {
    let size = batch.len();
    let mut tainted = false;
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "cannot begin write batch");
        for job in batch.drain(..) {
            let (_, reply) = job(None);
            reply(Err(e.to_string()));
        }
        return;
    }
    let mut replies = Vec::with_capacity(size);
    for job in batch.drain(..) {
        let before = conn.total_changes();
        // A panicking job must not take the writer (and every later write) down.
        match catch_unwind(AssertUnwindSafe(|| job(Some(conn)))) {
            Ok((ok, reply)) => {
                if !ok && conn.total_changes() != before {
                    tainted = true;
                }
                replies.push((reply, ok));
            }
            // Its reply sender was dropped: that caller sees an error.
            Err(_) => tainted = true,
        }
    }
    let commit = if tainted {
        tracing::error!(
            batch = size,
            "a write job failed after writing; rolling the batch back"
        );
        metrics::counter!("croupier_sqlite_batches_aborted_total").increment(1);
        let _ = control(conn, "ROLLBACK");
        Err("write batch aborted; retry".to_owned())
    } else {
        control(conn, "COMMIT").map_err(|e| e.to_string())
    };
    if let Err(e) = &commit {
        if !tainted {
            tracing::error!(error = %e, batch = size, "write batch commit failed");
            let _ = control(conn, "ROLLBACK");
        }
    }
    metrics_batch(size);
    for (reply, ok) in replies {
        // A refusal is the job's own answer; a success stands only if committed.
        reply(if ok { commit.clone() } else { Ok(()) });
    }
}

/// The checkpointer thread copies frames in the background, but the WAL only
/// rewinds once a checkpoint has caught up while no write is in progress —
/// never, under continuous writes. So once the file is past the limit and the
/// checkpointer has just caught up, the writer, between batches, finishes the
/// (nearly empty) remainder and restarts the log: a short pause instead of
/// copying and syncing the whole WAL on the hot path.
fn bound_wal(conn: &Connection, wal: &WalState) {
    // A frame is a page plus its 24-byte header.
    let size = (wal.frames.load(Ordering::Relaxed) * (wal.page_size + 24)).max(0) as u64;
    let caught_up = wal.caught_up.swap(false, Ordering::Relaxed);
    // Past twice the limit, restart anyway: the WAL must stay bounded.
    if size < WAL_LIMIT_BYTES || (size < 2 * WAL_LIMIT_BYTES && !caught_up) {
        return;
    }
    let started = std::time::Instant::now();
    match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
        Ok(busy) => {
            // Until the checkpointer looks again, the log is (nearly) empty.
            wal.frames.store(0, Ordering::Relaxed);
            tracing::debug!(
                busy,
                wal_bytes = size,
                ms = started.elapsed().as_millis() as u64,
                "WAL restarted"
            );
        }
        Err(e) => tracing::warn!(error = %e, "WAL restart failed"),
    }
}

fn metrics_batch(size: usize) {
    metrics::histogram!("croupier_sqlite_write_batch_size").record(size as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    type TestJob<T> = Box<dyn FnOnce(&Connection) -> StoreResult<T> + Send>;

    fn writer() -> (Writer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER UNIQUE);")
            .unwrap();
        let wal = Arc::new(WalState::new(4096));
        (Writer::spawn(conn, 64, 64, wal).unwrap(), dir)
    }

    fn insert(v: i64) -> impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static {
        move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [v])
                .map_err(crate::internal)?;
            Ok(())
        }
    }

    async fn values(w: &Writer) -> Vec<i64> {
        w.write(|c| {
            let mut s = c.prepare("SELECT v FROM t ORDER BY v").unwrap();
            let rows = s.query_map([], |r| r.get(0)).unwrap();
            Ok(rows.map(|r| r.unwrap()).collect())
        })
        .await
        .unwrap()
    }

    /// Queues `jobs` behind a slow job so they all land in one batch.
    async fn one_batch<T: Send + 'static>(
        w: &Writer,
        jobs: Vec<TestJob<T>>,
    ) -> Vec<StoreResult<T>> {
        let slow = {
            let w = w.clone();
            tokio::spawn(async move {
                w.write(|_| {
                    std::thread::sleep(Duration::from_millis(150));
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        let tasks: Vec<_> = jobs
            .into_iter()
            .map(|j| {
                let w = w.clone();
                tokio::spawn(async move { w.write(j).await })
            })
            .collect();
        slow.await.unwrap().unwrap();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_before_writing_leaves_the_batch_intact() {
        let (w, _dir) = writer();
        let tasks: Vec<_> = [
            Box::new(insert(1)) as TestJob<()>,
            Box::new(|_: &Connection| Err(StoreError::InsufficientFunds)),
            Box::new(insert(2)),
        ]
        .into_iter()
        .map(|j| {
            let w = w.clone();
            tokio::spawn(async move { w.write(j).await })
        })
        .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert!(results[0].is_ok() && results[2].is_ok());
        assert!(matches!(results[1], Err(StoreError::InsufficientFunds)));
        assert_eq!(values(&w).await, vec![1, 2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_after_writing_rolls_the_whole_batch_back() {
        let (w, _dir) = writer();
        let results = one_batch(
            &w,
            vec![
                Box::new(insert(10)),
                Box::new(|c: &Connection| {
                    insert(11)(c)?;
                    Err(StoreError::InsufficientFunds)
                }),
                Box::new(insert(12)),
            ],
        )
        .await;
        assert!(
            matches!(results[0], Err(StoreError::Unavailable(_))),
            "{:?}",
            results[0]
        );
        assert!(
            matches!(results[1], Err(StoreError::InsufficientFunds)),
            "{:?}",
            results[1]
        );
        assert!(
            matches!(results[2], Err(StoreError::Unavailable(_))),
            "{:?}",
            results[2]
        );
        assert_eq!(
            values(&w).await,
            Vec::<i64>::new(),
            "nothing of the batch committed"
        );
        // The writer carries on.
        w.write(insert(13)).await.unwrap();
        assert_eq!(values(&w).await, vec![13]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_job_aborts_its_batch_but_not_the_writer() {
        let (w, _dir) = writer();
        let results = one_batch(
            &w,
            vec![
                Box::new(insert(20)),
                Box::new(|c: &Connection| {
                    insert(21)(c)?;
                    panic!("job bug")
                }),
            ],
        )
        .await;
        assert!(results[0].is_err());
        assert!(matches!(results[1], Err(StoreError::Internal(_))));
        w.write(insert(22)).await.unwrap();
        assert_eq!(values(&w).await, vec![22]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_statement_alone_does_not_taint_the_batch() {
        // A UNIQUE violation is rolled back by SQLite itself (statement
        // journal): total_changes is unchanged, so the batch stands.
        let (w, _dir) = writer();
        w.write(insert(30)).await.unwrap();
        let results = one_batch(
            &w,
            vec![
                Box::new(insert(31)),
                Box::new(insert(30)),
                Box::new(insert(32)),
            ],
        )
        .await;
        assert!(
            results[0].is_ok() && results[1].is_err() && results[2].is_ok(),
            "{results:?}"
        );
        assert_eq!(values(&w).await, vec![30, 31, 32]);
    }
}
