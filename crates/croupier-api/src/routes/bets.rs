//! Placing a single-step bet, bet history, and the replay record of one bet.
//! What a bet must pass and how it settles is `crate::play`'s.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_json, ApiQuery, JsonBytes};
use crate::rbac::Access;
use crate::state::AppState;
use crate::{idempotency, play};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use croupier_core::{BetCommand, BetCursor, BetQuery, BetRecord, Idempotent, IdempotentCommand};
use croupier_fair::Game;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// The seeds and nonce a bet was settled with: enough to verify it offline.
#[derive(Serialize, ToSchema)]
pub struct FairnessView {
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: u64,
    /// Present once the seed pair has been rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_seed: Option<String>,
    /// The floats the outcome consumed, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<f64>>)]
    pub floats: Option<Value>,
}

/// A settled bet.
#[derive(Serialize, ToSchema)]
pub struct BetView {
    pub bet_id: String,
    pub game: String,
    pub currency: String,
    pub stake: i64,
    pub payout: i64,
    /// Effective multiplier (payout / stake), two decimals.
    pub multiplier: f64,
    pub win: bool,
    #[schema(value_type = Object)]
    pub params: Value,
    /// Game-specific result, e.g. `{"roll": 28.07}`.
    #[schema(value_type = Object)]
    pub outcome: Value,
    /// The player's balance right after this bet.
    pub balance: i64,
    pub created_at: DateTime<Utc>,
    pub fairness: FairnessView,
}

impl From<&BetRecord> for BetView {
    fn from(b: &BetRecord) -> Self {
        // The store keeps `{outcome, floats}`; expose them in their places.
        let (outcome, floats) = match &b.outcome {
            Value::Object(m) if m.contains_key("outcome") => (
                m.get("outcome").cloned().unwrap_or(Value::Null),
                m.get("floats").cloned(),
            ),
            other => (other.clone(), None),
        };
        BetView {
            bet_id: b.id.clone(),
            game: b.game.clone(),
            currency: b.currency.to_string(),
            stake: b.stake,
            payout: b.payout,
            multiplier: b.multiplier as f64 / 100.0,
            win: b.win,
            params: b.params.clone(),
            outcome,
            balance: b.balance,
            created_at: b.created_at,
            fairness: FairnessView {
                server_seed_hash: b.server_seed_hash.clone(),
                client_seed: b.client_seed.clone(),
                nonce: b.nonce,
                server_seed: b.server_seed.clone(),
                floats,
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BetPage {
    pub items: Vec<BetView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BetListQuery {
    /// Only this game (one of `GET /v1/games`).
    pub game: Option<String>,
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[1-9][0-9]{0,17}-[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// The caller's bets, newest first (play order: by seed pair, then nonce).
#[utoipa::path(get, path = "/v1/bets", operation_id = "list_bets", tag = "bets",
    params(BetListQuery),
    responses((status = 200, body = BetPage),
        (status = 422, description = "invalid_limit, invalid_cursor, unknown_game", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiQuery(q): ApiQuery<BetListQuery>,
) -> ApiResult<Json<BetPage>> {
    let limit = crate::extract::page_limit(q.limit.as_deref(), 20, 100)?;
    if let Some(g) = &q.game {
        g.parse::<Game>()
            .map_err(|_| ApiError::invalid("game", "unknown_game", "no such game"))?;
    }
    let before = match &q.cursor {
        Some(c) => Some(
            bet_cursor(c)
                .ok_or_else(|| ApiError::invalid("cursor", "invalid_cursor", "malformed cursor"))?,
        ),
        None => None,
    };
    let mut bets = state
        .store
        .bets(
            me.player.id,
            BetQuery {
                game: q.game,
                limit: limit + 1,
                before,
            },
        )
        .await?;
    let more = bets.len() > limit as usize;
    bets.truncate(limit as usize);
    let next_cursor = more
        .then(|| bets.last().map(|b| BetCursor::of(b).to_string()))
        .flatten();
    Ok(Json(BetPage {
        items: bets.iter().map(BetView::from).collect(),
        next_cursor,
    }))
}

/// A bet cursor in exactly its documented shape: `<seed pair>-<nonce>`, each
/// at most 18 digits, the seed pair positive.
fn bet_cursor(c: &str) -> Option<BetCursor> {
    let (pair, nonce) = c.split_once('-')?;
    let digits = |s: &str| (1..=18).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(nonce) || crate::routes::wallets::positive_id(pair).is_none() {
        return None;
    }
    c.parse().ok()
}

/// The caller's last 10 bets.
#[utoipa::path(get, path = "/v1/bets/recent", operation_id = "recent_bets", tag = "bets",
    responses((status = 200, body = [BetView])))]
pub async fn recent(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
) -> ApiResult<Json<Vec<BetView>>> {
    let bets = state
        .store
        .bets(
            me.player.id,
            BetQuery {
                game: None,
                limit: 10,
                before: None,
            },
        )
        .await?;
    Ok(Json(bets.iter().map(BetView::from).collect()))
}

/// One bet's full replay record. Only its owner, support or an admin sees it.
#[utoipa::path(get, path = "/v1/bets/{bet_id}", operation_id = "get_bet", tag = "bets",
    params(("bet_id" = String, Path)),
    responses((status = 200, body = BetView),
        (status = 404, description = "bet_not_found", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    Path(bet_id): Path<String>,
) -> ApiResult<Json<BetView>> {
    let not_found = || ApiError::not_found("bet_not_found", "No such bet");
    if bet_id.len() > 64 {
        return Err(not_found());
    }
    let bet = state.store.bet(&bet_id).await?.ok_or_else(not_found)?;
    if bet.player_id != me.player.id && !Access::Support.granted_to(&me.player.roles) {
        return Err(not_found());
    }
    Ok(Json(BetView::from(&bet)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BetRequest {
    #[schema(pattern = r"^[A-Z0-9]{2,10}$")]
    pub currency: String,
    /// Minor units, at least 1 (the game's limits say more). For roulette,
    /// the sum of the bets' amounts.
    #[schema(minimum = 1)]
    pub stake: i64,
    /// Game parameters: see the game's `params_schema` in `GET /v1/games`.
    #[schema(value_type = Object)]
    pub params: Value,
}

/// Place a bet on a single-step game; settled at once.
///
/// With `Idempotency-Key`, the stored answer commits in the same transaction
/// as the bet itself.
#[utoipa::path(post, path = "/v1/games/{game}/bets", operation_id = "place_bet", tag = "games",
    params(("game" = String, Path)),
    request_body = BetRequest,
    responses((status = 201, body = BetView),
        (status = 404, description = "unknown_game", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "game_disabled, idempotency_in_progress", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_params, stake_out_of_range, stake_mismatch, payout_over_cap, insufficient_funds, balance_limit, unknown_currency", body = Problem, content_type = "application/problem+json")))]
pub async fn place_bet(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    Path(game): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> ApiResult<Response> {
    let game = play::parse_game(&game)?;
    if game == Game::Mines {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "multi_step_game",
            "Mines is played in rounds: POST /v1/games/mines/rounds",
        )
        .field("game"));
    }
    let key = idempotency::key_from(&headers)?;
    let req: BetRequest = parse_json(&body)?;
    let ok = play::admit(&state, game, &req.currency, req.stake)?;
    let params = play::single_step_params(&ok, game, req.stake, &req.params)?;
    let idem = key.map(|key| IdempotentCommand {
        scope: me.player.id.to_string(),
        key,
        fingerprint: idempotency::fingerprint(&method, &uri, &body),
        render: Box::new(play::render_bet),
    });
    let result = state
        .store
        .place_bet(BetCommand {
            player_id: me.player.id,
            game: game.as_str().into(),
            currency: ok.currency,
            stake: req.stake,
            params: req.params,
            now: croupier_core::now(),
            first_seed: play::new_seed_pair(None),
            settle: play::settle_single_step(params, req.stake, ok.settings.house_edge_bps),
            idempotency: idem,
        })
        .await?;
    match result {
        Idempotent::Done(bet) => {
            crate::metrics::bet_settled(&bet);
            Ok((StatusCode::CREATED, Json(BetView::from(&bet))).into_response())
        }
        Idempotent::Earlier(earlier) => idempotency::answer_earlier(earlier),
    }
}
