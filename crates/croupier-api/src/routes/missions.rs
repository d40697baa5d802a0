//! Missions: a player's progress (`/v1/me/missions`) and the operators' rules
//! (`/v1/admin/missions`). Progress and rewards are kept by the `missions`
//! event consumer; rules are the config file's, overridden by admin rules.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use croupier_core::missions::*;
use croupier_core::{CurrencyCode, PlayerId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RewardBody {
    pub currency: String,
    /// Minor units.
    pub amount: i64,
}

impl From<MissionReward> for RewardBody {
    fn from(r: MissionReward) -> Self {
        Self {
            currency: r.currency.to_string(),
            amount: r.amount,
        }
    }
}

/// A player's standing in one mission, for the current period.
#[derive(Serialize, ToSchema)]
pub struct MyMission {
    pub id: String,
    /// Wins, minor units wagered, or games played in the period so far.
    pub progress: i64,
    pub target: i64,
    /// The reward for this period was granted.
    pub completed: bool,
    pub reward: RewardBody,
    /// `wins`, `wagered` or `distinct_games`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `day` or `week`.
    pub period: String,
    /// The period's key, e.g. `2026-11-22` or `2026-W47` (UTC).
    pub period_key: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
}

fn kind_name(k: MissionKind) -> &'static str {
    match k {
        MissionKind::Wins => "wins",
        MissionKind::Wagered => "wagered",
        MissionKind::DistinctGames => "distinct_games",
    }
}

fn period_name(p: MissionPeriod) -> &'static str {
    match p {
        MissionPeriod::Day => "day",
        MissionPeriod::Week => "week",
    }
}

async fn rules(state: &AppState) -> ApiResult<Vec<(MissionRule, &'static str)>> {
    let admin = state.store.mission_rules().await?;
    Ok(merge_rules(&state.config.missions, &admin)
        .into_iter()
        .map(|r| {
            let source = if admin.iter().any(|a| a.id == r.id) {
                "admin"
            } else {
                "config"
            };
            (r, source)
        })
        .collect())
}

/// The caller's progress in every enabled mission, for the period holding
/// now. Progress follows `bet.settled` events, so a bet shows here (and its
/// reward is paid) shortly after it settles, not at once.
#[utoipa::path(get, path = "/v1/me/missions", operation_id = "my_missions", tag = "missions",
    responses((status = 200, body = Vec<MyMission>), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
) -> ApiResult<Json<Vec<MyMission>>> {
    Ok(Json(progress_of(&state, me.player.id).await?))
}

/// A player's progress in every enabled mission, for the period holding now.
pub async fn progress_of(state: &AppState, player: PlayerId) -> ApiResult<Vec<MyMission>> {
    let now = croupier_core::now();
    let active: Vec<MissionRule> = rules(state)
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| r.enabled)
        .collect();
    let keys: Vec<(String, String)> = active
        .iter()
        .map(|r| (r.id.clone(), r.period.key(now)))
        .collect();
    let rows = state.store.mission_progress(player, &keys).await?;
    let out = active
        .into_iter()
        .zip(keys)
        .map(|(r, (_, period_key))| {
            let row = rows
                .iter()
                .find(|p| p.mission_id == r.id && p.period == period_key);
            let (start, end) = r.period.bounds(now);
            MyMission {
                id: r.id.clone(),
                progress: row.map_or(0, |p| p.progress),
                target: r.target,
                completed: row.is_some_and(|p| p.rewarded),
                reward: r.reward.into(),
                kind: kind_name(r.kind).into(),
                game: r.game,
                currency: r.currency.map(|c| c.to_string()),
                period: period_name(r.period).into(),
                period_key,
                period_start: start,
                period_end: end,
            }
        })
        .collect();
    Ok(out)
}

/// A mission rule as an operator writes it (the id is in the path).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MissionRuleBody {
    /// `wins`, `wagered` or `distinct_games`.
    pub kind: String,
    /// Only this game's bets count (`wins`, `wagered`).
    #[serde(default)]
    pub game: Option<String>,
    /// Only stakes in this currency count; required by `wagered`.
    #[serde(default)]
    pub currency: Option<String>,
    /// Progress that earns the reward (1 to 10^15).
    pub target: i64,
    /// `day` (UTC) or `week` (ISO, from Monday 00:00 UTC).
    pub period: String,
    pub reward: RewardBody,
    /// Default true; false switches the mission off (also a config one).
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct MissionRuleView {
    pub id: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub target: i64,
    pub period: String,
    pub reward: RewardBody,
    pub enabled: bool,
    /// `config` (the config file) or `admin` (set through this API).
    pub source: String,
}

impl MissionRuleView {
    fn new(r: MissionRule, source: &str) -> Self {
        Self {
            id: r.id,
            kind: kind_name(r.kind).into(),
            game: r.game,
            currency: r.currency.map(|c| c.to_string()),
            target: r.target,
            period: period_name(r.period).into(),
            reward: r.reward.into(),
            enabled: r.enabled,
            source: source.into(),
        }
    }
}

/// Every mission rule in force, enabled or not, by id.
#[utoipa::path(get, path = "/v1/admin/missions", operation_id = "list_missions", tag = "admin",
    responses((status = 200, body = Vec<MissionRuleView>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<MissionRuleView>>> {
    let all = rules(&state).await?;
    Ok(Json(
        all.into_iter()
            .map(|(r, s)| MissionRuleView::new(r, s))
            .collect(),
    ))
}

fn invalid(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::invalid(field, "invalid_mission", detail)
}

fn currency(field: &'static str, s: &str) -> ApiResult<CurrencyCode> {
    CurrencyCode::parse(s)
        .ok_or_else(|| ApiError::invalid(field, "unknown_currency", "currency is not configured"))
}

/// Creates or replaces a rule (a config rule of the same id is overridden).
/// Applies to bets handled from then on; progress already made is kept.
#[utoipa::path(put, path = "/v1/admin/missions/{id}", operation_id = "put_mission", tag = "admin",
    params(("id" = String, Path, description = "[a-z0-9_-], 1-64 characters")),
    request_body = MissionRuleBody,
    responses(
        (status = 200, body = MissionRuleView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_mission, unknown_currency (with the field)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<MissionRuleBody>,
) -> ApiResult<Json<MissionRuleView>> {
    let kind = match body.kind.as_str() {
        "wins" => MissionKind::Wins,
        "wagered" => MissionKind::Wagered,
        "distinct_games" => MissionKind::DistinctGames,
        _ => {
            return Err(invalid(
                "kind",
                "kind must be wins, wagered or distinct_games",
            ))
        }
    };
    let period = match body.period.as_str() {
        "day" => MissionPeriod::Day,
        "week" => MissionPeriod::Week,
        _ => return Err(invalid("period", "period must be day or week")),
    };
    let rule = MissionRule {
        id,
        kind,
        game: body.game,
        currency: body
            .currency
            .as_deref()
            .map(|c| currency("currency", c))
            .transpose()?,
        target: body.target,
        period,
        reward: MissionReward {
            currency: currency("reward.currency", &body.reward.currency)?,
            amount: body.reward.amount,
        },
        enabled: body.enabled.unwrap_or(true),
    };
    rule.validate()
        .map_err(|(field, detail)| invalid(field, detail))?;
    // What is left to refuse: an unconfigured currency or an unknown game.
    state
        .config
        .check_mission(&rule)
        .map_err(|(field, detail)| match field {
            "currency" | "reward.currency" => ApiError::invalid(field, "unknown_currency", detail),
            _ => invalid(field, detail),
        })?;
    state
        .store
        .put_mission_rule(rule.clone(), me.player.id, croupier_core::now())
        .await?;
    Ok(Json(MissionRuleView::new(rule, "admin")))
}

/// Deletes an admin rule: a config rule of the same id applies again.
#[utoipa::path(delete, path = "/v1/admin/missions/{id}", operation_id = "delete_mission", tag = "admin",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "mission_not_found: no admin rule with this id", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if state
        .store
        .delete_mission_rule(&id, me.player.id, croupier_core::now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("mission_not_found", "No admin rule with this id").field("id"))
    }
}
