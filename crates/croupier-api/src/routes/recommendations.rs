//! Game recommendations, from the `recommendations` event consumer's data.

use crate::auth::Authed;
use crate::error::{ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::state::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use croupier_core::recommendations::{Reason, Recommendation};
use croupier_fair::Game;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationQuery {
    /// 1–20, default 10.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 20)]
    pub limit: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationReason {
    /// Played by the same players as games the caller plays.
    CoPlay,
    /// No co-play signal: popular recently.
    Popular,
    /// The caller has no history (or there is no data): popular games, then
    /// catalog order.
    ColdStart,
}

#[derive(Serialize, ToSchema)]
pub struct RecommendedGame {
    pub game: String,
    /// 0–1, comparable within one reason: cosine co-play similarity for
    /// `co_play`, decayed popularity relative to the top game otherwise.
    pub score: f64,
    pub reason: RecommendationReason,
    /// For `co_play`: the caller's games that contributed most, best first
    /// (at most 3); empty otherwise.
    pub because: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Recommendations {
    /// Best first. Games the caller has not played come before those they
    /// have; disabled games never appear.
    pub games: Vec<RecommendedGame>,
}

fn item(r: Recommendation) -> RecommendedGame {
    RecommendedGame {
        game: r.game,
        score: r.score,
        reason: match r.reason {
            Reason::CoPlay => RecommendationReason::CoPlay,
            Reason::Popular => RecommendationReason::Popular,
            Reason::ColdStart => RecommendationReason::ColdStart,
        },
        because: r.because,
    }
}

/// Games recommended to the caller. Updated from `bet.settled` events, so
/// a bet counts shortly after it settles; the platform-wide part is cached
/// for `recommendations.cache_secs`.
#[utoipa::path(get, path = "/v1/me/recommendations", operation_id = "my_recommendations", tag = "stats",
    params(RecommendationQuery),
    responses((status = 200, body = Recommendations),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_limit", body = Problem, content_type = "application/problem+json")))]
pub async fn me(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiQuery(q): ApiQuery<RecommendationQuery>,
) -> ApiResult<Json<Recommendations>> {
    let limit = crate::extract::page_limit(q.limit.as_deref(), 10, 20)?;
    let played = state.store.played_games(me.player.id).await?;
    let model = state.recommendations.model(&*state.store).await?;
    let enabled: Vec<&str> = Game::ALL
        .iter()
        .filter(|g| state.catalog.settings(**g).enabled)
        .map(|g| g.as_str())
        .collect();
    let games = model.recommend(&enabled, &played, limit as usize);
    let kind = if played.is_empty() {
        "cold_start"
    } else {
        "personal"
    };
    metrics::counter!("croupier_recommendations_served_total", "kind" => kind).increment(1);
    Ok(Json(Recommendations {
        games: games.into_iter().map(item).collect(),
    }))
}
