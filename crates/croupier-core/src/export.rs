//! The analytics export's bookkeeping: which events were written to which
//! file. The files themselves live in an object store; the store's record
//! (and the manifests built from it) is what counts as exported.

use crate::error::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// One exported object: the events of one type and one UTC day from one
/// handled batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportFile {
    /// Object path relative to the export root (`events/event_type=…/dt=…/part-….ndjson.gz`).
    pub path: String,
    pub event_type: String,
    /// The partition: the events' `created_at` date (UTC).
    pub dt: NaiveDate,
    pub rows: u64,
    pub bytes: u64,
    pub min_created_at: DateTime<Utc>,
    pub max_created_at: DateTime<Utc>,
    /// When the file was recorded.
    pub exported_at: DateTime<Utc>,
}

/// The export consumer's store side, inbox-guarded like the projections.
#[async_trait]
pub trait ExportStore: Send + Sync {
    /// Those of `ids` not yet in `consumer`'s inbox (in the order given).
    async fn export_unseen(&self, consumer: &str, ids: &[Uuid]) -> StoreResult<Vec<Uuid>>;
    /// In one transaction, records each file and its event ids in
    /// `consumer`'s inbox. All or nothing: if any id is already in the inbox
    /// or any path already recorded (a concurrent exporter won), nothing is
    /// recorded and the result is `AlreadyExported`.
    async fn export_commit(
        &self,
        consumer: &str,
        files: &[(ExportFile, Vec<Uuid>)],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The files recorded for one partition, by path, at most `limit`.
    async fn export_files(
        &self,
        event_type: &str,
        dt: NaiveDate,
        limit: u32,
    ) -> StoreResult<Vec<ExportFile>>;
    /// The partitions (event type, day) with a file recorded at most
    /// `window` before the latest recorded file: those whose manifest a
    /// stop without a final flush may have left behind.
    async fn export_recent_partitions(
        &self,
        window: chrono::Duration,
    ) -> StoreResult<Vec<(String, NaiveDate)>>;
}
