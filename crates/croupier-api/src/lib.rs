//! Croupier's HTTP API: the axum router, handlers, middleware and OpenAPI
//! document. Handlers talk to the ports in `croupier-core`; no SQL here.

pub mod auth;
pub mod catalog;
pub mod config;
pub mod cookie;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod play;
pub mod ratelimit;
pub mod rbac;
pub mod recommendations;
pub mod routes;
pub mod shed;
pub mod state;
pub mod trace_context;
pub mod ws;

pub use config::ApiConfig;
pub use state::AppState;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.http.body_limit_bytes;

    // Unauthenticated, but mutating: Idempotency-Key applies (anonymous scope).
    let public = Router::new()
        .route("/v1/auth/register", post(routes::auth::register))
        .route_layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .route("/v1/auth/login", post(routes::auth::login))
        .route("/v1/auth/session", post(routes::auth::open_session))
        .route("/v1/games", get(routes::games::list))
        .route("/v1/currencies", get(routes::wallets::currencies))
        .route("/v1/games/{game}/stats", get(routes::stats::game))
        .route("/v1/fairness/verify", post(routes::fairness::verify))
        // Authenticates itself: the token may come in a subprotocol too.
        .route("/v1/ws", get(ws::connect))
        // Before idempotency: a throttled request is not recorded.
        .route_layer(from_fn_with_state(state.clone(), ratelimit::rate_limit));

    // Bets record their Idempotency-Key inside the bet's own transaction.
    let bets = Router::new().route("/v1/games/{game}/bets", post(routes::bets::place_bet));

    // Logout revokes the very token a replay would present, so here the key is
    // checked *before* authentication, scoped by the token's hash: a replay
    // gets the stored 204. (Login is the one mutating route without keys: its
    // answer is a secret we would have to store; a retried login just opens
    // another session.)
    let session = Router::new()
        .route("/v1/auth/logout", post(routes::auth::logout))
        .route("/v1/auth/logout-all", post(routes::auth::logout_all))
        .route_layer(from_fn_with_state(state.clone(), ratelimit::rate_limit))
        .route_layer(from_fn_with_state(state.clone(), auth::require_auth))
        .route_layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        // Without a well-formed session token there is nothing to replay.
        .route_layer(from_fn(auth::require_credentials));

    let authed = Router::new()
        .route("/v1/auth/password", post(routes::auth::change_password))
        .route("/v1/me", get(routes::auth::me))
        .route("/v1/me/stats", get(routes::stats::me))
        .route("/v1/me/missions", get(routes::missions::me))
        .route("/v1/me/recommendations", get(routes::recommendations::me))
        .route("/v1/admin/missions", get(routes::missions::list))
        .route(
            "/v1/admin/missions/{id}",
            axum::routing::put(routes::missions::put).delete(routes::missions::delete),
        )
        .route("/v1/wallets", get(routes::wallets::list))
        .route(
            "/v1/wallets/{currency}/claims",
            post(routes::wallets::claim),
        )
        .route(
            "/v1/wallets/{currency}/transactions",
            get(routes::wallets::transactions),
        )
        .route(
            "/v1/admin/players/{player_id}/adjustments",
            post(routes::admin::adjust),
        )
        .route(
            "/v1/admin/players/{player_id}/block",
            axum::routing::put(routes::admin::block).delete(routes::admin::unblock),
        )
        .route("/v1/admin/ledger/audit", get(routes::admin::audit))
        .route("/v1/admin/players", get(routes::console::players))
        .route(
            "/v1/admin/players/{player_id}",
            get(routes::console::player),
        )
        .route("/v1/admin/audit", get(routes::console::audit_log))
        .route("/v1/admin/overview", get(routes::console::overview))
        .route("/v1/admin/dead-letters", get(routes::dead_letters::list))
        .route(
            "/v1/admin/dead-letters/{id}/redrive",
            post(routes::dead_letters::redrive),
        )
        .route(
            "/v1/admin/games/{game}",
            axum::routing::patch(routes::games::patch),
        )
        .route("/v1/fairness/seeds", get(routes::fairness::seeds))
        .route("/v1/fairness/seeds/rotate", post(routes::fairness::rotate))
        .route("/v1/bets", get(routes::bets::list))
        .route("/v1/bets/recent", get(routes::bets::recent))
        .route("/v1/bets/{bet_id}", get(routes::bets::get))
        .route("/v1/games/mines/rounds", post(routes::mines::open))
        .route("/v1/games/mines/rounds/{round_id}", get(routes::mines::get))
        .route(
            "/v1/games/mines/rounds/{round_id}/reveal",
            post(routes::mines::reveal),
        )
        .route(
            "/v1/games/mines/rounds/{round_id}/cashout",
            post(routes::mines::cash_out),
        )
        .route_layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .merge(bets)
        // Rate limits key by the player, so they run after authentication
        // (see the `ratelimit` module).
        .route_layer(from_fn_with_state(state.clone(), ratelimit::rate_limit))
        // Before rate limits and idempotency: a caller without the role gets
        // 403 whatever else is wrong with the request.
        .route_layer(from_fn(rbac::enforce))
        // Added last, so it runs first: authenticate, check the role, rate
        // limit, then idempotency.
        .route_layer(from_fn_with_state(state.clone(), auth::require_auth))
        .merge(session);

    let ops = Router::new()
        .route("/livez", get(routes::health::livez))
        .route("/readyz", get(routes::health::readyz))
        .route("/openapi.json", get(routes::health::openapi));

    // Load shedding and the read deadline wrap the API routes only: the ops
    // routes must answer precisely when the instance is busy. Inside the
    // layers below, so a shed request is still traced, counted and given a
    // request id.
    let deadline = shed::Deadline::from_millis(state.config.http.request_timeout_ms);
    let api = Router::new()
        .merge(public)
        .merge(authed)
        .layer(from_fn_with_state(deadline, shed::deadline))
        .layer(from_fn_with_state(state.clone(), shed::shed));

    let fallback = if state.config.web.enabled {
        Router::new().fallback(web_client)
    } else {
        Router::new().fallback(not_found)
    };
    Router::new()
        .merge(api)
        .merge(ops)
        .merge(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn(trace_context::propagate))
        .layer(from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::internal().into_response()
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The operations routes alone (`/livez`, `/readyz`), for an instance
/// running only the worker and relay roles.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/livez", get(routes::health::livez))
        .route("/readyz", get(routes::health::readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn(metrics::track))
        .with_state(state)
}

/// `/metrics` alone, for the listener of its own (`metrics_listen`): the
/// totals it exposes (wagered, paid out) are not for the public API port.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(routes::health::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The lobby and the console (`croupier-web`) for what no API route took.
async fn web_client(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    croupier_web::serve(&method, uri.path(), &headers)
        .unwrap_or_else(|| not_found_problem().into_response())
}

async fn not_found() -> ApiError {
    not_found_problem()
}

fn not_found_problem() -> ApiError {
    ApiError::not_found("route_not_found", "No such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed on this route",
    )
}
