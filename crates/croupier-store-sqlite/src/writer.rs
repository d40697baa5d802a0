//! The single writer: one thread owns the write connection and commits jobs in
//! batches (group commit). Each job runs inside its own SAVEPOINT, so a job that
//! fails is rolled back alone; the batch commits with one fsync, and only then
//! are callers answered — nothing is acknowledged before it is durable.

use croupier_core::{StoreError, StoreResult};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
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
    pub(crate) fn spawn(conn: Connection, max_batch: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>(queue.max(1));
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, max_batch.max(1)))?;
        Ok(Self { jobs })
    }

    /// Runs `f` in the next batch; resolves after the batch commits.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
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
        rx.await
            .map_err(|_| StoreError::Internal("write job panicked".into()))?
    }
}

fn writer_loop(conn: Connection, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&conn, &mut batch);
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
        if let Err(e) = control(conn, "SAVEPOINT job") {
            let (_, reply) = job(None);
            replies.push((reply, Some(e.to_string())));
            continue;
        }
        // A panicking job must not take the writer (and every later write) down.
        let ok = match catch_unwind(AssertUnwindSafe(|| job(Some(conn)))) {
            Ok((ok, reply)) => {
                replies.push((reply, None));
                ok
            }
            Err(_) => false, // its reply sender was dropped: the caller sees an error
        };
        let end = if ok {
            control(conn, "RELEASE job")
        } else {
            control(conn, "ROLLBACK TO job").and_then(|_| control(conn, "RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "cannot close savepoint");
        }
    }
    let commit = control(conn, "COMMIT").map_err(|e| e.to_string());
    if let Err(e) = &commit {
        tracing::error!(error = %e, batch = size, "write batch commit failed");
        let _ = conn.execute_batch("ROLLBACK");
    }
    metrics_batch(size);
    for (reply, own_error) in replies {
        reply(match own_error {
            Some(e) => Err(e),
            None => commit.clone(),
        });
    }
}

fn metrics_batch(size: usize) {
    metrics::histogram!("croupier_sqlite_write_batch_size").record(size as f64);
}
