//! The `export` consumer: every event, as NDJSON (gzip), into Hive-style
//! date partitions of an object store (a local directory or S3-compatible),
//! with per-partition manifests, for a warehouse to load. See docs/export.md.
//!
//! Exactly once in the manifests: the consumer drops events already in its
//! inbox, writes one object per (event type, day) of the batch, then records
//! the objects and their event ids in one store transaction, and only then
//! marks the partitions' manifests for a rewrite from the store. A crash
//! between the object write and the commit leaves an orphan object that no
//! manifest lists.
//!
//! A manifest lists every file of its day, so rewriting it per batch costs
//! quadratic time over a busy day (31.6k files and 9.3 MB by 9M bets): a
//! worker rewrites marked manifests every `manifest_interval` instead
//! ([`ExportConsumer::run_manifests`]), at stop, and at start for the
//! partitions a crash may have left behind.

use crate::consumer::{Consumer, ConsumerError};
use crate::CancellationToken;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use croupier_core::event_type as t;
use croupier_core::export::{ExportFile, ExportStore};
use croupier_core::{OutboxEvent, StoreError};
use object_store::path::Path;
use object_store::ObjectStore;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every event type in the catalog (docs/events.md); a test holds the
/// catalog's schemas to this list.
pub const EVENT_TYPES: &[&str] = &[
    t::PLAYER_REGISTERED,
    t::WALLET_CLAIMED,
    t::WALLET_ADJUSTED,
    t::BET_SETTLED,
    t::SEEDS_ROTATED,
    t::GAME_UPDATED,
    t::MISSION_COMPLETED,
    t::REWARD_GRANTED,
    t::PLAYER_BLOCKED,
    t::PLAYER_UNBLOCKED,
];

/// Where and how the export writes.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub store: Arc<dyn ObjectStore>,
    /// Root of the export inside `store`.
    pub prefix: Path,
    /// The root as a warehouse names it (`s3://bucket/prefix`, or an absolute
    /// directory): manifest entries are `{base_url}/{path}`.
    pub base_url: String,
    pub gzip: bool,
    /// A partition's events in one batch are split into files of at most this many.
    pub max_rows_per_file: usize,
    /// Most files one manifest lists.
    pub manifest_max_files: u32,
    /// How often [`ExportConsumer::run_manifests`] rewrites the manifests
    /// batches changed; zero: each batch rewrites its own before it is
    /// acknowledged (one-shot uses: replay, re-drive, tests).
    pub manifest_interval: Duration,
}

/// An object store and a root inside it, opened from a URL.
pub struct ObjectLocation {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: Path,
    /// The root as a warehouse or operator names it: `s3://bucket/prefix`, or
    /// an absolute directory.
    pub base_url: String,
}

impl ObjectLocation {
    /// Opens `url`: `s3://bucket[/prefix]` (credentials, region and endpoint
    /// from the standard `AWS_*` variables; `s3_endpoint` for MinIO and other
    /// S3-compatible stores), `file:///dir`, or a directory path. Touches
    /// neither disk nor network: errors surface on the first read or write.
    pub fn open(url: &str, s3_endpoint: Option<&str>) -> Result<Self, String> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("an s3:// URL needs a bucket".into());
            }
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(ep) = s3_endpoint {
                b = b
                    .with_endpoint(ep)
                    .with_allow_http(ep.starts_with("http://"));
            }
            let store = b.build().map_err(|e| e.to_string())?;
            let prefix = Path::parse(prefix).map_err(|e| e.to_string())?;
            let base = format!("s3://{bucket}/{prefix}");
            return Ok(Self {
                store: Arc::new(store),
                prefix,
                base_url: base.trim_end_matches('/').to_owned(),
            });
        }
        if url.contains("://") && !url.starts_with("file://") {
            return Err("must be s3://bucket/prefix, file:///dir or a directory".into());
        }
        let dir = std::path::Path::new(url.strip_prefix("file://").unwrap_or(url));
        if dir.as_os_str().is_empty() {
            return Err("the directory is empty".into());
        }
        let dir = std::path::absolute(dir).map_err(|e| e.to_string())?;
        // No prefix store: it would need the directory to exist now.
        let prefix = Path::from_absolute_path(&dir).map_err(|e| e.to_string())?;
        Ok(Self {
            store: Arc::new(object_store::local::LocalFileSystem::new()),
            prefix,
            base_url: dir.to_string_lossy().trim_end_matches('/').to_owned(),
        })
    }
}

impl ExportOptions {
    /// Opens `url` ([`ObjectLocation::open`]) for the export.
    pub fn open(
        url: &str,
        s3_endpoint: Option<&str>,
        gzip: bool,
        max_rows_per_file: usize,
        manifest_max_files: u32,
    ) -> Result<Self, String> {
        let ObjectLocation {
            store,
            prefix,
            base_url,
        } = ObjectLocation::open(url, s3_endpoint)?;
        Ok(Self {
            store,
            prefix,
            base_url,
            gzip,
            max_rows_per_file: max_rows_per_file.max(1),
            manifest_max_files,
            manifest_interval: Duration::ZERO,
        })
    }
}

type Partition = (String, NaiveDate);

pub struct ExportConsumer {
    store: Arc<dyn ExportStore>,
    opts: ExportOptions,
    /// Partitions with files recorded since their manifest was last written.
    stale: Mutex<BTreeSet<Partition>>,
}

impl ExportConsumer {
    pub const NAME: &'static str = "export";

    pub fn new(store: Arc<dyn ExportStore>, opts: ExportOptions) -> Self {
        Self {
            store,
            opts,
            stale: Mutex::new(BTreeSet::new()),
        }
    }

    /// Rewrites every stale manifest. On a failure the ones not written stay
    /// stale for the next call.
    pub async fn flush_manifests(&self) -> Result<(), ConsumerError> {
        let pending = std::mem::take(&mut *self.stale.lock().expect("not poisoned"));
        let mut left = pending.iter();
        while let Some((event_type, dt)) = left.next() {
            if let Err(e) = self.write_manifest(event_type, *dt).await {
                let mut stale = self.stale.lock().expect("not poisoned");
                stale.insert((event_type.clone(), *dt));
                stale.extend(left.cloned());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Marks stale the partitions of the files recorded in the last hour (or
    /// ten intervals) before the latest: those a stop without the final
    /// flush (a crash) may have left behind.
    pub async fn recover_manifests(&self) -> Result<(), ConsumerError> {
        let window = (self.opts.manifest_interval * 10).max(Duration::from_secs(3600));
        let window =
            chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::days(365));
        let recent = self
            .store
            .export_recent_partitions(window)
            .await
            .map_err(|e| failure("manifest", e.to_string()))?;
        self.stale.lock().expect("not poisoned").extend(recent);
        Ok(())
    }

    /// A worker's manifest writer: recovers, then rewrites stale manifests
    /// every `manifest_interval` until `stop`. The caller flushes once more
    /// after the consumer's own loops have ended.
    pub async fn run_manifests(self: Arc<Self>, stop: CancellationToken) {
        // At 0 the batches write their own manifests: the loop only recovers
        // (retrying each second until it has), then ends.
        let every_batch = self.opts.manifest_interval.is_zero();
        let period = if every_batch {
            Duration::from_secs(1)
        } else {
            self.opts.manifest_interval
        };
        let mut recovered = false;
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if !recovered {
                recovered = self.recover_manifests().await.is_ok();
            }
            match self.flush_manifests().await {
                Ok(()) if every_batch && recovered => return,
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "cannot write the export manifests; retrying"),
            }
        }
    }

    /// A partition's directory, relative to the export root.
    fn partition_dir(event_type: &str, dt: NaiveDate) -> String {
        format!("events/event_type={event_type}/dt={dt}")
    }

    /// A partition's manifest, relative to the export root: outside `events/`
    /// so that readers of the data files never pick it up.
    pub fn manifest_path(event_type: &str, dt: NaiveDate) -> String {
        format!("manifests/event_type={event_type}/dt={dt}/manifest.json")
    }

    fn full(&self, rel: &str) -> Result<Path, ConsumerError> {
        let joined = if self.opts.prefix.as_ref().is_empty() {
            rel.to_owned()
        } else {
            format!("{}/{rel}", self.opts.prefix)
        };
        Path::parse(joined).map_err(|e| ConsumerError::Permanent(format!("bad export path: {e}")))
    }

    /// Writes one object for `events` (one type, one day) and describes it.
    /// The name is derived from the event ids: a retry of the same events
    /// writes the same name with the same bytes, and other events never
    /// share it, so an object the manifest lists is never overwritten with
    /// different content.
    async fn write_file(
        &self,
        event_type: &str,
        dt: NaiveDate,
        events: &[&OutboxEvent],
    ) -> Result<ExportFile, ConsumerError> {
        let mut body = Vec::with_capacity(events.len() * 256);
        let mut hash = Sha256::new();
        for e in events {
            serde_json::to_writer(&mut body, &line(e))
                .map_err(|err| ConsumerError::Permanent(err.to_string()))?;
            body.push(b'\n');
            hash.update(e.event_id.as_bytes());
        }
        let digest = hash.finalize();
        let mut name = format!(
            "{}/part-{}-{}-{}.ndjson",
            Self::partition_dir(event_type, dt),
            events[0].event_id,
            events.len(),
            hex16(&digest)
        );
        if self.opts.gzip {
            // flate2 writes mtime 0: the same rows give the same bytes.
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::default(),
            );
            gz.write_all(&body)
                .map_err(|err| ConsumerError::Transient(err.to_string()))?;
            body = gz
                .finish()
                .map_err(|err| ConsumerError::Transient(err.to_string()))?;
            name.push_str(".gz");
        }
        let bytes = body.len() as u64;
        self.opts
            .store
            .put(&self.full(&name)?, body.into())
            .await
            .map_err(|err| failure("write", format!("cannot write {name}: {err}")))?;
        Ok(ExportFile {
            path: name,
            event_type: event_type.to_owned(),
            dt,
            rows: events.len() as u64,
            bytes,
            min_created_at: events
                .iter()
                .map(|e| e.created_at)
                .min()
                .expect("non-empty"),
            max_created_at: events
                .iter()
                .map(|e| e.created_at)
                .max()
                .expect("non-empty"),
            exported_at: croupier_core::now(),
        })
    }

    /// Rewrites a partition's manifest from the store's record (the
    /// authority), in Redshift's manifest format.
    async fn write_manifest(&self, event_type: &str, dt: NaiveDate) -> Result<(), ConsumerError> {
        let files = self
            .store
            .export_files(event_type, dt, self.opts.manifest_max_files)
            .await
            .map_err(|e| failure("manifest", e.to_string()))?;
        if files.len() as u64 >= u64::from(self.opts.manifest_max_files) {
            tracing::warn!(event_type, %dt, files = files.len(), "export manifest truncated at export.manifest_max_files");
        }
        let entries: Vec<_> = files
            .iter()
            .map(|f| {
                serde_json::json!({
                    "url": format!("{}/{}", self.opts.base_url, f.path),
                    "mandatory": true,
                    "meta": {"content_length": f.bytes, "record_count": f.rows},
                })
            })
            .collect();
        let body = serde_json::to_vec_pretty(&serde_json::json!({ "entries": entries }))
            .map_err(|e| ConsumerError::Permanent(e.to_string()))?;
        let path = Self::manifest_path(event_type, dt);
        self.opts
            .store
            .put(&self.full(&path)?, body.into())
            .await
            .map_err(|e| failure("manifest", format!("cannot write {path}: {e}")))?;
        Ok(())
    }
}

/// One NDJSON line: the event's envelope and its payload, borrowed (building
/// a `json!` value copied every payload). Fields in alphabetical order, the
/// bytes a `serde_json::Value` of the same line gives.
#[derive(serde::Serialize)]
struct Line<'a> {
    created_at: String,
    event_id: uuid::Uuid,
    event_type: &'a str,
    payload: &'a serde_json::Value,
    position: i64,
    producer: &'a str,
    traceparent: Option<&'a str>,
}

fn line(e: &OutboxEvent) -> Line<'_> {
    Line {
        created_at: e.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        event_id: e.event_id,
        event_type: &e.event_type,
        payload: &e.payload,
        position: e.position,
        producer: &e.producer,
        traceparent: e.traceparent.as_deref(),
    }
}

fn hex16(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts a failure by stage and makes it retryable.
fn failure(stage: &'static str, msg: String) -> ConsumerError {
    metrics::counter!("croupier_export_failures_total", "stage" => stage).increment(1);
    ConsumerError::Transient(msg)
}

fn day(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

#[async_trait]
impl Consumer for ExportConsumer {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn event_types(&self) -> &[&'static str] {
        EVENT_TYPES
    }

    async fn handle(&self, events: &[OutboxEvent]) -> Result<(), ConsumerError> {
        let mut seen = HashSet::new();
        let events: Vec<&OutboxEvent> = events.iter().filter(|e| seen.insert(e.event_id)).collect();
        let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
        let unseen: HashSet<_> = self
            .store
            .export_unseen(Self::NAME, &ids)
            .await
            .map_err(|e| failure("commit", e.to_string()))?
            .into_iter()
            .collect();
        let repeats = (events.len() - unseen.len()) as u64;
        if repeats > 0 {
            metrics::counter!("croupier_consumer_redelivered_total", "consumer" => Self::NAME)
                .increment(repeats);
        }
        // Every partition of the batch gets its manifest refreshed, fresh or
        // not: a redelivery after a failed manifest write repairs it.
        let mut partitions: BTreeSet<Partition> = BTreeSet::new();
        let mut fresh: BTreeMap<Partition, Vec<&OutboxEvent>> = BTreeMap::new();
        for &e in &events {
            let key = (e.event_type.clone(), day(e.created_at));
            partitions.insert(key.clone());
            if unseen.contains(&e.event_id) {
                fresh.entry(key).or_default().push(e);
            }
        }
        let mut files = Vec::new();
        for ((event_type, dt), mut group) in fresh {
            group.sort_by_key(|e| (e.created_at, e.position, e.event_id));
            for chunk in group.chunks(self.opts.max_rows_per_file) {
                let file = self.write_file(&event_type, dt, chunk).await?;
                files.push((file, chunk.iter().map(|e| e.event_id).collect::<Vec<_>>()));
            }
        }
        if !files.is_empty() {
            self.store
                .export_commit(Self::NAME, &files, croupier_core::now())
                .await
                .map_err(|e| match e {
                    // A concurrent exporter recorded some of these first: the
                    // retry filters them out (our objects stay orphans).
                    StoreError::AlreadyExported(m) => failure("commit", m),
                    other => failure("commit", other.to_string()),
                })?;
            let (rows, bytes) = files
                .iter()
                .fold((0, 0), |(r, b), (f, _)| (r + f.rows, b + f.bytes));
            metrics::counter!("croupier_export_rows_total").increment(rows);
            metrics::counter!("croupier_export_files_total").increment(files.len() as u64);
            metrics::counter!("croupier_export_bytes_total").increment(bytes);
        }
        self.stale.lock().expect("not poisoned").extend(partitions);
        if self.opts.manifest_interval.is_zero() {
            self.flush_manifests().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_event_type_is_exported() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let ty = name.split(".v").next().unwrap();
            assert!(EVENT_TYPES.contains(&ty), "{ty} is not exported");
            n += 1;
        }
        assert!(n >= 6);
    }

    #[test]
    fn a_line_is_the_envelope_with_sorted_keys() {
        let mut e = OutboxEvent {
            position: 7,
            event_id: uuid::Uuid::nil(),
            event_type: "bet.settled".into(),
            payload: serde_json::json!({ "z": 1, "a": [true, null] }),
            created_at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            producer: "p".into(),
            traceparent: None,
        };
        let text = serde_json::to_string(&line(&e)).unwrap();
        assert_eq!(
            text,
            r#"{"created_at":"2023-11-14T22:13:20.123Z","event_id":"00000000-0000-0000-0000-000000000000","event_type":"bet.settled","payload":{"a":[true,null],"z":1},"position":7,"producer":"p","traceparent":null}"#
        );
        e.traceparent = Some("00-t".into());
        let v: serde_json::Value = serde_json::to_value(line(&e)).unwrap();
        assert_eq!(v["traceparent"], "00-t");
    }

    #[test]
    fn urls_open_local_and_s3_stores_and_refuse_others() {
        let o = ExportOptions::open("/tmp/x/export/", None, true, 10, 10).unwrap();
        assert_eq!(o.base_url, "/tmp/x/export");
        assert_eq!(o.prefix.as_ref(), "tmp/x/export");
        let o = ExportOptions::open("file:///srv/e", None, true, 10, 10).unwrap();
        assert_eq!(o.base_url, "/srv/e");
        let o = ExportOptions::open(
            "s3://bucket/some/prefix",
            Some("http://127.0.0.1:9000"),
            true,
            10,
            10,
        )
        .unwrap();
        assert_eq!(o.base_url, "s3://bucket/some/prefix");
        assert_eq!(o.prefix.as_ref(), "some/prefix");
        assert!(ExportOptions::open("s3://", None, true, 10, 10).is_err());
        assert!(ExportOptions::open("gs://b/p", None, true, 10, 10).is_err());
        assert!(ExportOptions::open("", None, true, 10, 10).is_err());
    }
}
