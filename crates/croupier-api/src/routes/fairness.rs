//! Seed pairs (commit, rotate, reveal) and public verification.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{client_ip, parse_json, ApiQuery, JsonBytes, PeerAddr};
use crate::play::{fair_error, new_seed_pair};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use croupier_core::ratelimit::{Quota, RateDecision};
use croupier_core::SeedPair;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// A client seed is 1–64 printable ASCII characters.
fn validate_client_seed(field: &str, seed: &str) -> ApiResult<()> {
    if (1..=64).contains(&seed.len()) && seed.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "invalid_client_seed",
            "client seed must be 1-64 printable ASCII characters",
        ))
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActiveSeeds {
    /// SHA-256 of the (secret) server seed: the commitment.
    pub server_seed_hash: String,
    pub client_seed: String,
    /// The nonce the next bet will use.
    pub nonce: u64,
}

#[derive(Serialize, ToSchema)]
pub struct RevealedSeeds {
    pub server_seed: String,
    pub server_seed_hash: String,
    pub client_seed: String,
    /// Bets made with this pair used nonces 0 to nonce − 1.
    pub nonce: u64,
    pub revealed_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct SeedsView {
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: u64,
    /// The same as the three fields above.
    pub active: ActiveSeeds,
    /// Earlier pairs, newest first, with their server seeds revealed: one
    /// page (`limit`, from `cursor`).
    pub previous: Vec<RevealedSeeds>,
    /// Pass as `cursor` for older revealed pairs; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeedsQuery {
    /// Revealed pairs per page: 1–100, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

fn active(p: &SeedPair) -> ActiveSeeds {
    ActiveSeeds {
        server_seed_hash: p.server_seed_hash.clone(),
        client_seed: p.client_seed.clone(),
        nonce: p.nonce,
    }
}

fn revealed(p: &SeedPair) -> Option<RevealedSeeds> {
    Some(RevealedSeeds {
        server_seed: p.server_seed.clone(),
        server_seed_hash: p.server_seed_hash.clone(),
        client_seed: p.client_seed.clone(),
        nonce: p.nonce,
        revealed_at: p.revealed_at?,
    })
}

/// The active seed pair (created on first use) and the revealed earlier
/// ones, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/fairness/seeds", operation_id = "get_seeds", tag = "fairness",
    params(SeedsQuery),
    responses((status = 200, body = SeedsView),
        (status = 422, description = "invalid_limit, invalid_cursor", body = Problem, content_type = "application/problem+json")))]
pub async fn seeds(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiQuery(q): ApiQuery<SeedsQuery>,
) -> ApiResult<Json<SeedsView>> {
    let page = crate::routes::wallets::PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let (limit, before) = crate::routes::wallets::page_params(&page, 100)?;
    let current = state
        .store
        .active_seed_pair(me.player.id, new_seed_pair(None), croupier_core::now())
        .await?;
    let mut pairs = state
        .store
        .revealed_seed_pairs(me.player.id, before, limit + 1)
        .await?;
    let more = pairs.len() > limit as usize;
    pairs.truncate(limit as usize);
    let next_cursor = more
        .then(|| pairs.last().map(|p| p.id.to_string()))
        .flatten();
    Ok(Json(SeedsView {
        server_seed_hash: current.server_seed_hash.clone(),
        client_seed: current.client_seed.clone(),
        nonce: current.nonce,
        active: active(&current),
        previous: pairs.iter().filter_map(revealed).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// The client seed for the new pair (1–64 printable ASCII characters);
    /// random if absent.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[ -~]+$")]
    pub client_seed: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RotateView {
    pub server_seed_hash: String,
    pub client_seed: String,
    pub nonce: u64,
    /// The new pair (the same as the three fields above).
    pub active: ActiveSeeds,
    /// The pair just retired, its server seed now revealed.
    pub revealed: Option<RevealedSeeds>,
}

/// Reveal the current server seed and commit a new one; the nonce restarts at 0.
/// Refused (409 `mines_round_open`) while a mines round is open.
#[utoipa::path(post, path = "/v1/fairness/seeds/rotate", operation_id = "rotate_seeds", tag = "fairness",
    request_body(content = Option<RotateRequest>, description = "Optional"),
    responses((status = 200, body = RotateView),
        (status = 409, description = "mines_round_open", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_client_seed", body = Problem, content_type = "application/problem+json")))]
pub async fn rotate(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    JsonBytes(body): JsonBytes,
) -> ApiResult<Json<RotateView>> {
    let req: RotateRequest = if body.is_empty() {
        RotateRequest::default()
    } else {
        parse_json(&body)?
    };
    if let Some(c) = &req.client_seed {
        validate_client_seed("client_seed", c)?;
    }
    let (old, new) = state
        .store
        .rotate_seed_pair(
            me.player.id,
            new_seed_pair(req.client_seed),
            croupier_core::now(),
        )
        .await
        .map_err(|e| match e {
            croupier_core::StoreError::MinesRoundOpen => ApiError::new(
                StatusCode::CONFLICT,
                "mines_round_open",
                "Finish the open mines round before rotating seeds",
            ),
            e => e.into(),
        })?;
    Ok(Json(RotateView {
        server_seed_hash: new.server_seed_hash.clone(),
        client_seed: new.client_seed.clone(),
        nonce: new.nonce,
        active: active(&new),
        revealed: old.as_ref().and_then(revealed),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub game: String,
    #[schema(max_length = 256)]
    pub server_seed: String,
    #[schema(min_length = 1, max_length = 64, pattern = r"^[ -~]+$")]
    pub client_seed: String,
    pub nonce: u64,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Value,
}

/// Recompute an outcome from revealed seeds (no authentication; rate limited per IP).
///
/// Answers the same object as `croupier fair verify` (e.g. `{"roll": 28.07}`),
/// plus `server_seed_hash` (to check against the commitment) and the same
/// result again under `outcome`.
#[utoipa::path(post, path = "/v1/fairness/verify", operation_id = "verify_outcome", tag = "fairness",
    request_body = VerifyRequest,
    responses((status = 200, description = "The outcome", body = Object),
        (status = 422, description = "unknown_game, invalid_params", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited", body = Problem, content_type = "application/problem+json")))]
pub async fn verify(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> ApiResult<Json<Value>> {
    let ip = client_ip(state.config.http.trust_forwarded_for, &headers, peer);
    let quota = Quota::new(
        state.config.games.verify_per_minute.max(1),
        Duration::from_secs(60),
    );
    if let RateDecision::Limited { retry_after } =
        state.limiter.hit(&format!("verify:{ip}"), quota).await
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
        )
        .retry_after(retry_after.as_secs_f64().ceil() as u64));
    }
    let req: VerifyRequest = parse_json(&body)?;
    if req.server_seed.len() > 256 {
        return Err(ApiError::invalid(
            "server_seed",
            "invalid_server_seed",
            "server seed is at most 256 characters",
        ));
    }
    validate_client_seed("client_seed", &req.client_seed)?;
    let params = if req.params.is_null() {
        Value::Object(Default::default())
    } else {
        req.params
    };
    let result = croupier_fair::verify_json(
        &req.game,
        &req.server_seed,
        &req.client_seed,
        req.nonce,
        &params,
    )
    .map_err(fair_error)?;
    let mut out = match &result {
        Value::Object(m) => m.clone(),
        _ => Default::default(),
    };
    out.insert(
        "server_seed_hash".into(),
        croupier_fair::server_seed_hash(&req.server_seed).into(),
    );
    out.insert("outcome".into(), result);
    Ok(Json(Value::Object(out)))
}
