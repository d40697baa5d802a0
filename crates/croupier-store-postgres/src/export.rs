//! The analytics export's record of written objects, under the export
//! consumer's inbox.

use crate::outbox::inbox_insert;
use crate::{db, from_millis, in_tx, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use croupier_core::export::{ExportFile, ExportStore};
use croupier_core::{StoreError, StoreResult};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

async fn export_commit_tx(
    c: &mut PgConnection,
    consumer: &str,
    files: &[(ExportFile, Vec<Uuid>)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let ids: Vec<Uuid> = files
        .iter()
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    let fresh = inbox_insert(&mut *c, consumer, &ids, now).await?;
    if fresh.len() != ids.len() {
        // Rolled back by the caller: all or nothing.
        return Err(StoreError::AlreadyExported(format!(
            "{} of {} events already exported",
            ids.len() - fresh.len(),
            ids.len()
        )));
    }
    for (f, _) in files {
        let inserted = sqlx::query(
            "INSERT INTO export_files (path, event_type, dt, rows, bytes, min_created_at,
                 max_created_at, exported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(&f.path)
        .bind(&f.event_type)
        .bind(f.dt)
        .bind(f.rows as i64)
        .bind(f.bytes as i64)
        .bind(millis(f.min_created_at))
        .bind(millis(f.max_created_at))
        .bind(millis(f.exported_at))
        .execute(&mut *c)
        .await
        .map_err(db)?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::AlreadyExported(format!(
                "export file {} already recorded",
                f.path
            )));
        }
    }
    Ok(())
}

#[async_trait]
impl ExportStore for PostgresStore {
    async fn export_unseen(&self, consumer: &str, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        let seen: Vec<Uuid> = sqlx::query_scalar(
            "SELECT event_id FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
        )
        .bind(consumer)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let seen: std::collections::HashSet<Uuid> = seen.into_iter().collect();
        Ok(ids
            .iter()
            .copied()
            .filter(|id| !seen.contains(id))
            .collect())
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
        in_tx!(self, |c| export_commit_tx(c, consumer, files, now).await)
    }

    async fn export_files(
        &self,
        event_type: &str,
        dt: NaiveDate,
        limit: u32,
    ) -> StoreResult<Vec<ExportFile>> {
        let rows = sqlx::query(
            "SELECT path, rows, bytes, min_created_at, max_created_at, exported_at
             FROM export_files WHERE event_type = $1 AND dt = $2 ORDER BY path LIMIT $3",
        )
        .bind(event_type)
        .bind(dt)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(ExportFile {
                    path: r.try_get(0).map_err(db)?,
                    event_type: event_type.to_owned(),
                    dt,
                    rows: r.try_get::<i64, _>(1).map_err(db)? as u64,
                    bytes: r.try_get::<i64, _>(2).map_err(db)? as u64,
                    min_created_at: from_millis(r.try_get(3).map_err(db)?),
                    max_created_at: from_millis(r.try_get(4).map_err(db)?),
                    exported_at: from_millis(r.try_get(5).map_err(db)?),
                })
            })
            .collect()
    }

    async fn export_recent_partitions(
        &self,
        window: chrono::Duration,
    ) -> StoreResult<Vec<(String, NaiveDate)>> {
        sqlx::query_as(
            "SELECT DISTINCT event_type, dt FROM export_files
             WHERE exported_at >= (SELECT MAX(exported_at) FROM export_files) - $1
             ORDER BY event_type, dt",
        )
        .bind(window.num_milliseconds())
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }
}
