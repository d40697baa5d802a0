//! Play statistics, kept by the `stats` event consumer.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use croupier_core::events::{BetCounters, WinRecord};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;
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

/// The win with the largest payout − stake.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct BiggestWin {
    pub bet_id: String,
    /// Payout − stake, minor units.
    pub amount: i64,
    /// The bet's payout multiplier (2.0 = 2×).
    pub multiplier: f64,
    /// When the bet settled.
    pub at: DateTime<Utc>,
}

/// Biggest win and win streaks. Streaks follow the player's bet sequence
/// (seed pair, then nonce); a push or a loss ends one.
#[derive(Serialize, ToSchema, Debug, Default, Clone, PartialEq)]
pub struct WinRecordJson {
    /// Ties: the earliest; null before the first win.
    pub biggest_win: Option<BiggestWin>,
    /// Wins in a row up to the latest bet (0 if it was not a win).
    pub current_win_streak: i64,
    pub longest_win_streak: i64,
}

impl From<WinRecord> for WinRecordJson {
    fn from(r: WinRecord) -> Self {
        Self {
            biggest_win: r.biggest_win.map(|w| BiggestWin {
                bet_id: w.bet_id,
                amount: w.amount,
                multiplier: w.multiplier,
                at: w.at,
            }),
            current_win_streak: r.streaks.current,
            longest_win_streak: r.streaks.longest,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GameStats {
    pub game: String,
    #[serde(flatten)]
    pub totals: BetTotals,
    #[serde(flatten)]
    pub record: WinRecordJson,
}

#[derive(Serialize, ToSchema)]
pub struct CurrencyStats {
    pub currency: String,
    /// Over every game.
    #[serde(flatten)]
    pub totals: BetTotals,
    /// Streaks across the currency's games, in the player's bet sequence.
    #[serde(flatten)]
    pub record: WinRecordJson,
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
#[utoipa::path(get, path = "/v1/me/stats", operation_id = "my_stats", tag = "stats",
    responses((status = 200, body = PlayerStats), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
) -> ApiResult<Json<PlayerStats>> {
    let rows = state.store.player_stats(me.player.id).await?;
    let mut records: HashMap<(String, Option<String>), WinRecord> = state
        .store
        .player_win_records(me.player.id)
        .await?
        .into_iter()
        .map(|r| ((r.currency.to_string(), r.game), r.record))
        .collect();
    let mut record = |cur: &str, game: Option<&str>| -> WinRecordJson {
        records
            .remove(&(cur.to_owned(), game.map(str::to_owned)))
            .map(Into::into)
            .unwrap_or_default()
    };
    let mut currencies: Vec<CurrencyStats> = Vec::new();
    let mut sums: Vec<BetCounters> = Vec::new();
    // Rows come ordered by currency, then game.
    for row in rows {
        let code = row.currency.to_string();
        if currencies.last().map(|c| &c.currency) != Some(&code) {
            currencies.push(CurrencyStats {
                record: record(&code, None),
                currency: code.clone(),
                totals: BetTotals::default(),
                games: vec![],
            });
            sums.push(BetCounters::default());
        }
        if let (Some(c), Some(sum)) = (currencies.last_mut(), sums.last_mut()) {
            sum.merge(&row.counters);
            c.games.push(GameStats {
                record: record(&code, Some(&row.game)),
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

/// One currency's bets in a game over a window.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct GameWindowCurrency {
    pub currency: String,
    pub bets: i64,
    /// Σ stakes, minor units.
    pub wagered: i64,
    /// Σ payouts, minor units.
    pub paid_out: i64,
    /// Observed return to player, `paid_out / wagered`; null when nothing was wagered.
    pub rtp: Option<f64>,
}

#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct GameWindow {
    /// `24h`, `7d` or `30d`.
    pub window: String,
    /// Currencies bet in, by code.
    pub currencies: Vec<GameWindowCurrency>,
}

#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct PublicGameStats {
    pub game: String,
    /// The catalog's theoretical return to player (at its reference parameters).
    pub theoretical_rtp: Option<f64>,
    pub windows: Vec<GameWindow>,
}

const WINDOWS: [(&str, i64); 3] = [("24h", 1), ("7d", 7), ("30d", 30)];

/// A game's popularity and observed RTP over the last 24 hours, 7 and 30
/// days (no authentication). Built from hourly buckets: a window starts at
/// the beginning of the hour it reaches back into. Answers are cached for
/// `http.game_stats_cache_secs`, so they lag bets by that much at most on
/// top of event delivery.
#[utoipa::path(get, path = "/v1/games/{game}/stats", operation_id = "game_stats", tag = "stats",
    params(("game" = String, Path)),
    responses((status = 200, body = PublicGameStats),
        (status = 404, description = "unknown_game", body = Problem, content_type = "application/problem+json")))]
pub async fn game(State(state): State<AppState>, Path(game): Path<String>) -> ApiResult<Response> {
    let shown: String = game.chars().take(64).collect();
    let game =
        crate::play::parse_game(&game).map_err(|e| e.detail(format!("no game named {shown:?}")))?;
    let ttl = std::time::Duration::from_secs(state.config.http.game_stats_cache_secs);
    let key = game.as_str().to_owned();
    if let Some((at, hit)) = state.game_stats_cache.lock().expect("cache lock").get(&key) {
        if at.elapsed() < ttl {
            metrics::counter!("croupier_game_stats_cache_total", "result" => "hit").increment(1);
            return Ok(json_response(hit.clone()));
        }
    }
    metrics::counter!("croupier_game_stats_cache_total", "result" => "miss").increment(1);
    let now = croupier_core::now();
    let mut windows = Vec::with_capacity(WINDOWS.len());
    for (name, days) in WINDOWS {
        let rows = state
            .store
            .game_stats(game.as_str(), now - Duration::days(days))
            .await?;
        windows.push(GameWindow {
            window: name.into(),
            currencies: rows
                .into_iter()
                .map(|(cur, c)| GameWindowCurrency {
                    currency: cur.to_string(),
                    bets: c.bets,
                    wagered: c.wagered,
                    paid_out: c.paid_out,
                    rtp: (c.wagered > 0).then(|| c.paid_out as f64 / c.wagered as f64),
                })
                .collect(),
        });
    }
    let rtp = super::games::entry(&state.catalog.settings(game)).theoretical_rtp;
    let answer = PublicGameStats {
        game: key.clone(),
        theoretical_rtp: rtp.is_finite().then_some(rtp),
        windows,
    };
    let body = Bytes::from(serde_json::to_vec(&answer).map_err(|e| {
        tracing::error!(error = %e, "game stats did not serialize");
        ApiError::internal()
    })?);
    if !ttl.is_zero() {
        state
            .game_stats_cache
            .lock()
            .expect("cache lock")
            .insert(key, (Instant::now(), body.clone()));
    }
    Ok(json_response(body))
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
