//! What the operator console reads: player search, the admin audit log, and
//! an overview of play over a window. Read-only; every write the console
//! makes goes through the other ports (adjust, block, missions, games).

use crate::error::StoreResult;
use crate::types::{PlayerId, Role};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Which players `search_players` lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlayerSearch {
    /// Part of the username (any case), or the start of the player id.
    pub query: Option<String>,
    /// `Some(true)`: blocked players only; `Some(false)`: the others.
    pub blocked: Option<bool>,
    /// Newest first: only players created before this (id, created) cursor.
    pub before: Option<(DateTime<Utc>, PlayerId)>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerSummary {
    pub id: PlayerId,
    pub username: String,
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
    pub blocked_at: Option<DateTime<Utc>>,
    pub blocked_reason: Option<String>,
}

/// Which admin audit entries `audit_log` lists, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<PlayerId>,
    pub action: Option<String>,
    /// Only entries with a smaller id.
    pub before: Option<i64>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub actor: PlayerId,
    pub actor_username: Option<String>,
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Play in one game and currency over a window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GameTotals {
    pub game: String,
    pub currency: String,
    pub bets: i64,
    pub wagered: i64,
    pub paid_out: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overview {
    /// Settled bets per game and currency (from the hourly statistics).
    pub games: Vec<GameTotals>,
    /// Distinct players who bet.
    pub active_players: i64,
    pub registrations: i64,
}

/// A LIKE pattern (escape `\\`) matching usernames that contain `query`,
/// any case, its `%`, `_` and `\\` taken literally; compare it with the
/// lower-cased username.
pub fn username_pattern(query: &str) -> String {
    let mut pattern = String::from("%");
    for c in query.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A LIKE pattern for ids starting with `query`, when it can start one
/// (hex digits and dashes); `None` otherwise.
pub fn id_prefix_pattern(query: &str) -> Option<String> {
    let q = query.to_lowercase();
    let hex = !q.is_empty() && q.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    hex.then(|| format!("{q}%"))
}

#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Players matching `q`, newest first, at most `q.limit`.
    async fn search_players(&self, q: PlayerSearch) -> StoreResult<Vec<PlayerSummary>>;
    /// Sessions of `player` neither revoked nor expired at `now`.
    async fn live_sessions(&self, player: PlayerId, now: DateTime<Utc>) -> StoreResult<i64>;
    /// Admin audit entries matching `q`, newest first.
    async fn audit_log(&self, q: AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// Play since `since`: bets by the hourly statistics (buckets whose hour
    /// starts at or after the hour of `since`), players by their bets and
    /// registrations by their time.
    async fn overview(&self, since: DateTime<Utc>) -> StoreResult<Overview>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_the_query_literally() {
        assert_eq!(username_pattern("Ali"), "%ali%");
        assert_eq!(username_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(id_prefix_pattern("01A2-"), Some("01a2-%".into()));
        assert_eq!(id_prefix_pattern("%"), None);
        assert_eq!(id_prefix_pattern(""), None);
    }
}
