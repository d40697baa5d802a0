//! The game catalog and its administration.

use crate::auth::Authed;
use crate::catalog::{self, GameLimits, GameOverrideConfig, GameSettings};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_json, JsonBytes};
use crate::play::parse_game;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use croupier_core::GameOverride;
use croupier_fair::Game;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

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
