//! The operator console's reads: player search, the audit log, the overview.
//! Scans of small tables (players, audit log, per-player projections); the
//! bets table, the big one, is never scanned.

use crate::{from_millis, internal, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::console::*;
use croupier_core::{PlayerId, Role, StoreResult};
use rusqlite::Row;

/// id, username, roles, created_at, blocked_at, blocked_reason.
type SummaryRow = (String, String, String, i64, Option<i64>, Option<String>);

fn summary(r: &Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn search_players(&self, q: PlayerSearch) -> StoreResult<Vec<PlayerSummary>> {
        let like = q.query.as_deref().map(username_pattern);
        let prefix = q.query.as_deref().and_then(id_prefix_pattern);
        let blocked = q.blocked;
        let (before_at, before_id) = match q.before {
            Some((at, id)) => (Some(millis(at)), Some(id.to_string())),
            None => (None, None),
        };
        let rows = self
            .readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT id, username, roles, created_at, blocked_at, blocked_reason FROM players
                         WHERE (?1 IS NULL OR username_lower LIKE ?1 ESCAPE '\\' OR id LIKE ?2)
                           AND (?3 IS NULL OR (blocked_at IS NOT NULL) = ?3)
                           AND (?4 IS NULL OR (created_at, id) < (?4, ?5))
                         ORDER BY created_at DESC, id DESC LIMIT ?6",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map((like, prefix, blocked, before_at, before_id, q.limit), summary)
                    .map_err(internal)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(internal)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(id, username, roles, created, blocked_at, reason)| {
                Ok(PlayerSummary {
                    id: id.parse().map_err(internal)?,
                    username,
                    roles: roles.split(',').filter_map(Role::parse).collect(),
                    created_at: from_millis(created),
                    blocked_at: blocked_at.map(from_millis),
                    blocked_reason: reason,
                })
            })
            .collect()
    }

    async fn live_sessions(&self, player: PlayerId, now: DateTime<Utc>) -> StoreResult<i64> {
        let (player, now) = (player.to_string(), millis(now));
        self.readers
            .read(move |c| {
                c.prepare_cached(
                    "SELECT COUNT(*) FROM sessions
                     WHERE player_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
                )
                .and_then(|mut s| s.query_row((player, now), |r| r.get(0)))
                .map_err(internal)
            })
            .await
    }

    async fn audit_log(&self, q: AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let actor = q.actor.map(|a| a.to_string());
        let rows = self
            .readers
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT a.id, a.actor, p.username, a.action, a.target, a.details, a.created_at
                         FROM admin_audit_log a LEFT JOIN players p ON p.id = a.actor
                         WHERE (?1 IS NULL OR a.actor = ?1) AND (?2 IS NULL OR a.action = ?2)
                           AND (?3 IS NULL OR a.id < ?3)
                         ORDER BY a.id DESC LIMIT ?4",
                    )
                    .map_err(internal)?;
                let rows = s
                    .query_map((actor, q.action, q.before, q.limit), |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, i64>(6)?,
                        ))
                    })
                    .map_err(internal)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(internal)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(id, actor, name, action, target, details, at)| {
                Ok(AuditEntry {
                    id,
                    actor: actor.parse().map_err(internal)?,
                    actor_username: name,
                    action,
                    target,
                    details: serde_json::from_str(&details).map_err(internal)?,
                    at: from_millis(at),
                })
            })
            .collect()
    }

    async fn overview(&self, since: DateTime<Utc>) -> StoreResult<Overview> {
        let (hour, since) = (croupier_core::events::hour_bucket(since), millis(since));
        self.readers
            .read(move |c| {
                let games = c
                    .prepare_cached(
                        "SELECT game, currency, SUM(bets), SUM(wagered), SUM(paid_out)
                         FROM game_stats_hourly WHERE hour >= ?1
                         GROUP BY game, currency ORDER BY game, currency",
                    )
                    .and_then(|mut s| {
                        s.query_map([hour], |r| {
                            Ok(GameTotals {
                                game: r.get(0)?,
                                currency: r.get(1)?,
                                bets: r.get(2)?,
                                wagered: r.get(3)?,
                                paid_out: r.get(4)?,
                            })
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(internal)?;
                // A player bet in the window iff their latest bet on some game did.
                let count = |sql: &str| {
                    c.prepare_cached(sql)
                        .and_then(|mut s| s.query_row([since], |r| r.get::<_, i64>(0)))
                        .map_err(internal)
                };
                Ok(Overview {
                    games,
                    active_players: count(
                        "SELECT COUNT(DISTINCT player_id) FROM rec_player_games WHERE last_played >= ?1",
                    )?,
                    registrations: count("SELECT COUNT(*) FROM players WHERE created_at >= ?1")?,
                })
            })
            .await
    }
}
