//! The analytics export's record of written objects, under the export
//! consumer's inbox.

use crate::outbox::inbox_insert;
use crate::{from_millis, internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use croupier_core::export::{ExportFile, ExportStore};
use croupier_core::{StoreError, StoreResult};
use uuid::Uuid;

#[async_trait]
impl ExportStore for SqliteStore {
    async fn export_unseen(&self, consumer: &str, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        let (consumer, ids) = (consumer.to_owned(), ids.to_vec());
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached("SELECT 1 FROM inbox WHERE consumer = ?1 AND event_id = ?2")
                    .map_err(internal)?;
                let mut unseen = Vec::with_capacity(ids.len());
                for id in ids {
                    if !s.exists((&consumer, id.to_string())).map_err(internal)? {
                        unseen.push(id);
                    }
                }
                Ok(unseen)
            })
            .await
    }

    async fn export_commit(
        &self,
        consumer: &str,
        files: &[(ExportFile, Vec<Uuid>)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if files.is_empty() {
            return Ok(());
        }
        let (consumer, files) = (consumer.to_owned(), files.to_vec());
        self.writer
            .write(move |c| {
                // Refuse before writing (the writer's batching rule): check
                // every id and path first.
                let mut seen = c
                    .prepare_cached("SELECT 1 FROM inbox WHERE consumer = ?1 AND event_id = ?2")
                    .map_err(internal)?;
                let mut known = c
                    .prepare_cached("SELECT 1 FROM export_files WHERE path = ?1")
                    .map_err(internal)?;
                let mut ids = std::collections::HashSet::new();
                for (file, file_ids) in &files {
                    if known.exists([&file.path]).map_err(internal)? {
                        return Err(StoreError::AlreadyExported(format!(
                            "export file {} already recorded",
                            file.path
                        )));
                    }
                    for id in file_ids {
                        if !ids.insert(*id)
                            || seen.exists((&consumer, id.to_string())).map_err(internal)?
                        {
                            return Err(StoreError::AlreadyExported(format!(
                                "event {id} already exported"
                            )));
                        }
                    }
                }
                let mut put = c
                    .prepare_cached(
                        "INSERT INTO export_files (path, event_type, dt, rows, bytes,
                             min_created_at, max_created_at, exported_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .map_err(internal)?;
                for (f, file_ids) in &files {
                    put.execute(rusqlite::params![
                        f.path,
                        f.event_type,
                        f.dt.to_string(),
                        f.rows as i64,
                        f.bytes as i64,
                        millis(f.min_created_at),
                        millis(f.max_created_at),
                        millis(f.exported_at),
                    ])
                    .map_err(internal)?;
                    for id in file_ids {
                        inbox_insert(c, &consumer, *id, now)?;
                    }
                }
                Ok(())
            })
            .await
    }

    async fn export_files(
        &self,
        event_type: &str,
        dt: NaiveDate,
        limit: u32,
    ) -> StoreResult<Vec<ExportFile>> {
        let event_type = event_type.to_owned();
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT path, rows, bytes, min_created_at, max_created_at, exported_at
                         FROM export_files WHERE event_type = ?1 AND dt = ?2
                         ORDER BY path LIMIT ?3",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map((&event_type, dt.to_string(), limit), |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    })
                    .map_err(internal)?;
                rows.map(|r| {
                    let (path, rows, bytes, min, max, at) = r.map_err(internal)?;
                    Ok(ExportFile {
                        path,
                        event_type: event_type.clone(),
                        dt,
                        rows: rows as u64,
                        bytes: bytes as u64,
                        min_created_at: from_millis(min),
                        max_created_at: from_millis(max),
                        exported_at: from_millis(at),
                    })
                })
                .collect()
            })
            .await
    }

    async fn export_recent_partitions(
        &self,
        window: chrono::Duration,
    ) -> StoreResult<Vec<(String, NaiveDate)>> {
        let window = window.num_milliseconds();
        self.readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT DISTINCT event_type, dt FROM export_files
                         WHERE exported_at >= (SELECT MAX(exported_at) FROM export_files) - ?1
                         ORDER BY event_type, dt",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map([window], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(internal)?;
                rows.map(|r| {
                    let (event_type, dt) = r.map_err(internal)?;
                    let dt = dt
                        .parse()
                        .map_err(|e| internal(format!("export_files.dt {dt}: {e}")))?;
                    Ok((event_type, dt))
                })
                .collect()
            })
            .await
    }
}
