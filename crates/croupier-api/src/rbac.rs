//! Who may call what: the one table of every API route and the least access
//! it needs. The router enforces it ([`enforce`], right after
//! authentication and before rate limits and idempotency, so a player on an
//! admin route gets 403 whatever else is wrong with the request), the OpenAPI
//! document derives its security, 401 and 403 answers from it, and the HTTP
//! tests walk every route × every role against it.
//!
//! Roles nest: `admin` can do everything `support` can, and every signed-in
//! account (any role) can do what a player can. Support reads the operator
//! views; only admins change anything there.

use crate::auth::Authed;
use crate::error::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use croupier_core::Role;

/// The least a caller needs for a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// No authentication.
    Anyone,
    /// Any signed-in account.
    Player,
    /// Role `support` or `admin`.
    Support,
    /// Role `admin`.
    Admin,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Anyone => "anyone",
            Access::Player => "player",
            Access::Support => "support",
            Access::Admin => "admin",
        }
    }

    /// Whether an account with `roles` has this access.
    pub fn granted_to(self, roles: &[Role]) -> bool {
        match self {
            Access::Anyone | Access::Player => true,
            Access::Support => roles
                .iter()
                .any(|r| matches!(r, Role::Support | Role::Admin)),
            Access::Admin => roles.contains(&Role::Admin),
        }
    }
}

/// Every API route (the ops routes `/livez`, `/readyz`, `/openapi.json` are
/// public and outside it): method, path template as routed, access.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("POST", "/v1/auth/register", Access::Anyone),
    ("POST", "/v1/auth/login", Access::Anyone),
    ("POST", "/v1/auth/session", Access::Anyone),
    ("POST", "/v1/auth/logout", Access::Player),
    ("POST", "/v1/auth/logout-all", Access::Player),
    ("POST", "/v1/auth/password", Access::Player),
    ("GET", "/v1/me", Access::Player),
    ("GET", "/v1/me/stats", Access::Player),
    ("GET", "/v1/me/missions", Access::Player),
    ("GET", "/v1/me/recommendations", Access::Player),
    ("GET", "/v1/wallets", Access::Player),
    ("POST", "/v1/wallets/{currency}/claims", Access::Player),
    ("GET", "/v1/wallets/{currency}/transactions", Access::Player),
    ("GET", "/v1/games", Access::Anyone),
    ("GET", "/v1/currencies", Access::Anyone),
    ("GET", "/v1/games/{game}/stats", Access::Anyone),
    ("POST", "/v1/games/{game}/bets", Access::Player),
    ("POST", "/v1/games/mines/rounds", Access::Player),
    ("GET", "/v1/games/mines/rounds/{round_id}", Access::Player),
    (
        "POST",
        "/v1/games/mines/rounds/{round_id}/reveal",
        Access::Player,
    ),
    (
        "POST",
        "/v1/games/mines/rounds/{round_id}/cashout",
        Access::Player,
    ),
    ("GET", "/v1/bets", Access::Player),
    ("GET", "/v1/bets/recent", Access::Player),
    // Support and admins may read any player's bet (the handler checks).
    ("GET", "/v1/bets/{bet_id}", Access::Player),
    ("GET", "/v1/fairness/seeds", Access::Player),
    ("POST", "/v1/fairness/seeds/rotate", Access::Player),
    ("POST", "/v1/fairness/verify", Access::Anyone),
    // Authenticates itself (the token may come in a subprotocol).
    ("GET", "/v1/ws", Access::Player),
    ("GET", "/v1/admin/ledger/audit", Access::Support),
    ("GET", "/v1/admin/players", Access::Support),
    ("GET", "/v1/admin/players/{player_id}", Access::Support),
    ("GET", "/v1/admin/audit", Access::Support),
    ("GET", "/v1/admin/overview", Access::Support),
    ("GET", "/v1/admin/dead-letters", Access::Support),
    ("POST", "/v1/admin/dead-letters/{id}/redrive", Access::Admin),
    ("GET", "/v1/admin/missions", Access::Support),
    ("PUT", "/v1/admin/missions/{id}", Access::Admin),
    ("DELETE", "/v1/admin/missions/{id}", Access::Admin),
    (
        "POST",
        "/v1/admin/players/{player_id}/adjustments",
        Access::Admin,
    ),
    ("PUT", "/v1/admin/players/{player_id}/block", Access::Admin),
    (
        "DELETE",
        "/v1/admin/players/{player_id}/block",
        Access::Admin,
    ),
    ("PATCH", "/v1/admin/games/{game}", Access::Admin),
];

/// The access a route needs. A route missing from [`ROUTES`] needs `admin`:
/// forgetting a row fails closed (and the route × role test fails).
pub fn access(method: &Method, path: &str) -> Access {
    ROUTES
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && *p == path)
        .map_or(Access::Admin, |(_, _, a)| *a)
}

/// Middleware on the authenticated routes, after [`crate::auth::require_auth`].
pub async fn enforce(req: Request, next: Next) -> Result<Response, ApiError> {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let needed = access(req.method(), &path);
    let roles = req
        .extensions()
        .get::<Authed>()
        .map(|a| a.player.roles.as_slice())
        .ok_or_else(ApiError::unauthorized)?;
    if !needed.granted_to(roles) {
        return Err(ApiError::forbidden().detail(format!("requires role {}", needed.as_str())));
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest_admin_over_support_over_player() {
        let admin = [Role::Admin];
        let support = [Role::Support];
        let player = [Role::Player];
        assert!(Access::Admin.granted_to(&admin));
        assert!(!Access::Admin.granted_to(&support));
        assert!(Access::Support.granted_to(&admin));
        assert!(Access::Support.granted_to(&support));
        assert!(!Access::Support.granted_to(&player));
        assert!(Access::Player.granted_to(&support));
        assert!(Access::Player.granted_to(&[]));
    }

    /// docs/api.md's table says the same as [`ROUTES`], row for row.
    #[test]
    fn the_documented_matrix_is_this_table() {
        let doc = include_str!("../../../docs/api.md");
        let section = doc
            .split("## Who may call what")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/api.md has the section");
        let documented: Vec<(String, String)> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| {
                let (route, rest) = l.split_once("` | ")?;
                let access = rest.split([' ', '|']).next()?.to_owned();
                Some((route.to_owned(), access))
            })
            .collect();
        let ours: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p, a)| (format!("{m} {p}"), a.as_str().to_owned()))
            .collect();
        assert_eq!(documented, ours);
    }

    #[test]
    fn each_route_is_listed_once_and_unknown_routes_fail_closed() {
        let mut seen = std::collections::HashSet::new();
        for (m, p, _) in ROUTES {
            assert!(seen.insert((m, p)), "{m} {p} listed twice");
        }
        assert_eq!(access(&Method::GET, "/v1/admin/nosuch"), Access::Admin);
        assert_eq!(access(&Method::GET, "/v1/games"), Access::Anyone);
    }
}
