//! The operator console's reads: player search, the audit log, the overview,
//! on the primary (an operator acting on what they read must see the latest).
//! Scans of small tables (players, audit log, per-player projections); the
//! bets table, the big one, is never scanned.

use crate::{db, from_millis, millis, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::console::*;
use croupier_core::{PlayerId, Role, StoreResult};
use sqlx::Row;

#[async_trait]
impl ConsoleStore for PostgresStore {
    async fn search_players(&self, q: PlayerSearch) -> StoreResult<Vec<PlayerSummary>> {
        let like = q.query.as_deref().map(username_pattern);
        let prefix = q.query.as_deref().and_then(id_prefix_pattern);
        let (before_at, before_id) = match q.before {
            Some((at, id)) => (Some(millis(at)), Some(id.0)),
            None => (None, None),
        };
        let rows = sqlx::query(
            "SELECT id, username, roles, created_at, blocked_at, blocked_reason FROM players
             WHERE ($1::text IS NULL OR username_lower LIKE $1 OR id::text LIKE $2)
               AND ($3::bool IS NULL OR (blocked_at IS NOT NULL) = $3)
               AND ($4::bigint IS NULL OR (created_at, id) < ($4, $5::uuid))
             ORDER BY created_at DESC, id DESC LIMIT $6",
        )
        .bind(like)
        .bind(prefix)
        .bind(q.blocked)
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(q.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                let roles: String = r.try_get("roles").map_err(db)?;
                Ok(PlayerSummary {
                    id: PlayerId(r.try_get("id").map_err(db)?),
                    username: r.try_get("username").map_err(db)?,
                    roles: roles.split(',').filter_map(Role::parse).collect(),
                    created_at: from_millis(r.try_get("created_at").map_err(db)?),
                    blocked_at: r
                        .try_get::<Option<i64>, _>("blocked_at")
                        .map_err(db)?
                        .map(from_millis),
                    blocked_reason: r.try_get("blocked_reason").map_err(db)?,
                })
            })
            .collect()
    }

    async fn live_sessions(&self, player: PlayerId, now: DateTime<Utc>) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions
             WHERE player_id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(player.0)
        .bind(millis(now))
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn audit_log(&self, q: AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT a.id, a.actor, p.username, a.action, a.target, a.details, a.created_at
             FROM admin_audit_log a LEFT JOIN players p ON p.id = a.actor
             WHERE ($1::uuid IS NULL OR a.actor = $1) AND ($2::text IS NULL OR a.action = $2)
               AND ($3::bigint IS NULL OR a.id < $3)
             ORDER BY a.id DESC LIMIT $4",
        )
        .bind(q.actor.map(|a| a.0))
        .bind(q.action)
        .bind(q.before)
        .bind(i64::from(q.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id").map_err(db)?,
                    actor: PlayerId(r.try_get("actor").map_err(db)?),
                    actor_username: r.try_get("username").map_err(db)?,
                    action: r.try_get("action").map_err(db)?,
                    target: r.try_get("target").map_err(db)?,
                    details: r.try_get("details").map_err(db)?,
                    at: from_millis(r.try_get("created_at").map_err(db)?),
                })
            })
            .collect()
    }

    async fn overview(&self, since: DateTime<Utc>) -> StoreResult<Overview> {
        let hour = croupier_core::events::hour_bucket(since);
        let games = sqlx::query(
            "SELECT game, currency, SUM(bets)::bigint AS bets, SUM(wagered)::bigint AS wagered,
                    SUM(paid_out)::bigint AS paid_out
             FROM game_stats_hourly WHERE hour >= $1
             GROUP BY game, currency ORDER BY game, currency",
        )
        .bind(hour)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(|r| {
            Ok(GameTotals {
                game: r.try_get("game").map_err(db)?,
                currency: r.try_get("currency").map_err(db)?,
                bets: r.try_get("bets").map_err(db)?,
                wagered: r.try_get("wagered").map_err(db)?,
                paid_out: r.try_get("paid_out").map_err(db)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        // A player bet in the window iff their latest bet on some game did.
        let (active_players, registrations): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(DISTINCT player_id) FROM rec_player_games WHERE last_played >= $1),
                    (SELECT COUNT(*) FROM players WHERE created_at >= $1)",
        )
        .bind(millis(since))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(Overview {
            games,
            active_players,
            registrations,
        })
    }
}
