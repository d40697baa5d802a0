//! What the operator console reads (roles support and admin): players, one
//! player in full, the admin audit log, and an overview of play.

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{page_limit, ApiPath, ApiQuery};
use crate::routes::bets::BetView;
use crate::routes::missions::MyMission;
use crate::routes::wallets::{positive_id, WalletBalance};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use croupier_core::console::{AuditQuery, PlayerSearch, PlayerSummary};
use croupier_core::{BetQuery, PlayerId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlayerListQuery {
    /// Part of the username (any case) or the start of the player id.
    #[param(max_length = 64)]
    pub query: Option<String>,
    /// `active` or `blocked`; both when absent.
    #[param(pattern = "^(active|blocked)$")]
    pub status: Option<String>,
    /// 1–100, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = r"^[0-9]{1,15}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PlayerItem {
    pub player_id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub blocked: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct PlayerPage {
    /// Newest first.
    pub items: Vec<PlayerItem>,
    pub next_cursor: Option<String>,
}

fn item(p: &PlayerSummary) -> PlayerItem {
    PlayerItem {
        player_id: p.id.to_string(),
        username: p.username.clone(),
        roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        blocked: p.blocked_at.is_some(),
        created_at: p.created_at,
    }
}

/// Players by name or id prefix, newest first.
#[utoipa::path(get, path = "/v1/admin/players", operation_id = "list_players", tag = "admin",
    params(PlayerListQuery),
    responses((status = 200, body = PlayerPage),
        (status = 422, description = "invalid_query, invalid_status, invalid_limit, invalid_cursor", body = Problem, content_type = "application/problem+json")))]
pub async fn players(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PlayerListQuery>,
) -> ApiResult<Json<PlayerPage>> {
    let limit = page_limit(q.limit.as_deref(), 50, 100)?;
    if q.query.as_ref().is_some_and(|t| t.chars().count() > 64) {
        return Err(ApiError::invalid(
            "query",
            "invalid_query",
            "query is at most 64 characters",
        ));
    }
    let blocked = match q.status.as_deref() {
        None => None,
        Some("active") => Some(false),
        Some("blocked") => Some(true),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "invalid_status",
                "status is active or blocked",
            ))
        }
    };
    let before = q.cursor.as_deref().map(player_cursor).transpose()?;
    let mut found = state
        .store
        .search_players(PlayerSearch {
            query: q.query.filter(|t| !t.is_empty()),
            blocked,
            before,
            limit: limit + 1,
        })
        .await?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let next_cursor = more
        .then(|| {
            found
                .last()
                .map(|p| format!("{}_{}", p.created_at.timestamp_millis(), p.id))
        })
        .flatten();
    Ok(Json(PlayerPage {
        items: found.iter().map(item).collect(),
        next_cursor,
    }))
}

/// `<created ms>_<player id>`, as `next_cursor` writes it.
fn player_cursor(c: &str) -> ApiResult<(DateTime<Utc>, PlayerId)> {
    let bad = || ApiError::invalid("cursor", "invalid_cursor", "malformed cursor");
    let (ms, id) = c.split_once('_').ok_or_else(bad)?;
    let ms = (1..=15)
        .contains(&ms.len())
        .then(|| ms.parse::<i64>().ok())
        .flatten()
        .ok_or_else(bad)?;
    let at = DateTime::from_timestamp_millis(ms).ok_or_else(bad)?;
    if !canonical_uuid(id) {
        return Err(bad());
    }
    Ok((at, id.parse().map_err(|_| bad())?))
}

#[derive(Serialize, ToSchema)]
pub struct BlockState {
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PlayerDetail {
    pub player_id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Absent unless blocked.
    pub blocked: Option<BlockState>,
    pub wallets: Vec<WalletBalance>,
    /// The last 10 bets, newest first.
    pub recent_bets: Vec<BetView>,
    /// Sessions neither revoked nor expired.
    pub live_sessions: i64,
    pub missions: Vec<MyMission>,
}

/// One player in full.
#[utoipa::path(get, path = "/v1/admin/players/{player_id}", operation_id = "get_player", tag = "admin",
    params(("player_id" = String, Path)),
    responses((status = 200, body = PlayerDetail),
        (status = 404, description = "player_not_found", body = Problem, content_type = "application/problem+json")))]
pub async fn player(
    State(state): State<AppState>,
    ApiPath(player_id): ApiPath<String>,
) -> ApiResult<Json<PlayerDetail>> {
    let not_found = || ApiError::not_found("player_not_found", "No such player").field("player_id");
    let id: PlayerId = player_id.parse().map_err(|_| not_found())?;
    let found = state
        .store
        .search_players(PlayerSearch {
            query: Some(id.to_string()),
            limit: 1,
            ..Default::default()
        })
        .await?;
    let p = found
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(not_found)?;
    let held = state.store.balances(id).await?;
    let bets = state
        .store
        .bets(
            id,
            BetQuery {
                game: None,
                limit: 10,
                before: None,
            },
        )
        .await?;
    Ok(Json(PlayerDetail {
        player_id: id.to_string(),
        username: p.username.clone(),
        roles: item(&p).roles,
        created_at: p.created_at,
        blocked: p.blocked_at.map(|at| BlockState {
            at,
            reason: p.blocked_reason.clone(),
        }),
        wallets: crate::routes::wallets::balances(&state, &held),
        recent_bets: bets.iter().map(BetView::from).collect(),
        live_sessions: state.store.live_sessions(id, croupier_core::now()).await?,
        missions: crate::routes::missions::progress_of(&state, id).await?,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditLogQuery {
    /// Only this admin's actions (a player id).
    #[param(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub actor: Option<String>,
    /// Only this action, e.g. `player.block`, `wallet.adjust`.
    #[param(max_length = 64)]
    pub action: Option<String>,
    /// 1–100, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

/// A player id as the API writes it: lowercase, hyphenated (the documented
/// pattern; the parser alone would take other spellings too).
fn canonical_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

#[derive(Serialize, ToSchema)]
pub struct AuditItem {
    pub id: i64,
    pub actor_id: String,
    pub actor_username: Option<String>,
    pub action: String,
    /// What was acted on, e.g. a player id or a game.
    pub target: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditItem>,
    pub next_cursor: Option<String>,
}

/// The admin audit log: every change an admin made, newest first.
#[utoipa::path(get, path = "/v1/admin/audit", operation_id = "admin_audit_log", tag = "admin",
    params(AuditLogQuery),
    responses((status = 200, body = AuditPage),
        (status = 422, description = "invalid_actor, invalid_action, invalid_limit, invalid_cursor", body = Problem, content_type = "application/problem+json")))]
pub async fn audit_log(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditLogQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = page_limit(q.limit.as_deref(), 50, 100)?;
    let actor = match &q.actor {
        Some(a) => Some(
            canonical_uuid(a)
                .then(|| a.parse::<PlayerId>().ok())
                .flatten()
                .ok_or_else(|| {
                    ApiError::invalid("actor", "invalid_actor", "actor is a player id")
                })?,
        ),
        None => None,
    };
    if q.action.as_ref().is_some_and(|a| a.chars().count() > 64) {
        return Err(ApiError::invalid(
            "action",
            "invalid_action",
            "action is at most 64 characters",
        ));
    }
    let before = match &q.cursor {
        Some(c) => Some(
            positive_id(c)
                .ok_or_else(|| ApiError::invalid("cursor", "invalid_cursor", "malformed cursor"))?,
        ),
        None => None,
    };
    let mut entries = state
        .store
        .audit_log(AuditQuery {
            actor,
            action: q.action,
            before,
            limit: limit + 1,
        })
        .await?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_cursor = more
        .then(|| entries.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        items: entries
            .into_iter()
            .map(|e| AuditItem {
                id: e.id,
                actor_id: e.actor.to_string(),
                actor_username: e.actor_username,
                action: e.action,
                target: e.target,
                details: e.details,
                at: e.at,
            })
            .collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// `24h` (default), `7d` or `30d`.
    #[param(pattern = "^(24h|7d|30d)$")]
    pub window: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GameOverview {
    pub game: String,
    pub currency: String,
    pub bets: i64,
    pub wagered: i64,
    pub paid_out: i64,
    /// Gross gaming revenue: wagered − paid out.
    pub ggr: i64,
    /// Observed return to player: paid out / wagered (absent without bets).
    pub rtp: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct Overview {
    pub window: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Per game and currency, from the hourly statistics (a window starts at
    /// the top of the hour it reaches into).
    pub games: Vec<GameOverview>,
    /// Distinct players who bet in the window.
    pub active_players: i64,
    pub registrations: i64,
}

/// Play over a window: bets, wagered, paid out, GGR and observed RTP per game
/// and currency; active players; registrations.
#[utoipa::path(get, path = "/v1/admin/overview", operation_id = "admin_overview", tag = "admin",
    params(OverviewQuery),
    responses((status = 200, body = Overview),
        (status = 422, description = "invalid_window", body = Problem, content_type = "application/problem+json")))]
pub async fn overview(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<OverviewQuery>,
) -> ApiResult<Json<Overview>> {
    let window = q.window.unwrap_or_else(|| "24h".into());
    let span = match window.as_str() {
        "24h" => Duration::hours(24),
        "7d" => Duration::days(7),
        "30d" => Duration::days(30),
        _ => {
            return Err(ApiError::invalid(
                "window",
                "invalid_window",
                "window is 24h, 7d or 30d",
            ))
        }
    };
    let to = croupier_core::now();
    let from = to - span;
    let o = state.store.overview(from).await?;
    Ok(Json(Overview {
        window,
        from,
        to,
        games: o
            .games
            .into_iter()
            .map(|g| GameOverview {
                rtp: (g.wagered > 0).then(|| g.paid_out as f64 / g.wagered as f64),
                ggr: g.wagered - g.paid_out,
                game: g.game,
                currency: g.currency,
                bets: g.bets,
                wagered: g.wagered,
                paid_out: g.paid_out,
            })
            .collect(),
        active_players: o.active_players,
        registrations: o.registrations,
    }))
}
