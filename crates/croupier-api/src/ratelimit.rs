//! Per-route request quotas (`[http.rate_limits]`), per player or per client
//! IP, with `RateLimit-*` headers on every response of a limited route.
//!
//! Routes fall into classes by their matched path ([`RouteClass::of`]); each
//! class has one rule. The quota is kept by the shared rate limiter
//! (`AppState::limiter`, a `croupier_core::ratelimit::RateLimiter`): cluster-wide with Redis, per instance otherwise.
//!
//! Who is counted: on authenticated routes the layer runs *after*
//! `require_auth` (see [`crate::router`]) and keys by the player it put in the
//! request extensions, so a player's quota is one however many sessions they
//! open, and a request with a bad token is answered 401 without spending
//! anybody's quota. (Keying by the bearer token's hash before authentication
//! would let a player multiply their quota by logging in again.) Anonymous
//! routes and the `auth` class key by the client IP, which honours
//! `http.trust_forwarded_for` like login throttling does.
//!
//! Headers: the `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
//! (seconds until the quota is whole again) of
//! draft-ietf-httpapi-ratelimit-headers up to -06, which clients and proxies
//! widely read, and the current draft's (-08 and later) `RateLimit-Policy:
//! "<class>";q=<limit>;w=<period>` and `RateLimit: "<class>";r=<remaining>;t=<reset>`.

use crate::auth::Authed;
use crate::config::RateRule;
use crate::error::ApiError;
use crate::extract::{client_ip, peer_addr};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use croupier_core::ratelimit::{Quota, RateDecision, RateStatus};

/// The route classes of `[http.rate_limits]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteClass {
    Auth,
    Bets,
    Admin,
    Default,
}

impl RouteClass {
    /// The class of a request by its method and matched route template.
    pub fn of(method: &Method, route: &str) -> Self {
        match route {
            "/v1/auth/register" | "/v1/auth/login" => Self::Auth,
            "/v1/games/{game}/bets" if method == Method::POST => Self::Bets,
            // Open, reveal and cash out; reading a round is `default`.
            r if r.starts_with("/v1/games/mines/rounds") && method == Method::POST => Self::Bets,
            r if r.starts_with("/v1/admin/") => Self::Admin,
            _ => Self::Default,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Bets => "bets",
            Self::Admin => "admin",
            Self::Default => "default",
        }
    }

    fn rule(self, limits: &crate::config::RateLimitsConfig) -> RateRule {
        match self {
            Self::Auth => limits.auth,
            Self::Bets => limits.bets,
            Self::Admin => limits.admin,
            Self::Default => limits.default,
        }
    }
}

/// The middleware; on authenticated routes it must run after `require_auth`.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let class = RouteClass::of(req.method(), &route);
    let rule = class.rule(&state.config.http.rate_limits);
    let Some(quota) = rule.quota() else {
        return next.run(req).await;
    };
    let (scope, subject) = match req.extensions().get::<Authed>() {
        Some(authed) if class != RouteClass::Auth => ("player", authed.player.id.to_string()),
        _ => (
            "ip",
            client_ip(
                state.config.http.trust_forwarded_for,
                req.headers(),
                peer_addr(req.extensions()),
            ),
        ),
    };
    let key = format!("http:{}:{scope}:{subject}", class.name());
    let status = state.limiter.hit_status(&key, quota).await;
    let mut resp = match status.decision {
        RateDecision::Allowed => next.run(req).await,
        RateDecision::Limited { retry_after } => {
            metrics::counter!("croupier_http_throttled_total", "route" => route, "scope" => scope)
                .increment(1);
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            )
            .detail(format!(
                "over the {} quota of {} requests per {} s per {scope}",
                class.name(),
                quota.limit,
                rule.period_secs
            ))
            .retry_after(ceil_secs(retry_after))
            .into_response()
        }
    };
    set_headers(resp.headers_mut(), class, rule, quota, status);
    resp
}

fn ceil_secs(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn set_headers(h: &mut HeaderMap, class: RouteClass, rule: RateRule, quota: Quota, s: RateStatus) {
    let reset = ceil_secs(s.reset);
    let name = class.name();
    let mut set = |header: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(header), v);
        }
    };
    set("ratelimit-limit", quota.limit.to_string());
    set("ratelimit-remaining", s.remaining.to_string());
    set("ratelimit-reset", reset.to_string());
    set(
        "ratelimit-policy",
        format!("\"{name}\";q={};w={}", quota.limit, rule.period_secs),
    );
    set(
        "ratelimit",
        format!("\"{name}\";r={};t={reset}", s.remaining),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn routes_fall_into_their_classes() {
        let post = Method::POST;
        let get = Method::GET;
        for (m, route, class) in [
            (&post, "/v1/auth/register", RouteClass::Auth),
            (&post, "/v1/auth/login", RouteClass::Auth),
            (&post, "/v1/auth/logout", RouteClass::Default),
            (&post, "/v1/games/{game}/bets", RouteClass::Bets),
            (&post, "/v1/games/mines/rounds", RouteClass::Bets),
            (
                &post,
                "/v1/games/mines/rounds/{round_id}/reveal",
                RouteClass::Bets,
            ),
            (
                &post,
                "/v1/games/mines/rounds/{round_id}/cashout",
                RouteClass::Bets,
            ),
            (
                &get,
                "/v1/games/mines/rounds/{round_id}",
                RouteClass::Default,
            ),
            (&get, "/v1/games", RouteClass::Default),
            (&get, "/v1/admin/ledger/audit", RouteClass::Admin),
            (
                &post,
                "/v1/admin/players/{player_id}/adjustments",
                RouteClass::Admin,
            ),
            (&get, "/v1/me", RouteClass::Default),
            (&get, "unmatched", RouteClass::Default),
        ] {
            assert_eq!(RouteClass::of(m, route), class, "{m} {route}");
        }
    }

    #[test]
    fn headers_carry_the_quota_left_in_whole_seconds() {
        let rule = RateRule::new(10, 60);
        let quota = rule.quota().unwrap();
        let mut h = HeaderMap::new();
        let status = RateStatus {
            decision: RateDecision::Allowed,
            remaining: 7,
            reset: Duration::from_millis(18_001),
        };
        set_headers(&mut h, RouteClass::Bets, rule, quota, status);
        let get = |n: &str| h.get(n).unwrap().to_str().unwrap().to_owned();
        assert_eq!(get("ratelimit-limit"), "10");
        assert_eq!(get("ratelimit-remaining"), "7");
        assert_eq!(get("ratelimit-reset"), "19");
        assert_eq!(get("ratelimit-policy"), "\"bets\";q=10;w=60");
        assert_eq!(get("ratelimit"), "\"bets\";r=7;t=19");
    }

    #[test]
    fn a_zero_limit_disables_a_rule() {
        assert!(RateRule::new(0, 60).quota().is_none());
        assert_eq!(
            RateRule::new(3, 60).quota(),
            Some(Quota::new(3, Duration::from_secs(60)))
        );
    }
}
