//! Schema migrations, tracked in `PRAGMA user_version`. Each migration runs in
//! its own transaction together with the version bump.

use crate::internal;
use croupier_core::StoreResult;
use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_games.sql"),
    include_str!("../migrations/0003_bet_history_by_pair.sql"),
    include_str!("../migrations/0004_events.sql"),
    include_str!("../migrations/0005_missions.sql"),
    include_str!("../migrations/0006_dead_letters.sql"),
    include_str!("../migrations/0007_win_records.sql"),
    include_str!("../migrations/0008_recommendations.sql"),
    include_str!("../migrations/0009_export.sql"),
    include_str!("../migrations/0010_event_provenance.sql"),
    include_str!("../migrations/0011_player_blocks.sql"),
    include_str!("../migrations/0012_retention.sql"),
    include_str!("../migrations/0013_stats_retention.sql"),
];

pub const LATEST_VERSION: u32 = MIGRATIONS.len() as u32;

/// Applies pending migrations; returns the schema version now in place.
pub(crate) fn run(conn: &mut Connection) -> StoreResult<u32> {
    let current: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(internal)?;
    if current > LATEST_VERSION {
        // Migrations only add: the previous release runs on a newer schema
        // (a rollback), so this is a warning, not a refusal.
        tracing::warn!(
            schema_version = current,
            binary_version = LATEST_VERSION,
            "the database schema is newer than this binary (a rollback?); running on it"
        );
        return Ok(current);
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction().map_err(internal)?;
        tx.execute_batch(sql).map_err(internal)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)
            .map_err(internal)?;
        tx.commit().map_err(internal)?;
        tracing::info!(version = i + 1, "applied sqlite migration");
    }
    Ok(LATEST_VERSION)
}
