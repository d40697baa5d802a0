//! Operator endpoints (role `admin`).

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use croupier_core::{AdjustCommand, AuditReport, BlockCommand, PlayerId, Role, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest single adjustment, in minor units: far above any real need, far
/// below i64 overflow.
pub const MAX_ADJUSTMENT: i64 = 1_000_000_000_000_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    pub currency: String,
    /// Signed, minor units; non-zero, at most 10^15 either way.
    #[schema(minimum = -1_000_000_000_000_000i64, maximum = 1_000_000_000_000_000i64)]
    pub amount: i64,
    /// Why: kept in the ledger and the audit log (1–500 characters, not only spaces).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct AdjustmentResponse {
    pub transaction_id: i64,
    pub player_id: String,
    pub currency: String,
    pub amount: i64,
    pub balance: i64,
}

/// Credit or debit a player's wallet (not the caller's own: 422
/// `cannot_adjust_self`). At most 10^15 minor units either way.
#[utoipa::path(post, path = "/v1/admin/players/{player_id}/adjustments", operation_id = "adjust_balance", tag = "admin",
    params(("player_id" = String, Path)),
    request_body = AdjustmentRequest,
    responses(
        (status = 201, body = AdjustmentResponse),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "player_not_found", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "insufficient_funds, invalid_amount, invalid_reason, unknown_currency, cannot_adjust_self, balance_limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn adjust(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiPath(player_id): ApiPath<String>,
    ApiJson(body): ApiJson<AdjustmentRequest>,
) -> ApiResult<impl IntoResponse> {
    let player_id: PlayerId = player_id.parse().map_err(|_| player_not_found())?;
    if player_id == me.player.id {
        // Four eyes on money: an operator's own wallet is changed by another.
        return Err(ApiError::invalid(
            "player_id",
            "cannot_adjust_self",
            "an admin cannot adjust their own wallet",
        ));
    }
    let currency = state
        .config
        .currency(&body.currency)
        .ok_or_else(|| {
            ApiError::invalid("currency", "unknown_currency", "currency is not configured")
        })?
        .code;
    if body.amount == 0 || body.amount.unsigned_abs() > MAX_ADJUSTMENT as u64 {
        return Err(ApiError::invalid(
            "amount",
            "invalid_amount",
            format!("amount must be non-zero and at most {MAX_ADJUSTMENT} in magnitude"),
        ));
    }
    let reason = reason(&body.reason)?;
    let receipt = state
        .store
        .adjust(AdjustCommand {
            player_id,
            currency,
            amount: body.amount,
            reason: reason.to_owned(),
            actor: me.player.id,
            now: croupier_core::now(),
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => player_not_found(),
            e => e.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(AdjustmentResponse {
            transaction_id: receipt.transaction_id,
            player_id: player_id.to_string(),
            currency: currency.to_string(),
            amount: body.amount,
            balance: receipt.balance,
        }),
    ))
}

/// An admin's `reason`: 1–500 characters, not only white space; kept trimmed.
fn reason(text: &str) -> ApiResult<&str> {
    let reason = text.trim();
    if reason.is_empty() || text.chars().count() > 500 {
        return Err(ApiError::invalid(
            "reason",
            "invalid_reason",
            "reason must be 1-500 characters",
        ));
    }
    Ok(reason)
}

fn player_not_found() -> ApiError {
    ApiError::not_found("player_not_found", "No such player").field("player_id")
}

/// Check the ledger's invariants.
#[utoipa::path(get, path = "/v1/admin/ledger/audit", operation_id = "audit_ledger", tag = "admin",
    responses(
        (status = 200, description = "{ok, currencies: [{currency, postings_sum, wallets_total, system_accounts, wallets, transactions, postings}], problems}", body = Object),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn audit(State(state): State<AppState>) -> ApiResult<Json<AuditReport>> {
    Ok(Json(state.store.audit().await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// Why: kept in the audit log and the `player.blocked` event (1–500
    /// characters, not only spaces).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct BlockResponse {
    pub player_id: String,
    pub blocked: bool,
    /// False when the player already was in that state (nothing was logged).
    pub changed: bool,
}

/// Block a player (not an admin: 422 `cannot_block_admin`; admin accounts
/// are managed with the CLI): every session is revoked at once (on every instance
/// within a second), logging in answers 403 `player_blocked`, and the
/// player's bets count for no mission. Audited; emits `player.blocked`.
#[utoipa::path(put, path = "/v1/admin/players/{player_id}/block", operation_id = "block_player", tag = "admin",
    params(("player_id" = String, Path)),
    request_body = BlockRequest,
    responses(
        (status = 200, body = BlockResponse),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "player_not_found", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_reason, cannot_block_self, cannot_block_admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn block(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiPath(player_id): ApiPath<String>,
    ApiJson(body): ApiJson<BlockRequest>,
) -> ApiResult<Json<BlockResponse>> {
    let player_id: PlayerId = player_id.parse().map_err(|_| player_not_found())?;
    let reason = reason(&body.reason)?;
    if player_id == me.player.id {
        // Locking out the last admin is not undoable through the API.
        return Err(ApiError::invalid(
            "player_id",
            "cannot_block_self",
            "an admin cannot block their own account",
        ));
    }
    let target = state
        .store
        .player(player_id)
        .await?
        .ok_or_else(player_not_found)?;
    if target.player.has_role(Role::Admin) {
        // Admin accounts are managed with the CLI, by whoever runs the
        // platform: one admin cannot lock the others out.
        return Err(ApiError::invalid(
            "player_id",
            "cannot_block_admin",
            "admin accounts cannot be blocked through the API",
        ));
    }
    set_blocked(&state, me.player.id, player_id, Some(reason.to_owned())).await
}

/// Unblock a player: they can log in again. Audited; emits `player.unblocked`.
#[utoipa::path(delete, path = "/v1/admin/players/{player_id}/block", operation_id = "unblock_player", tag = "admin",
    params(("player_id" = String, Path)),
    responses(
        (status = 200, body = BlockResponse),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "player_not_found", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn unblock(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiPath(player_id): ApiPath<String>,
) -> ApiResult<Json<BlockResponse>> {
    let player_id: PlayerId = player_id.parse().map_err(|_| player_not_found())?;
    set_blocked(&state, me.player.id, player_id, None).await
}

async fn set_blocked(
    state: &AppState,
    actor: PlayerId,
    player_id: PlayerId,
    reason: Option<String>,
) -> ApiResult<Json<BlockResponse>> {
    let blocked = reason.is_some();
    let change = state
        .store
        .set_player_blocked(BlockCommand {
            player_id,
            reason,
            actor,
            now: croupier_core::now(),
        })
        .await?
        .ok_or_else(player_not_found)?;
    crate::auth::forget_revoked(state, &change.revoked).await;
    Ok(Json(BlockResponse {
        player_id: player_id.to_string(),
        blocked,
        changed: change.changed,
    }))
}
