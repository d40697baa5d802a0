//! Players and sessions.

use crate::{emit, from_millis, internal, is_unique_violation, millis, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use croupier_core::ports::{PlayerStore, SessionStore};
use croupier_core::{
    event_type, BlockChange, BlockCommand, NewPlayer, NewSession, Player, PlayerCredentials,
    PlayerId, Role, SessionRecord, StoreError, StoreResult, TokenHash,
};
use rusqlite::{Connection, OptionalExtension, Row};

const PLAYER_COLUMNS: &str = "id, username, roles, created_at, password_hash, blocked_at";

type PlayerRow = (String, String, String, i64, String, Option<i64>);

fn player_from_row(r: &Row<'_>) -> rusqlite::Result<PlayerRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn credentials(row: PlayerRow) -> StoreResult<PlayerCredentials> {
    let (id, username, roles, created_at, password_hash, blocked_at) = row;
    Ok(PlayerCredentials {
        player: Player {
            id: id.parse().map_err(internal)?,
            username,
            roles: roles.split(',').filter_map(Role::parse).collect(),
            created_at: from_millis(created_at),
        },
        password_hash,
        blocked_at: blocked_at.map(from_millis),
    })
}

fn find_player(
    c: &Connection,
    sql_where: &str,
    arg: &str,
) -> StoreResult<Option<PlayerCredentials>> {
    c.prepare_cached(&format!(
        "SELECT {PLAYER_COLUMNS} FROM players WHERE {sql_where} = ?1"
    ))
    .and_then(|mut s| s.query_row([arg], player_from_row).optional())
    .map_err(internal)?
    .map(credentials)
    .transpose()
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[async_trait]
impl PlayerStore for SqliteStore {
    async fn create_player(&self, new: NewPlayer) -> StoreResult<Player> {
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO players (id, username, username_lower, password_hash, roles, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut s| {
                    s.execute((
                        new.id.to_string(),
                        &new.username,
                        new.username.to_lowercase(),
                        &new.password_hash,
                        roles_text(&new.roles),
                        millis(new.created_at),
                    ))
                })
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::UsernameTaken
                    } else {
                        internal(e)
                    }
                })?;
                emit(
                    c,
                    event_type::PLAYER_REGISTERED,
                    &serde_json::json!({ "player_id": new.id, "username": new.username }),
                    new.created_at,
                )?;
                Ok(Player {
                    id: new.id,
                    username: new.username,
                    roles: new.roles,
                    created_at: new.created_at,
                })
            })
            .await
    }

    async fn player_by_username(&self, username: &str) -> StoreResult<Option<PlayerCredentials>> {
        let lower = username.to_lowercase();
        self.readers
            .read(move |c| find_player(c, "username_lower", &lower))
            .await
    }

    async fn player(&self, id: PlayerId) -> StoreResult<Option<PlayerCredentials>> {
        self.readers
            .read(move |c| find_player(c, "id", &id.to_string()))
            .await
    }

    async fn set_password_hash(&self, id: PlayerId, password_hash: String) -> StoreResult<()> {
        self.writer
            .write(move |c| {
                let n = c
                    .prepare_cached("UPDATE players SET password_hash = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute((id.to_string(), &password_hash)))
                    .map_err(internal)?;
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn set_player_blocked(&self, cmd: BlockCommand) -> StoreResult<Option<BlockChange>> {
        self.writer
            .write(move |c| {
                let pid = cmd.player_id.to_string();
                let blocked: Option<bool> = c
                    .prepare_cached("SELECT blocked_at IS NOT NULL FROM players WHERE id = ?1")
                    .and_then(|mut s| s.query_row([&pid], |r| r.get(0)).optional())
                    .map_err(internal)?;
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
                c.prepare_cached(
                    "UPDATE players SET blocked_at = ?2, blocked_reason = ?3 WHERE id = ?1",
                )
                .and_then(|mut s| s.execute((&pid, cmd.reason.as_ref().map(|_| now), &cmd.reason)))
                .map_err(internal)?;
                let revoked = match &cmd.reason {
                    None => vec![],
                    Some(_) => c
                        .prepare_cached(
                            "UPDATE sessions SET revoked_at = ?2
                             WHERE player_id = ?1 AND revoked_at IS NULL RETURNING token_hash",
                        )
                        .and_then(|mut s| {
                            s.query_map((&pid, now), |r| r.get::<_, Vec<u8>>(0))?
                                .collect::<rusqlite::Result<Vec<_>>>()
                        })
                        .map_err(internal)?
                        .into_iter()
                        .map(token_hash)
                        .collect::<StoreResult<Vec<_>>>()?,
                };
                let (action, event, payload) = cmd.record();
                c.prepare_cached(
                    "INSERT INTO admin_audit_log (actor, action, target, details, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute((
                        cmd.actor.to_string(),
                        action,
                        &pid,
                        payload.to_string(),
                        now,
                    ))
                })
                .map_err(internal)?;
                emit(c, event, &payload, cmd.now)?;
                Ok(Some(BlockChange {
                    changed: true,
                    revoked,
                }))
            })
            .await
    }
}

fn token_hash(bytes: Vec<u8>) -> StoreResult<TokenHash> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Internal("token hash is not 32 bytes".into()))?;
    Ok(TokenHash(arr))
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: NewSession) -> StoreResult<()> {
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO sessions (token_hash, player_id, created_at, last_seen_at, expires_at)
                     VALUES (?1, ?2, ?3, ?3, ?4)",
                )
                .and_then(|mut st| {
                    st.execute((
                        &s.token_hash.0[..],
                        s.player_id.to_string(),
                        millis(s.created_at),
                        millis(s.expires_at),
                    ))
                })
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn session(&self, hash: TokenHash) -> StoreResult<Option<SessionRecord>> {
        self.readers
            .read(move |c| {
                let row = c
                    .prepare_cached(
                        "SELECT player_id, created_at, last_seen_at, expires_at, revoked_at IS NOT NULL
                         FROM sessions WHERE token_hash = ?1",
                    )
                    .and_then(|mut s| {
                        s.query_row([&hash.0[..]], |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, i64>(3)?,
                                r.get::<_, bool>(4)?,
                            ))
                        })
                        .optional()
                    })
                    .map_err(internal)?;
                row.map(|(player, created, seen, expires, revoked)| {
                    Ok(SessionRecord {
                        token_hash: hash,
                        player_id: player.parse().map_err(internal)?,
                        created_at: from_millis(created),
                        last_seen_at: from_millis(seen),
                        expires_at: from_millis(expires),
                        revoked,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn touch_session(&self, hash: TokenHash, now: DateTime<Utc>) -> StoreResult<()> {
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE token_hash = ?1",
                )
                .and_then(|mut s| s.execute((&hash.0[..], millis(now))))
                .map_err(internal)?;
                Ok(())
            })
            .await
    }

    async fn revoke_session(&self, hash: TokenHash) -> StoreResult<bool> {
        self.writer
            .write(move |c| {
                let n = c
                    .prepare_cached(
                        "UPDATE sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
                    )
                    .and_then(|mut s| s.execute((&hash.0[..], millis(Utc::now()))))
                    .map_err(internal)?;
                Ok(n == 1)
            })
            .await
    }

    async fn revoke_player_sessions(
        &self,
        player_id: PlayerId,
        keep: Option<TokenHash>,
    ) -> StoreResult<Vec<TokenHash>> {
        self.writer
            .write(move |c| {
                let keep = keep.map(|k| k.0.to_vec()).unwrap_or_default();
                let mut s = c
                    .prepare_cached(
                        "UPDATE sessions SET revoked_at = ?3
                         WHERE player_id = ?1 AND revoked_at IS NULL AND token_hash != ?2
                         RETURNING token_hash",
                    )
                    .map_err(internal)?;
                let hashes = s
                    .query_map((player_id.to_string(), keep, millis(Utc::now())), |r| {
                        r.get::<_, Vec<u8>>(0)
                    })
                    .map_err(internal)?
                    .map(|h| token_hash(h.map_err(internal)?))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(hashes)
            })
            .await
    }

    async fn count_live_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<u64> {
        let (now_ms, seen_ms) = (millis(now), millis(now - idle));
        self.readers
            .read(move |c| {
                c.prepare_cached(
                    "SELECT COUNT(*) FROM sessions
                     WHERE revoked_at IS NULL AND expires_at > ?1 AND last_seen_at > ?2",
                )
                .and_then(|mut s| s.query_row((now_ms, seen_ms), |r| r.get::<_, i64>(0)))
                .map(|n| n.max(0) as u64)
                .map_err(internal)
            })
            .await
    }
}
