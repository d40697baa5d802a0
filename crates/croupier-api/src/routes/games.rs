//! The game catalog, its administration, and placing single-step bets.

use crate::auth::Authed;
use crate::catalog::{self, GameLimits, GameOverrideConfig, GameSettings};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_json, JsonBytes};
use crate::idempotency;
use crate::routes::bets::BetView;
use crate::routes::fairness::{fair_error, new_seed_pair, param_error};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use croupier_core::{
    BetCommand, BetRecord, CurrencyCode, Draw, GameOverride, Idempotent, IdempotentCommand,
    Outcome, Settle, StoreError, StoredResponse,
};
use croupier_fair::{play, Game, GameParams};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

pub fn parse_game(id: &str) -> ApiResult<Game> {
    id.parse::<Game>()
        .map_err(|_| ApiError::not_found("unknown_game", "No such game").field("game"))
}

#[derive(Serialize, ToSchema)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// Basis points: 100 = 1 %.
    pub house_edge_bps: u32,
    /// Theoretical return to player at `reference_params`.
    pub theoretical_rtp: f64,
    #[schema(value_type = Object)]
    pub reference_params: Value,
    /// JSON schema of a bet's `params`.
    #[schema(value_type = Object)]
    pub params_schema: Value,
    /// Stake and payout limits per currency, minor units.
    pub limits: Vec<GameLimits>,
    /// Mines is played in rounds: open, reveal, cash out.
    pub multi_step: bool,
}

pub fn entry(s: &GameSettings) -> CatalogEntry {
    let (name, reference, schema) = catalog::describe(s.game);
    let rtp =
        croupier_fair::theoretical_rtp(s.game, &reference, s.house_edge_bps).unwrap_or(f64::NAN);
    CatalogEntry {
        id: s.game.as_str().into(),
        name: name.into(),
        enabled: s.enabled,
        house_edge_bps: s.house_edge_bps,
        theoretical_rtp: rtp,
        reference_params: reference,
        params_schema: schema,
        limits: s.limits.clone(),
        multi_step: s.game == Game::Mines,
    }
}

/// Every game, with its edge, RTP, parameters and limits (no authentication).
#[utoipa::path(get, path = "/v1/games", operation_id = "list_games", tag = "games",
    responses((status = 200, body = [CatalogEntry])))]
pub async fn list(State(state): State<AppState>) -> Json<Vec<CatalogEntry>> {
    Json(
        Game::ALL
            .iter()
            .map(|g| entry(&state.catalog.settings(*g)))
            .collect(),
    )
}

/// Enable or disable a game, or change its edge or limits (admin; audited).
#[utoipa::path(patch, path = "/v1/admin/games/{game}", operation_id = "update_game", tag = "admin",
    params(("game" = String, Path)),
    request_body = GameOverrideConfig,
    responses((status = 200, body = CatalogEntry),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "unknown_game", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_house_edge, invalid_limits", body = Problem, content_type = "application/problem+json")))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    Path(game): Path<String>,
    JsonBytes(body): JsonBytes,
) -> ApiResult<Json<CatalogEntry>> {
    let game = parse_game(&game)?;
    let change: GameOverrideConfig = parse_json(&body)?;
    if let Some(e) = change.house_edge_bps {
        if catalog::fixed_edge_bps(game).is_some() {
            return Err(ApiError::invalid(
                "house_edge_bps",
                "fixed_house_edge",
                "this game's edge is fixed by its rules (wheel, payout tables or published formula)",
            ));
        }
        catalog::validate_edge("house_edge_bps", e)
            .map_err(|m| ApiError::invalid("house_edge_bps", "invalid_house_edge", m))?;
    }
    if let Some(l) = &change.limits {
        let codes: Vec<_> = state.config.currencies.iter().map(|c| c.code).collect();
        catalog::validate_limits("limits", l, &codes)
            .map_err(|m| ApiError::invalid("limits", "invalid_limits", m))?;
    }
    let mut merged = state.catalog.stored_override(game);
    if change.enabled.is_some() {
        merged.enabled = change.enabled;
    }
    if change.house_edge_bps.is_some() {
        merged.house_edge_bps = change.house_edge_bps;
    }
    if change.limits.is_some() {
        merged.limits = change.limits.clone();
    }
    state
        .store
        .set_game_override(
            GameOverride {
                game: game.as_str().into(),
                settings: serde_json::to_value(&merged).map_err(|_| ApiError::internal())?,
                updated_at: croupier_core::now(),
            },
            me.player.id,
            serde_json::to_value(&change).map_err(|_| ApiError::internal())?,
        )
        .await?;
    state.catalog.load(state.store.game_overrides().await?);
    Ok(Json(entry(&state.catalog.settings(game))))
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

/// The engine's outcome as the store keeps it: the result and the floats used.
pub fn stored_outcome(outcome: Value, floats: &[f64]) -> Value {
    json!({ "outcome": outcome, "floats": floats })
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
    let game = parse_game(&game)?;
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
    let ok = admit(&state, game, &req.currency, req.stake)?;
    let params = GameParams::from_json(game, &req.params).map_err(param_error)?;
    if let Some(fixed) = params.fixed_stake() {
        if fixed != req.stake {
            return Err(ApiError::invalid(
                "stake",
                "stake_mismatch",
                format!("stake must equal the sum of the bets' amounts ({fixed})"),
            ));
        }
    }
    let edge = ok.settings.house_edge_bps;
    let worst = params.max_payout(req.stake, edge).map_err(param_error)?;
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
    let stake = req.stake;
    let settle_params = params.clone();
    let settle: Settle = Box::new(move |d: Draw<'_>| {
        let s = play(&settle_params, d.server_seed, d.client_seed, d.nonce, edge).map_err(|e| {
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
    });
    let idem = key.map(|key| IdempotentCommand {
        scope: me.player.id.to_string(),
        key,
        fingerprint: idempotency::fingerprint(&method, &uri, &body),
        render: Box::new(|bet: &BetRecord| StoredResponse {
            status: 201,
            body: serde_json::to_vec(&BetView::from(bet)).unwrap_or_default(),
        }),
    });
    let result = state
        .store
        .place_bet(BetCommand {
            player_id: me.player.id,
            game: game.as_str().into(),
            currency: ok.currency,
            stake,
            params: serde_json::to_value(&req.params).unwrap_or(Value::Null),
            now: croupier_core::now(),
            first_seed: new_seed_pair(None),
            settle,
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
