//! Playing a game, apart from its routes: which game a path names, a bet's
//! admission (game enabled, currency accepted, stake and worst payout within
//! the game's limits), the closures the store calls inside its transaction to
//! settle a single-step bet or a mines step from the reserved draw, engine
//! errors as problems naming the field, and a settled bet as the idempotency
//! record stores it. The game rules themselves are `croupier-fair`'s.

use crate::catalog::{GameLimits, GameSettings};
use crate::error::{ApiError, ApiResult};
use crate::routes::bets::BetView;
use crate::state::AppState;
use axum::http::StatusCode;
use croupier_core::{
    BetRecord, CurrencyCode, Draw, MinesDecide, MinesRound, MinesStep, NewSeedPair, Outcome,
    Settle, StoreError, StoredResponse,
};
use croupier_fair::games::mines::{cash_out, MineField};
use croupier_fair::{play, Game, GameParams};
use rand::RngCore;
use serde_json::{json, Value};

pub fn parse_game(id: &str) -> ApiResult<Game> {
    id.parse::<Game>()
        .map_err(|_| ApiError::not_found("unknown_game", "No such game").field("game"))
}

/// A fresh pair: a 256-bit server seed from the OS CSPRNG (hex, per the
/// protocol), its SHA-256 commitment, and the given or a random client seed.
pub fn new_seed_pair(client_seed: Option<String>) -> NewSeedPair {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let server_seed = hex::encode(bytes);
    let client_seed = client_seed.unwrap_or_else(|| {
        let mut c = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut c);
        hex::encode(c)
    });
    NewSeedPair {
        server_seed_hash: croupier_fair::server_seed_hash(&server_seed),
        server_seed,
        client_seed,
    }
}

/// The checks every bet passes before anything is debited.
pub struct Admitted {
    pub currency: CurrencyCode,
    pub settings: GameSettings,
    pub limits: GameLimits,
}

pub fn admit(state: &AppState, game: Game, currency: &str, stake: i64) -> ApiResult<Admitted> {
    let settings = state.catalog.settings(game);
    if !settings.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "game_disabled",
            "This game is disabled",
        )
        .field("game"));
    }
    let code = state
        .config
        .currency(currency)
        .ok_or_else(|| {
            ApiError::invalid("currency", "unknown_currency", "currency is not configured")
        })?
        .code;
    let limits = settings.limits_for(code).cloned().ok_or_else(|| {
        ApiError::invalid(
            "currency",
            "currency_not_accepted",
            "this game does not accept this currency",
        )
    })?;
    if stake < limits.min_stake || stake > limits.max_stake {
        return Err(ApiError::invalid(
            "stake",
            "stake_out_of_range",
            format!(
                "stake must be {}-{} minor units",
                limits.min_stake, limits.max_stake
            ),
        )
        .extra("min_stake", limits.min_stake)
        .extra("max_stake", limits.max_stake));
    }
    Ok(Admitted {
        currency: code,
        settings,
        limits,
    })
}

/// A single-step bet's parameters, checked against the game's rules, the
/// stake they fix (roulette) and the maximum payout.
pub fn single_step_params(
    ok: &Admitted,
    game: Game,
    stake: i64,
    params: &Value,
) -> ApiResult<GameParams> {
    let params = GameParams::from_json(game, params).map_err(param_error)?;
    if let Some(fixed) = params.fixed_stake() {
        if fixed != stake {
            return Err(ApiError::invalid(
                "stake",
                "stake_mismatch",
                format!("stake must equal the sum of the bets' amounts ({fixed})"),
            ));
        }
    }
    let worst = params
        .max_payout(stake, ok.settings.house_edge_bps)
        .map_err(param_error)?;
    if worst > ok.limits.max_payout {
        return Err(ApiError::invalid(
            "stake",
            "payout_over_cap",
            format!(
                "this bet could pay {worst}, over the maximum payout {}",
                ok.limits.max_payout
            ),
        )
        .extra("max_payout", ok.limits.max_payout));
    }
    Ok(params)
}

/// Settles a single-step bet from the draw the store reserved.
pub fn settle_single_step(params: GameParams, stake: i64, edge_bps: u32) -> Settle {
    Box::new(move |d: Draw<'_>| {
        let s = play(&params, d.server_seed, d.client_seed, d.nonce, edge_bps).map_err(|e| {
            StoreError::Internal(format!(
                "engine refused validated params: {}",
                fair_error(e).problem.code
            ))
        })?;
        Ok(Outcome {
            payout: s.payout(stake),
            multiplier: s.multiplier.hundredths(),
            win: s.win,
            detail: stored_outcome(s.outcome, &s.floats_used),
        })
    })
}

/// A settled bet as its idempotency record answers a replay: 201 and the bet.
pub fn render_bet(bet: &BetRecord) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: serde_json::to_vec(&BetView::from(bet)).unwrap_or_default(),
    }
}

/// The engine's outcome as the store keeps it: the result and the floats used.
pub fn stored_outcome(outcome: Value, floats: &[f64]) -> Value {
    json!({ "outcome": outcome, "floats": floats })
}

/// Revealing `tile`: safe, or a mine that settles the round with no payout.
pub fn reveal_step(tile: u8) -> MinesDecide {
    Box::new(move |r: &MinesRound, d: Draw<'_>| {
        if r.revealed.contains(&tile) {
            return Err(StoreError::TileRevealed);
        }
        let field = draw_field(r, &d)?;
        if !field.is_mine(tile) {
            return Ok(MinesStep::Safe { tile });
        }
        let mut tiles = r.revealed.clone();
        tiles.push(tile);
        Ok(MinesStep::Settle {
            params: replay_params(r.mines, &tiles),
            outcome: Outcome {
                payout: 0,
                multiplier: 0,
                win: false,
                detail: stored_outcome(
                    json!({ "mines": field.positions, "revealed": r.revealed, "hit": tile }),
                    &field.floats,
                ),
            },
        })
    })
}

/// Cashing out, the payout capped at `max_payout`; a round with no tile
/// revealed is cancelled (refunded) instead.
pub fn cash_out_step(edge_bps: u32, max_payout: i64) -> MinesDecide {
    Box::new(move |r: &MinesRound, d: Draw<'_>| {
        if r.revealed.is_empty() {
            return Ok(MinesStep::Cancel);
        }
        let field = draw_field(r, &d)?;
        let reveals =
            u8::try_from(r.revealed.len()).map_err(|e| StoreError::Internal(e.to_string()))?;
        let paid = cash_out(r.mines, reveals, r.stake, edge_bps, max_payout)
            .map_err(|e| StoreError::Internal(e.message))?;
        Ok(MinesStep::Settle {
            params: replay_params(r.mines, &r.revealed),
            outcome: Outcome {
                payout: paid.payout,
                multiplier: paid.multiplier,
                win: paid.win,
                detail: stored_outcome(
                    json!({ "mines": field.positions, "revealed": r.revealed, "cashed_out": true }),
                    &field.floats,
                ),
            },
        })
    })
}

fn draw_field(r: &MinesRound, d: &Draw<'_>) -> Result<MineField, StoreError> {
    MineField::draw(d.server_seed, d.client_seed, d.nonce, r.mines)
        .map_err(|e| StoreError::Internal(e.message))
}

/// A mines bet's parameters as the engine and verifiers take them: the mine
/// count and the tiles picked, in order.
fn replay_params(mines: u8, tiles: &[u8]) -> Value {
    json!({ "mines": mines, "tiles": tiles })
}

/// Maps an engine error to a 422 naming the field (under `params.`).
pub fn fair_error(e: croupier_fair::FairError) -> ApiError {
    match e {
        croupier_fair::FairError::UnknownGame(g) => {
            ApiError::invalid("game", "unknown_game", format!("no game `{g}`"))
        }
        croupier_fair::FairError::Param(p) => param_error(p),
    }
}

pub fn param_error(p: croupier_fair::ParamError) -> ApiError {
    // The engine names the whole object `params` (e.g. when it is not an object).
    let field = if p.field == "params" {
        p.field
    } else {
        format!("params.{}", p.field)
    };
    ApiError::invalid(&field, "invalid_params", p.message)
}
