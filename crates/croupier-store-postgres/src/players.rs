//! Players and sessions. Each write is a single statement (data-modifying
//! CTEs put the outbox event in the same statement), hence atomic on its own.

use crate::{db, from_millis, internal, millis, unique_violation, PostgresStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::ports::{PlayerStore, SessionStore};
use croupier_core::{
    event_type, BlockChange, BlockCommand, NewPlayer, NewSession, Player, PlayerCredentials,
    PlayerId, Role, SessionRecord, StoreError, StoreResult, TokenHash,
};
use uuid::Uuid;

type PlayerRow = (Uuid, String, String, i64, String, Option<i64>);

const PLAYER_COLUMNS: &str = "id, username, roles, created_at, password_hash, blocked_at";

fn credentials(row: PlayerRow) -> PlayerCredentials {
    let (id, username, roles, created_at, password_hash, blocked_at) = row;
    PlayerCredentials {
        player: Player {
            id: PlayerId(id),
            username,
            roles: roles.split(',').filter_map(Role::parse).collect(),
            created_at: from_millis(created_at),
        },
        password_hash,
        blocked_at: blocked_at.map(from_millis),
    }
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[async_trait]
impl PlayerStore for PostgresStore {
    async fn create_player(&self, new: NewPlayer) -> StoreResult<Player> {
        let payload = serde_json::json!({ "player_id": new.id, "username": new.username });
        sqlx::query(
            "WITH p AS (
                INSERT INTO players (id, username, username_lower, password_hash, roles, created_at)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
             )
             INSERT INTO outbox (event_id, event_type, payload, created_at, producer, traceparent)
             SELECT $7, $8, $9, $6, $10, $11 FROM p",
        )
        .bind(new.id.0)
        .bind(&new.username)
        .bind(new.username.to_lowercase())
        .bind(&new.password_hash)
        .bind(roles_text(&new.roles))
        .bind(millis(new.created_at))
        .bind(Uuid::now_v7())
        .bind(event_type::PLAYER_REGISTERED)
        .bind(&payload)
        .bind(croupier_core::trace::instance())
        .bind(croupier_core::trace::current())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if unique_violation(&e).is_some() {
                StoreError::UsernameTaken
            } else {
                db(e)
            }
        })?;
        Ok(Player {
            id: new.id,
            username: new.username,
            roles: new.roles,
            created_at: new.created_at,
        })
    }

    async fn player_by_username(&self, username: &str) -> StoreResult<Option<PlayerCredentials>> {
        let row = sqlx::query_as::<_, PlayerRow>(&format!(
            "SELECT {PLAYER_COLUMNS} FROM players WHERE username_lower = $1"
        ))
        .bind(username.to_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(credentials))
    }

    async fn player(&self, id: PlayerId) -> StoreResult<Option<PlayerCredentials>> {
        let row = sqlx::query_as::<_, PlayerRow>(&format!(
            "SELECT {PLAYER_COLUMNS} FROM players WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(credentials))
    }

    async fn set_password_hash(&self, id: PlayerId, password_hash: String) -> StoreResult<()> {
        let n = sqlx::query("UPDATE players SET password_hash = $2 WHERE id = $1")
            .bind(id.0)
            .bind(&password_hash)
            .execute(&self.pool)
            .await
            .map_err(db)?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_player_blocked(&self, cmd: BlockCommand) -> StoreResult<Option<BlockChange>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // The row lock orders concurrent blocks and unblocks of one player.
        let blocked: Option<bool> = sqlx::query_scalar(
            "SELECT blocked_at IS NOT NULL FROM players WHERE id = $1 FOR UPDATE",
        )
        .bind(cmd.player_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(blocked) = blocked else {
            return Ok(None);
        };
        if blocked == cmd.reason.is_some() {
            return Ok(Some(BlockChange {
                changed: false,
                revoked: vec![],
            }));
        }
        let now = millis(cmd.now);
        sqlx::query("UPDATE players SET blocked_at = $2, blocked_reason = $3 WHERE id = $1")
            .bind(cmd.player_id.0)
            .bind(cmd.reason.as_ref().map(|_| now))
            .bind(&cmd.reason)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let revoked = match &cmd.reason {
            None => vec![],
            Some(_) => sqlx::query_scalar::<_, Vec<u8>>(
                "UPDATE sessions SET revoked_at = $2
                 WHERE player_id = $1 AND revoked_at IS NULL RETURNING token_hash",
            )
            .bind(cmd.player_id.0)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .into_iter()
            .map(token_hash)
            .collect::<StoreResult<Vec<_>>>()?,
        };
        let (action, event, payload) = cmd.record();
        sqlx::query(
            "INSERT INTO admin_audit_log (actor, action, target, details, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(cmd.actor.0)
        .bind(action)
        .bind(cmd.player_id.to_string())
        .bind(&payload)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        crate::emit(&mut tx, event, &payload, cmd.now).await?;
        tx.commit().await.map_err(db)?;
        Ok(Some(BlockChange {
            changed: true,
            revoked,
        }))
    }
}

fn token_hash(bytes: Vec<u8>) -> StoreResult<TokenHash> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| internal("token hash is not 32 bytes"))?;
    Ok(TokenHash(arr))
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, s: NewSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, player_id, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(&s.token_hash.0[..])
        .bind(s.player_id.0)
        .bind(millis(s.created_at))
        .bind(millis(s.expires_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn session(&self, hash: TokenHash) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query_as::<_, (Uuid, i64, i64, i64, bool)>(
            "SELECT player_id, created_at, last_seen_at, expires_at, revoked_at IS NOT NULL
             FROM sessions WHERE token_hash = $1",
        )
        .bind(&hash.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(
            row.map(|(player, created, seen, expires, revoked)| SessionRecord {
                token_hash: hash,
                player_id: PlayerId(player),
                created_at: from_millis(created),
                last_seen_at: from_millis(seen),
                expires_at: from_millis(expires),
                revoked,
            }),
        )
    }

    async fn touch_session(&self, hash: TokenHash, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE token_hash = $1",
        )
        .bind(&hash.0[..])
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn revoke_session(&self, hash: TokenHash) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash.0[..])
        .bind(millis(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn revoke_player_sessions(
        &self,
        player_id: PlayerId,
        keep: Option<TokenHash>,
    ) -> StoreResult<Vec<TokenHash>> {
        let keep = keep.map(|k| k.0.to_vec()).unwrap_or_default();
        let rows = sqlx::query_scalar::<_, Vec<u8>>(
            "UPDATE sessions SET revoked_at = $3
             WHERE player_id = $1 AND revoked_at IS NULL AND token_hash <> $2
             RETURNING token_hash",
        )
        .bind(player_id.0)
        .bind(keep)
        .bind(millis(Utc::now()))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(token_hash).collect()
    }

    async fn count_live_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions
             WHERE revoked_at IS NULL AND expires_at > $1 AND last_seen_at > $2",
        )
        .bind(millis(now))
        .bind(millis(now - idle))
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(n.max(0) as u64)
    }
}
