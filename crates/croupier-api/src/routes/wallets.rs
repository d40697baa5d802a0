//! Wallets: balances, the play-money bonus, and a wallet's transactions.

use crate::auth::Authed;
use crate::config::CurrencyConfig;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use croupier_core::ClaimCommand;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct WalletBalance {
    pub currency: String,
    /// Minor units.
    pub balance: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimResponse {
    pub amount: i64,
    pub balance: i64,
    pub next_claim_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct WalletTransaction {
    /// The ledger transaction id.
    pub id: i64,
    /// e.g. `faucet_claim`, `admin_adjustment`.
    pub kind: String,
    /// Signed change to this wallet, minor units.
    pub amount: i64,
    pub balance_after: i64,
    pub created_at: DateTime<Utc>,
    pub reference: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TransactionPage {
    pub items: Vec<WalletTransaction>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1–200, default 50.
    pub limit: Option<String>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

pub fn configured_currency<'a>(state: &'a AppState, code: &str) -> ApiResult<&'a CurrencyConfig> {
    state.config.currency(code).ok_or_else(|| {
        ApiError::not_found("unknown_currency", "Unknown currency").field("currency")
    })
}

/// Balances of every configured currency (0 if never used).
#[utoipa::path(get, path = "/v1/wallets", tag = "wallets", security(("bearer" = [])),
    responses((status = 200, body = [WalletBalance])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
) -> ApiResult<Json<Vec<WalletBalance>>> {
    let held = state.store.balances(me.player.id).await?;
    Ok(Json(
        state
            .config
            .currencies
            .iter()
            .map(|c| WalletBalance {
                currency: c.code.to_string(),
                balance: held
                    .iter()
                    .find(|(code, _)| *code == c.code)
                    .map_or(0, |(_, b)| *b),
            })
            .collect(),
    ))
}

/// Claim the play-money bonus (once per configured period).
#[utoipa::path(post, path = "/v1/wallets/{currency}/claims", tag = "wallets", security(("bearer" = [])),
    params(("currency" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safely retryable")),
    responses(
        (status = 201, body = ClaimResponse),
        (status = 404, description = "unknown_currency", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "claim_not_ready (with next_claim_at)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn claim(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiPath(currency): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let cur = configured_currency(&state, &currency)?;
    if cur.faucet_amount == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "claims_disabled",
            "This currency has no bonus",
        ));
    }
    let receipt = state
        .store
        .claim(ClaimCommand {
            player_id: me.player.id,
            currency: cur.code,
            amount: cur.faucet_amount,
            period: chrono::Duration::seconds(state.config.faucet.period_secs as i64),
            now: croupier_core::now(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ClaimResponse {
            amount: receipt.amount,
            balance: receipt.balance,
            next_claim_at: receipt.next_claim_at,
        }),
    ))
}

/// Parses `limit` (1–max, default 50) and an opaque `cursor`.
pub fn page_params(q: &PageQuery, max: u32) -> ApiResult<(u32, Option<i64>)> {
    let limit = match &q.limit {
        None => 50,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| {
                ApiError::invalid("limit", "invalid_limit", format!("limit must be 1-{max}"))
            })?,
    };
    let cursor =
        match &q.cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().ok().filter(|c| *c > 0).ok_or_else(|| {
                ApiError::invalid("cursor", "invalid_cursor", "malformed cursor")
            })?),
        };
    Ok((limit.min(max), cursor))
}

/// A wallet's ledger entries, newest first.
#[utoipa::path(get, path = "/v1/wallets/{currency}/transactions", tag = "wallets", security(("bearer" = [])),
    params(("currency" = String, Path), PageQuery),
    responses(
        (status = 200, body = TransactionPage),
        (status = 404, description = "unknown_currency", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_limit, invalid_cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn transactions(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiPath(currency): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<TransactionPage>> {
    let cur = configured_currency(&state, &currency)?.code;
    let (limit, before) = page_params(&q, 200)?;
    // One extra row tells whether another page exists.
    let mut entries = state
        .store
        .wallet_entries(me.player.id, cur, limit + 1, before)
        .await?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_cursor = more
        .then(|| entries.last().map(|e| e.posting_id.to_string()))
        .flatten();
    Ok(Json(TransactionPage {
        items: entries
            .into_iter()
            .map(|e| WalletTransaction {
                id: e.transaction_id,
                kind: e.kind,
                amount: e.amount,
                balance_after: e.balance_after,
                created_at: e.created_at,
                reference: e.reference,
            })
            .collect(),
        next_cursor,
    }))
}
