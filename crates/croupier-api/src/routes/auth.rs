//! Registration, login, logout, password change, and `GET /v1/me`.

use crate::auth::{self, Authed};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiJson;
use crate::extract::{client_ip, PeerAddr};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use croupier_core::ratelimit::{Quota, RateDecision};
use croupier_core::{NewPlayer, NewSession, Player, PlayerId, Role};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

/// A new account. The bounds are the server's: a username starts with a
/// letter or digit; a password is not only spaces and not a well-known one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    #[schema(
        example = "alice",
        min_length = 3,
        max_length = 32,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$"
    )]
    pub username: String,
    #[schema(
        example = "correct horse battery",
        min_length = 8,
        max_length = 128,
        pattern = r"\S"
    )]
    pub password: String,
}

/// Login takes any strings: a wrong one is just 401, like a wrong password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "correct horse battery")]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    pub player_id: String,
    pub username: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token: send as `Authorization: Bearer <token>`. Shown only once.
    pub token: String,
    /// Absolute expiry; the session also ends after the configured idle time.
    pub expires_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// The same rules as at registration.
    #[schema(min_length = 8, max_length = 128, pattern = r"\S")]
    pub new_password: String,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub player_id: String,
    pub username: String,
    /// `admin`, `support`, `player`.
    pub roles: Vec<String>,
}

/// Register a player account.
#[utoipa::path(post, path = "/v1/auth/register", operation_id = "register", tag = "auth",
    request_body = Registration,
    responses(
        (status = 201, body = RegisterResponse),
        (status = 409, description = "username_taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_username, invalid_password, common_password, unknown_field", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Registration>,
) -> ApiResult<impl IntoResponse> {
    auth::validate_username(&body.username)?;
    auth::validate_password("password", &body.password)?;
    let hash = auth::hash_password(state.config.auth.argon2, body.password).await?;
    let player = state
        .store
        .create_player(NewPlayer {
            id: PlayerId::new(),
            username: body.username,
            password_hash: hash,
            roles: vec![Role::Player],
            created_at: croupier_core::now(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            player_id: player.id.to_string(),
            username: player.username,
        }),
    ))
}

/// Log in; returns a bearer token.
///
/// Failures are throttled per (account, IP), per account and per IP (429 with
/// `Retry-After`). Login is not replayable through `Idempotency-Key` since its
/// answer is a secret; retrying it simply opens another session.
#[utoipa::path(post, path = "/v1/auth/login", operation_id = "login", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "player_blocked", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too_many_attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<Json<LoginResponse>> {
    let (_, token, expires_at) = sign_in(&state, peer, &headers, body).await?;
    Ok(Json(LoginResponse { token, expires_at }))
}

/// A browser session for the web clients.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    pub player_id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub expires_at: DateTime<Utc>,
    /// Send as `X-CSRF-Token` on every change (POST, PUT, PATCH, DELETE);
    /// also in the readable `croupier_csrf` cookie.
    pub csrf_token: String,
}

/// Log in from a browser: the session goes into an `HttpOnly; Secure;
/// SameSite=Strict` cookie (`croupier_session`) that scripts cannot read,
/// never into the body. Changes authenticated by it need `X-CSRF-Token`.
/// Throttled like login.
#[utoipa::path(post, path = "/v1/auth/session", operation_id = "open_session", tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, body = SessionResponse, headers(("Set-Cookie" = String, description = "croupier_session (HttpOnly) and croupier_csrf"))),
        (status = 401, description = "invalid_credentials", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "player_blocked", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too_many_attempts", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn open_session(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Credentials>,
) -> ApiResult<impl IntoResponse> {
    let (player, token, expires_at) = sign_in(&state, peer, &headers, body).await?;
    let max_age = (expires_at - state.clock.now()).num_seconds().max(0);
    let mut resp = Json(SessionResponse {
        player_id: player.id.to_string(),
        username: player.username,
        roles: player.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        expires_at,
        csrf_token: crate::cookie::csrf_token(&token),
    })
    .into_response();
    for cookie in crate::cookie::open(&token, max_age) {
        resp.headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    Ok(resp)
}

/// Checks credentials under the login quotas and opens a session: the
/// player, the new token, and when it expires.
async fn sign_in(
    state: &AppState,
    peer: Option<std::net::SocketAddr>,
    headers: &HeaderMap,
    body: Credentials,
) -> ApiResult<(Player, String, DateTime<Utc>)> {
    let cfg = &state.config.auth;
    let ip = client_ip(state.config.http.trust_forwarded_for, headers, peer);
    let keys = login_quotas(cfg, &body.username, &ip);
    for (key, quota) in &keys {
        if let RateDecision::Limited { retry_after } = state.limiter.peek(key, *quota).await {
            return Err(too_many(retry_after));
        }
    }
    let creds = state.store.player_by_username(&body.username).await?;
    let stored = creds.as_ref().map(|c| c.password_hash.clone());
    if !auth::verify_password(cfg.argon2, body.password, stored).await {
        for (key, quota) in &keys {
            state.limiter.hit(key, *quota).await;
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid username or password",
        ));
    }
    let creds = creds.expect("verified credentials exist");
    // Only after the password: a wrong one must not reveal the block.
    if creds.blocked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "player_blocked",
            "This account is blocked",
        ));
    }
    let token = auth::new_token();
    let now = state.clock.now();
    let expires_at = now + cfg.session_absolute();
    state
        .store
        .create_session(NewSession {
            token_hash: auth::hash_token(&token),
            player_id: creds.player.id,
            created_at: now,
            expires_at,
        })
        .await?;
    Ok((creds.player, token, expires_at))
}

/// Failed logins count per (account, IP), per account and per IP.
fn login_quotas(cfg: &crate::config::AuthConfig, username: &str, ip: &str) -> [(String, Quota); 3] {
    let window = Duration::from_secs(cfg.login_window_secs);
    // Bounded so a huge username cannot bloat the limiter's keys.
    let user: String = username.to_lowercase().chars().take(64).collect();
    [
        (
            format!("login:pair:{user}:{ip}"),
            Quota::new(cfg.login_failures_per_account_ip, window),
        ),
        (
            format!("login:acct:{user}"),
            Quota::new(cfg.login_failures_per_account, window),
        ),
        (
            format!("login:ip:{ip}"),
            Quota::new(cfg.login_failures_per_ip, window),
        ),
    ]
}

fn too_many(retry_after: Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "Too many failed login attempts; try again later",
    )
    .retry_after(retry_after.as_secs_f64().ceil() as u64)
}

/// Revoke the session of this token.
#[utoipa::path(post, path = "/v1/auth/logout", operation_id = "logout", tag = "auth",
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn logout(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
) -> ApiResult<axum::response::Response> {
    state.store.revoke_session(me.token_hash).await?;
    auth::forget_revoked(&state, &[me.token_hash]).await;
    Ok(signed_out())
}

/// 204, ending a browser session's cookies too (harmless for bearer clients).
fn signed_out() -> axum::response::Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    for cookie in crate::cookie::close() {
        resp.headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    resp
}

/// Revoke every session of the caller, this one included.
#[utoipa::path(post, path = "/v1/auth/logout-all", operation_id = "logout_all", tag = "auth",
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn logout_all(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
) -> ApiResult<axum::response::Response> {
    let mut revoked = state
        .store
        .revoke_player_sessions(me.player.id, None)
        .await?;
    if !revoked.contains(&me.token_hash) {
        revoked.push(me.token_hash);
    }
    auth::forget_revoked(&state, &revoked).await;
    Ok(signed_out())
}

/// Change the password; every other session of the caller is revoked.
/// Wrong current passwords are throttled like failed logins of the account.
#[utoipa::path(post, path = "/v1/auth/password", operation_id = "change_password", tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 204),
        (status = 422, description = "wrong_password, invalid_password, common_password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too_many_attempts: too many wrong current passwords (`auth.login_failures_per_account_ip` per `auth.login_window_secs`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(me): Extension<Authed>,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let cfg = state.config.auth.argon2;
    // A stolen token must not become an unthrottled password oracle: wrong
    // current passwords get the quota of failed logins from one address.
    let key = format!("password:acct:{}", me.player.id);
    let quota = Quota::new(
        state.config.auth.login_failures_per_account_ip,
        Duration::from_secs(state.config.auth.login_window_secs),
    );
    if let RateDecision::Limited { retry_after } = state.limiter.peek(&key, quota).await {
        return Err(too_many(retry_after));
    }
    let creds = state
        .store
        .player(me.player.id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if !auth::verify_password(cfg, body.current_password, Some(creds.password_hash)).await {
        state.limiter.hit(&key, quota).await;
        return Err(ApiError::invalid(
            "current_password",
            "wrong_password",
            "the current password is not correct",
        ));
    }
    auth::validate_password("new_password", &body.new_password)?;
    let hash = auth::hash_password(cfg, body.new_password).await?;
    state.store.set_password_hash(me.player.id, hash).await?;
    let revoked = state
        .store
        .revoke_player_sessions(me.player.id, Some(me.token_hash))
        .await?;
    auth::forget_revoked(&state, &revoked).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The authenticated player.
#[utoipa::path(get, path = "/v1/me", operation_id = "get_me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(Extension(me): Extension<Authed>) -> Json<Me> {
    Json(Me {
        player_id: me.player.id.to_string(),
        username: me.player.username,
        roles: me
            .player
            .roles
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
    })
}
