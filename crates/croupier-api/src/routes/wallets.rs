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
use croupier_core::{ClaimCommand, CurrencyCode, StoreError};
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

/// One line of a wallet's history: one posting. A bet's stake and payout
/// are two lines of one ledger transaction.
#[derive(Serialize, ToSchema)]
pub struct WalletTransaction {
    /// This line's id, unique per line (the posting).
    pub id: i64,
    /// The ledger transaction the line belongs to.
    pub transaction_id: i64,
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
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` from the previous page.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

pub fn configured_currency<'a>(state: &'a AppState, code: &str) -> ApiResult<&'a CurrencyConfig> {
    state.config.currency(code).ok_or_else(|| {
        ApiError::not_found("unknown_currency", "Unknown currency").field("currency")
    })
}

/// A configured currency.
#[derive(Serialize, ToSchema)]
pub struct CurrencyView {
    pub code: String,
    /// Decimal places of a major unit (2: amounts count hundredths).
    pub exponent: u8,
    /// The play-money bonus per claim, minor units (0: no bonus).
    pub faucet_amount: i64,
    /// Seconds between two claims of it by one player.
    pub claim_period_secs: u64,
}

/// The configured currencies (no authentication): what amounts mean.
#[utoipa::path(get, path = "/v1/currencies", operation_id = "list_currencies", tag = "wallets",
    responses((status = 200, body = [CurrencyView])))]
pub async fn currencies(State(state): State<AppState>) -> Json<Vec<CurrencyView>> {
    Json(
        state
            .config
            .currencies
            .iter()
            .map(|c| CurrencyView {
                code: c.code.to_string(),
                exponent: c.exponent,
                faucet_amount: c.faucet_amount,
                claim_period_secs: state.config.faucet.period_secs,
            })
            .collect(),
    )
}

/// Balances of every configured currency (0 if never used).
#[utoipa::path(get, path = "/v1/wallets", operation_id = "list_wallets", tag = "wallets",
    responses((status = 200, body = [WalletBalance])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
) -> ApiResult<Json<Vec<WalletBalance>>> {
    let held = state.store.balances(me.player.id).await?;
    Ok(Json(balances(&state, &held)))
}

/// Every configured currency's balance out of what a player holds (0 if never used).
pub fn balances(state: &AppState, held: &[(CurrencyCode, i64)]) -> Vec<WalletBalance> {
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
        .collect()
}

/// Claim the play-money bonus (once per configured period).
#[utoipa::path(post, path = "/v1/wallets/{currency}/claims", operation_id = "claim_bonus", tag = "wallets",
    params(("currency" = String, Path)),
    responses(
        (status = 201, body = ClaimResponse),
        (status = 404, description = "unknown_currency", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "balance_limit: the bonus would take the wallet past its ceiling", body = Problem, content_type = "application/problem+json"),
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
    let now = state.clock.now();
    let receipt = state
        .store
        .claim(ClaimCommand {
            player_id: me.player.id,
            currency: cur.code,
            amount: cur.faucet_amount,
            period: chrono::Duration::seconds(state.config.faucet.period_secs as i64),
            now,
        })
        .await
        .map_err(|e| match e {
            StoreError::ClaimNotReady { next_claim_at } => {
                ApiError::claim_not_ready(next_claim_at, now)
            }
            e => e.into(),
        })?;
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
    let limit = crate::extract::page_limit(q.limit.as_deref(), 50, max)?;
    let cursor = match &q.cursor {
        None => None,
        Some(c) => Some(
            positive_id(c)
                .ok_or_else(|| ApiError::invalid("cursor", "invalid_cursor", "malformed cursor"))?,
        ),
    };
    Ok((limit, cursor))
}

/// A positive id as cursors carry it: 1–18 decimal digits, no sign, no
/// leading zero (exactly the documented pattern `^[1-9][0-9]{0,17}$`).
pub fn positive_id(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let ok = (1..=18).contains(&b.len()) && b[0] != b'0' && b.iter().all(u8::is_ascii_digit);
    ok.then(|| s.parse().ok()).flatten()
}

/// A wallet's ledger entries, newest first.
#[utoipa::path(get, path = "/v1/wallets/{currency}/transactions", operation_id = "list_wallet_transactions", tag = "wallets",
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
                id: e.posting_id,
                transaction_id: e.transaction_id,
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
