//! Mines: a multi-step round. Open it (the stake is debited and a nonce
//! reserved), reveal tiles, cash out. The seed pair and nonce stay fixed for
//! the round; the mine positions are the first `mines` draws of the stream.
//! The steps' rules are `crate::play`'s and `croupier_fair`'s.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_json, JsonBytes};
use crate::play;
use crate::routes::bets::BetView;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use croupier_core::{
    BetRecord, CurrencyCode, MinesRound, MinesState, OpenMinesCommand, StoreError,
};
use croupier_fair::games::mines::TILES;
use croupier_fair::{mines_multiplier, Game, Multiplier};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRound {
    #[schema(pattern = r"^[A-Z0-9]{2,10}$")]
    pub currency: String,
    /// Minor units, at least 1 (the game's limits say more).
    #[schema(minimum = 1)]
    pub stake: i64,
    /// 1–24 mines among 25 tiles.
    #[schema(value_type = u8, minimum = 1, maximum = 24)]
    pub mines: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reveal {
    /// 0–24, row by row.
    #[schema(value_type = u8, minimum = 0, maximum = 24)]
    pub tile: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RoundView {
    pub round_id: String,
    /// `open`, `completed` or `cancelled`.
    pub state: String,
    pub currency: String,
    pub stake: i64,
    pub mines: u8,
    /// Safe tiles revealed so far, in order.
    pub revealed: Vec<u8>,
    /// What a cash-out now would multiply the stake by (1.00 before any reveal).
    pub multiplier: f64,
    /// The multiplier after one more safe reveal (absent when none is left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_multiplier: Option<f64>,
    /// Mine positions, in draw order: shown once the round is over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mine_positions: Option<Vec<u8>>,
    /// The settled bet, once the round completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bet: Option<BetView>,
    pub fairness: RoundFairness,
}

#[derive(Serialize, ToSchema)]
pub struct RoundFairness {
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: u64,
}

fn multiplier(mines: u8, reveals: usize, edge: u32) -> Option<Multiplier> {
    let reveals = u8::try_from(reveals).ok()?;
    if reveals == 0 {
        return Some(Multiplier::ONE);
    }
    mines_multiplier(mines, reveals, edge).ok()
}

fn view(state: &AppState, r: &MinesRound, bet: Option<&BetRecord>) -> RoundView {
    let edge = state.catalog.settings(Game::Mines).house_edge_bps;
    let safe_left = (TILES - r.mines) as usize - r.revealed.len();
    let detail = bet.map(BetView::from);
    RoundView {
        round_id: r.id.clone(),
        state: r.state.as_str().into(),
        currency: r.currency.to_string(),
        stake: r.stake,
        mines: r.mines,
        revealed: r.revealed.clone(),
        multiplier: multiplier(r.mines, r.revealed.len(), edge).map_or(0.0, |m| m.as_f64()),
        next_multiplier: (r.state == MinesState::Open && safe_left > 0)
            .then(|| multiplier(r.mines, r.revealed.len() + 1, edge).map(|m| m.as_f64()))
            .flatten(),
        mine_positions: detail
            .as_ref()
            .and_then(|b| serde_json::from_value(b.outcome["mines"].clone()).ok()),
        bet: detail,
        fairness: RoundFairness {
            server_seed_hash: r.server_seed_hash.clone(),
            client_seed: r.client_seed.clone(),
            nonce: r.nonce,
        },
    }
}

/// One of the caller's rounds; 404 for anyone else's.
async fn owned_round(state: &AppState, me: &Authed, round_id: &str) -> ApiResult<MinesRound> {
    state
        .store
        .mines_round(me.player.id, round_id)
        .await?
        .ok_or_else(|| round_error(StoreError::NotFound))
}

fn round_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("round_not_found", "No such round"),
        e => e.into(),
    }
}

/// Open a round: the stake is debited now. One open round per player.
#[utoipa::path(post, path = "/v1/games/mines/rounds", operation_id = "open_mines_round", tag = "games",
    request_body = OpenRound,
    responses((status = 201, body = RoundView),
        (status = 409, description = "round_already_open, game_disabled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_params, stake_out_of_range, insufficient_funds", body = Problem, content_type = "application/problem+json")))]
pub async fn open(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    JsonBytes(body): JsonBytes,
) -> ApiResult<impl IntoResponse> {
    let req: OpenRound = parse_json(&body)?;
    let ok = play::admit(&state, Game::Mines, &req.currency, req.stake)?;
    // Any integer parses, so every out-of-range count gets the same answer.
    let mines = u8::try_from(req.mines)
        .ok()
        .filter(|m| (1..TILES).contains(m))
        .ok_or_else(|| ApiError::invalid("mines", "invalid_params", "mines must be 1-24"))?;
    let round = state
        .store
        .open_mines(OpenMinesCommand {
            player_id: me.player.id,
            currency: ok.currency,
            stake: req.stake,
            mines,
            now: croupier_core::now(),
            first_seed: play::new_seed_pair(None),
        })
        .await
        .map_err(|e| match e {
            StoreError::MinesRoundOpen => ApiError::new(
                StatusCode::CONFLICT,
                "round_already_open",
                "Finish your open round first",
            ),
            e => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(view(&state, &round, None))))
}

/// The state of one of the caller's rounds.
#[utoipa::path(get, path = "/v1/games/mines/rounds/{round_id}", operation_id = "get_mines_round", tag = "games",
    params(("round_id" = String, Path)),
    responses((status = 200, body = RoundView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    Path(round_id): Path<String>,
) -> ApiResult<Json<RoundView>> {
    let round = owned_round(&state, &me, &round_id).await?;
    let bet = match &round.bet_id {
        Some(id) => state.store.bet(id).await?,
        None => None,
    };
    Ok(Json(view(&state, &round, bet.as_ref())))
}

fn payout_cap(state: &AppState, currency: CurrencyCode) -> i64 {
    state
        .catalog
        .settings(Game::Mines)
        .limits_for(currency)
        .map_or(i64::MAX, |l| l.max_payout)
}

/// Reveal a tile: a mine ends the round with no payout; revealing the last
/// safe tile cashes out automatically.
#[utoipa::path(post, path = "/v1/games/mines/rounds/{round_id}/reveal", operation_id = "reveal_mines_tile", tag = "games",
    params(("round_id" = String, Path)),
    request_body = Reveal,
    responses((status = 200, body = RoundView),
        (status = 404, description = "round_not_found", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "round_closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_tile, tile_already_revealed, balance_limit (an automatic cash-out past the wallet's ceiling)", body = Problem, content_type = "application/problem+json")))]
pub async fn reveal(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    Path(round_id): Path<String>,
    JsonBytes(body): JsonBytes,
) -> ApiResult<Json<RoundView>> {
    let req: Reveal = parse_json(&body)?;
    // Any integer parses, so -1 and 25 get the same answer.
    let tile = u8::try_from(req.tile)
        .ok()
        .filter(|t| *t < TILES)
        .ok_or_else(|| ApiError::invalid("tile", "invalid_tile", "tile must be 0-24"))?;
    let current = owned_round(&state, &me, &round_id).await?;
    if current.revealed.contains(&tile) {
        return Err(ApiError::invalid(
            "tile",
            "tile_already_revealed",
            "this tile is already revealed",
        ));
    }
    let edge = state.catalog.settings(Game::Mines).house_edge_bps;
    let cap = payout_cap(&state, current.currency);
    let (round, bet) = state
        .store
        .mines_step(
            me.player.id,
            &round_id,
            play::reveal_step(tile),
            croupier_core::now(),
        )
        .await
        .map_err(round_error)?;
    if let Some(bet) = &bet {
        crate::metrics::bet_settled(bet);
    }
    // The last safe tile cashes out by itself. The store records a tile only on
    // a `Safe` step, so that tile is revealed first and the round settled next
    // (settling in the same step would lose it from the round and the bet).
    if round.state == MinesState::Open && round.revealed.len() == (TILES - round.mines) as usize {
        return cash_out_now(&state, &me, &round_id, edge, cap).await;
    }
    Ok(Json(view(&state, &round, bet.as_ref())))
}

/// Settles the round by a cash-out step.
async fn cash_out_now(
    state: &AppState,
    me: &Authed,
    round_id: &str,
    edge: u32,
    cap: i64,
) -> ApiResult<Json<RoundView>> {
    let (round, bet) = state
        .store
        .mines_step(
            me.player.id,
            round_id,
            play::cash_out_step(edge, cap),
            croupier_core::now(),
        )
        .await
        .map_err(round_error)?;
    if let Some(bet) = &bet {
        crate::metrics::bet_settled(bet);
    }
    Ok(Json(view(state, &round, bet.as_ref())))
}

/// Cash out: pays the stake times the current multiplier. With no tile
/// revealed the round is cancelled and the stake refunded.
#[utoipa::path(post, path = "/v1/games/mines/rounds/{round_id}/cashout", operation_id = "cash_out_mines_round", tag = "games",
    params(("round_id" = String, Path)),
    responses((status = 200, body = RoundView),
        (status = 404, description = "round_not_found", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "round_closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "balance_limit: the payout would take the wallet past its ceiling", body = Problem, content_type = "application/problem+json")))]
pub async fn cash_out(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    Path(round_id): Path<String>,
) -> ApiResult<Json<RoundView>> {
    let current = owned_round(&state, &me, &round_id).await?;
    let edge = state.catalog.settings(Game::Mines).house_edge_bps;
    let cap = payout_cap(&state, current.currency);
    cash_out_now(&state, &me, &round_id, edge, cap).await
}
