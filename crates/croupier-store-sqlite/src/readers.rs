//! A small pool of read-only connections. WAL lets them read concurrently with
//! the writer; each read runs on tokio's blocking pool.

use croupier_core::{StoreError, StoreResult};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub(crate) struct ReadPool {
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Semaphore,
}

impl ReadPool {
    pub(crate) fn new(conns: Vec<Connection>) -> Self {
        let permits = Semaphore::new(conns.len());
        Self {
            idle: Arc::new(Mutex::new(conns)),
            permits,
        }
    }

    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("read pool closed".into()))?;
        let conn = self
            .idle
            .lock()
            .expect("read pool lock")
            .pop()
            .ok_or_else(|| StoreError::Internal("read pool empty under permit".into()))?;
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let result = catch_unwind(AssertUnwindSafe(|| f(&conn)))
                .unwrap_or_else(|_| Err(StoreError::Internal("read job panicked".into())));
            idle.lock().expect("read pool lock").push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}
