//! Play statistics, kept by the `stats` event consumer.

use crate::auth::Authed;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use croupier_core::events::BetCounters;
use serde::Serialize;
use utoipa::ToSchema;

/// Results of a set of bets. Every bet is exactly one of a win (the game's
/// verdict), a push (not a win, stake returned exactly) or a loss.
#[derive(Serialize, ToSchema, Debug, Default, PartialEq, Eq)]
pub struct BetTotals {
    pub bets: i64,
    pub wins: i64,
    pub losses: i64,
    pub pushes: i64,
    /// Σ stakes, minor units.
    pub wagered: i64,
    /// Σ payouts, minor units.
    pub paid_out: i64,
    /// `paid_out - wagered`: the player's result.
    pub net: i64,
}

impl From<BetCounters> for BetTotals {
    fn from(c: BetCounters) -> Self {
        Self {
            bets: c.bets,
            wins: c.wins,
            losses: c.losses,
            pushes: c.pushes,
            wagered: c.wagered,
            paid_out: c.paid_out,
            net: c.net(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GameStats {
    pub game: String,
    #[serde(flatten)]
    pub totals: BetTotals,
}

#[derive(Serialize, ToSchema)]
pub struct CurrencyStats {
    pub currency: String,
    /// Over every game.
    #[serde(flatten)]
    pub totals: BetTotals,
    /// Per game played, by name.
    pub games: Vec<GameStats>,
}

#[derive(Serialize, ToSchema)]
pub struct PlayerStats {
    /// Currencies the player has bet in, by code.
    pub currencies: Vec<CurrencyStats>,
}

/// The caller's results per currency and game. Updated from `bet.settled`
/// events, so a bet shows here shortly after it settles, not at once.
#[utoipa::path(get, path = "/v1/me/stats", operation_id = "my_stats", tag = "stats", security(("bearer" = [])),
    responses((status = 200, body = PlayerStats), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
) -> ApiResult<Json<PlayerStats>> {
    let rows = state.store.player_stats(me.player.id).await?;
    let mut currencies: Vec<CurrencyStats> = Vec::new();
    let mut sums: Vec<BetCounters> = Vec::new();
    // Rows come ordered by currency, then game.
    for row in rows {
        let code = row.currency.to_string();
        if currencies.last().map(|c| &c.currency) != Some(&code) {
            currencies.push(CurrencyStats {
                currency: code,
                totals: BetTotals::default(),
                games: vec![],
            });
            sums.push(BetCounters::default());
        }
        if let (Some(c), Some(sum)) = (currencies.last_mut(), sums.last_mut()) {
            sum.merge(&row.counters);
            c.games.push(GameStats {
                game: row.game,
                totals: row.counters.into(),
            });
        }
    }
    for (c, sum) in currencies.iter_mut().zip(sums) {
        c.totals = sum.into();
    }
    Ok(Json(PlayerStats { currencies }))
}
