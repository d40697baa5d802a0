//! RFC 9457 problem details. Every error the API returns is one of these, with
//! a stable machine-readable `code` and, where there is one, the offending `field`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use croupier_core::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:croupier:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `insufficient_funds`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request field at fault, as a dotted path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Extra, code-specific members (e.g. `next_claim_at`).
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// An error on its way to becoming a problem response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Boxed: errors travel in every handler's `Result`, so keep them small.
    pub problem: Box<Problem>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, title: impl Into<String>) -> Self {
        Self {
            status,
            problem: Box::new(Problem {
                kind: format!("urn:croupier:problem:{code}"),
                title: title.into(),
                status: status.as_u16(),
                code: code.to_owned(),
                detail: None,
                field: None,
                extra: Default::default(),
            }),
            retry_after: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.problem.field = Some(field.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.problem.detail = Some(detail.into());
        self
    }

    pub fn extra(mut self, key: &str, value: impl Serialize) -> Self {
        self.problem.extra.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or_default(),
        );
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 422 for a well-formed request whose field value is not acceptable.
    pub fn invalid(field: &str, code: &str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "Invalid request field",
        )
        .field(field)
        .detail(detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not allowed for your role",
        )
    }

    pub fn not_found(code: &str, title: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, title)
    }

    /// 429 until `next_claim_at`, with `Retry-After` counted from `now`.
    pub fn claim_not_ready(
        next_claim_at: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let wait = (next_claim_at - now).num_seconds().max(1) as u64;
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "claim_not_ready",
            "The bonus cannot be claimed yet",
        )
        .extra("next_claim_at", next_claim_at)
        .retry_after(wait)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service temporarily unavailable",
        )
        .detail(detail)
        .retry_after(1)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §15.5.2: a 401 names the scheme that would succeed.
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"croupier\""),
            );
        }
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UsernameTaken => {
                ApiError::new(StatusCode::CONFLICT, "username_taken", "Username is taken")
                    .field("username")
            }
            StoreError::InsufficientFunds => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "insufficient_funds",
                "Insufficient funds",
            ),
            // No `field`: for a bet it is the payout, not a request field.
            StoreError::BalanceLimit => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "balance_limit",
                "The balance would exceed its ceiling",
            )
            .detail(format!(
                "a wallet holds at most {} minor units (MAX_BALANCE)",
                croupier_core::MAX_BALANCE
            )),
            StoreError::ClaimNotReady { next_claim_at } => {
                ApiError::claim_not_ready(next_claim_at, croupier_core::now())
            }
            StoreError::NotFound => ApiError::not_found("not_found", "Not found"),
            StoreError::MinesRoundOpen => ApiError::new(
                StatusCode::CONFLICT,
                "mines_round_open",
                "Finish the open mines round first",
            ),
            e @ StoreError::RoundClosed { .. } => {
                ApiError::new(StatusCode::CONFLICT, "round_closed", "The round is closed")
                    .detail(e.to_string())
            }
            StoreError::TileRevealed => ApiError::invalid(
                "tile",
                "tile_already_revealed",
                "this tile is already revealed",
            ),
            StoreError::AlreadyExported(d) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(d)
            }
            StoreError::Unavailable(d) => {
                tracing::warn!(error = %d, "storage unavailable");
                ApiError::unavailable("storage is unavailable")
            }
            StoreError::Internal(d) => {
                tracing::error!(error = %d, "storage error");
                ApiError::internal()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_core::MinesState;

    /// Each refusal a handler must tell apart is its own variant, with its
    /// own answer: no handler reads a message to guess which it is.
    #[test]
    fn typed_refusals_map_to_their_own_codes() {
        let answer = |e: StoreError| {
            let a = ApiError::from(e);
            (
                a.status.as_u16(),
                a.problem.code.clone(),
                a.problem.detail.clone(),
            )
        };
        assert_eq!(answer(StoreError::MinesRoundOpen).1, "mines_round_open");
        assert_eq!(
            answer(StoreError::RoundClosed {
                state: MinesState::Cancelled
            }),
            (
                409,
                "round_closed".into(),
                Some("round is cancelled".into())
            )
        );
        let tile = ApiError::from(StoreError::TileRevealed);
        assert_eq!(
            (tile.status.as_u16(), tile.problem.code.as_str()),
            (422, "tile_already_revealed")
        );
        assert_eq!(tile.problem.field.as_deref(), Some("tile"));
        assert_eq!(answer(StoreError::AlreadyExported("x".into())).0, 409);
    }
}
