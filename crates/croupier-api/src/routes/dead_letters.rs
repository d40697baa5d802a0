//! Dead letters (role `admin`): events a consumer gave up on, listed and
//! re-driven.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::wallets::{page_params, PageQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use croupier_core::dead_letters::{DeadLetter, Redrive, RedriveError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Only this consumer's dead letters (e.g. `stats`).
    pub consumer: Option<String>,
    /// 1–200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` from the previous page.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeadLetterView {
    /// Pass to `…/{id}/redrive`.
    pub id: i64,
    pub consumer: String,
    pub event_id: String,
    pub event_type: String,
    /// The event's outbox position.
    pub position: i64,
    /// The event's payload, as delivered.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub event_created_at: DateTime<Utc>,
    /// Failed deliveries, over every time it was dead-lettered or re-driven.
    pub attempts: u32,
    pub last_error: String,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(l: DeadLetter) -> Self {
        Self {
            id: l.id,
            consumer: l.consumer,
            event_id: l.event.event_id.to_string(),
            event_type: l.event.event_type,
            position: l.event.position,
            payload: l.event.payload,
            event_created_at: l.event.created_at,
            attempts: l.attempts,
            last_error: l.last_error,
            first_failed_at: l.first_failed_at,
            last_failed_at: l.last_failed_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeadLetterPage {
    /// Oldest first.
    pub items: Vec<DeadLetterView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Dead letters waiting, oldest first.
#[utoipa::path(get, path = "/v1/admin/dead-letters", operation_id = "list_dead_letters", tag = "admin",
    params(DeadLetterQuery),
    responses(
        (status = 200, body = DeadLetterPage),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_consumer, unknown_consumer, invalid_limit, invalid_cursor", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DeadLetterQuery>,
) -> ApiResult<Json<DeadLetterPage>> {
    if let Some(c) = &q.consumer {
        // The consumer-name alphabet (also what inboxes and durables accept).
        let ok = !c.is_empty()
            && c.len() <= 64
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(ApiError::invalid(
                "consumer",
                "invalid_consumer",
                "consumer must be 1-64 of letters, digits, _ and -",
            ));
        }
        // Well formed, but no consumer of this build: not an empty page.
        if !croupier_core::dead_letters::CONSUMERS.contains(&c.as_str()) {
            return Err(ApiError::invalid(
                "consumer",
                "unknown_consumer",
                format!(
                    "no such consumer; one of {}",
                    croupier_core::dead_letters::CONSUMERS.join(", ")
                ),
            ));
        }
    }
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let (limit, after) = page_params(&page, 200)?;
    // One extra row tells whether another page exists.
    let mut letters = state
        .store
        .dead_letters(q.consumer.as_deref(), after.unwrap_or(0), limit + 1)
        .await?;
    let more = letters.len() > limit as usize;
    letters.truncate(limit as usize);
    let next_cursor = more
        .then(|| letters.last().map(|l| l.id.to_string()))
        .flatten();
    Ok(Json(DeadLetterPage {
        items: letters.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RedriveResponse {
    pub id: i64,
    /// `applied` (the dead letter is removed) or `failed` (it stays, with
    /// `error`).
    pub outcome: String,
    pub error: Option<String>,
}

/// Hand a dead letter to its consumer again. The consumer's inbox applies
/// an event at most once, so a repeat is harmless. Audited.
#[utoipa::path(post, path = "/v1/admin/dead-letters/{id}/redrive", operation_id = "redrive_dead_letter", tag = "admin",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = RedriveResponse),
        (status = 403, description = "forbidden", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "dead_letter_not_found", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "unknown_consumer: no such consumer in this build", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn redrive(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RedriveResponse>> {
    let not_found =
        || ApiError::not_found("dead_letter_not_found", "No such dead letter").field("id");
    let id: i64 = id.parse().ok().filter(|id| *id > 0).ok_or_else(not_found)?;
    let redriver = state
        .redriver
        .clone()
        .ok_or_else(|| ApiError::unavailable("re-drive is not configured on this instance"))?;
    let letter = state.store.dead_letter(id).await?.ok_or_else(not_found)?;
    let outcome = match redriver.redrive(id).await {
        Ok(o) => o,
        Err(RedriveError::NotFound(_)) => return Err(not_found()),
        Err(RedriveError::UnknownConsumer(c)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "unknown_consumer",
                "This build runs no such consumer",
            )
            .detail(format!("consumer {c:?}")))
        }
        Err(RedriveError::Store(e)) => return Err(e.into()),
    };
    let (outcome, error) = match outcome {
        Redrive::Applied => ("applied", None),
        Redrive::Failed(e) => ("failed", Some(e)),
    };
    state
        .store
        .dead_letter_audit(
            me.player.id,
            id,
            serde_json::json!({
                "consumer": letter.consumer, "event_id": letter.event.event_id,
                "event_type": letter.event.event_type, "outcome": outcome, "error": error,
            }),
            croupier_core::now(),
        )
        .await?;
    Ok(Json(RedriveResponse {
        id,
        outcome: outcome.into(),
        error,
    }))
}
