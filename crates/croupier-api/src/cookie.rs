//! Browser sessions: the same session as a bearer token, carried in an
//! `HttpOnly; Secure; SameSite=Strict` cookie the page's scripts cannot
//! read, so a script injected into the page cannot steal it.
//!
//! Cross-site request forgery, which cookies invite, is stopped twice:
//! `SameSite=Strict` keeps the browser from sending the cookie on requests
//! another site starts, and every unsafe request authenticated by the cookie
//! must carry `X-CSRF-Token` with the session's CSRF token: a value derived
//! from the secret session token (so the server stores nothing more), given
//! to the page in the session response and in a readable `croupier_csrf`
//! cookie. Another site can neither read it nor guess it.

use crate::error::ApiError;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "croupier_session";
pub const CSRF_COOKIE: &str = "croupier_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Where a request's session token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    Bearer,
    Cookie,
}

/// The CSRF token of a session: 128 bits of SHA-256 over the secret token.
pub fn csrf_token(session_token: &str) -> String {
    let digest = Sha256::digest(format!("croupier-csrf:{session_token}").as_bytes());
    hex::encode(&digest[..16])
}

/// The session token in the `croupier_session` cookie, if any.
pub fn session_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// Refuses an unsafe request authenticated by the cookie without the
/// session's CSRF token (403 `csrf_token_invalid`).
pub fn check_csrf(
    method: &Method,
    headers: &HeaderMap,
    session_token: &str,
) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let expected = csrf_token(session_token);
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    // Both are hex of fixed length: compare without an early exit anyway.
    let ok = sent.is_some_and(|s| {
        s.len() == expected.len()
            && s.bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_token_invalid",
            "A cookie-authenticated change needs the session's X-CSRF-Token header",
        )
        .field("X-CSRF-Token"))
    }
}

/// The two `Set-Cookie` values that open a browser session for `max_age_secs`.
pub fn open(session_token: &str, max_age_secs: i64) -> [HeaderValue; 2] {
    let attrs = format!("Path=/; Secure; SameSite=Strict; Max-Age={max_age_secs}");
    [
        format!("{SESSION_COOKIE}={session_token}; HttpOnly; {attrs}"),
        format!("{CSRF_COOKIE}={}; {attrs}", csrf_token(session_token)),
    ]
    .map(|v| HeaderValue::from_str(&v).expect("cookie values are ASCII"))
}

/// The two `Set-Cookie` values that end it.
pub fn close() -> [HeaderValue; 2] {
    let attrs = "Path=/; Secure; SameSite=Strict; Max-Age=0";
    [
        format!("{SESSION_COOKIE}=; HttpOnly; {attrs}"),
        format!("{CSRF_COOKIE}=; {attrs}"),
    ]
    .map(|v| HeaderValue::from_str(&v).expect("cookie values are ASCII"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_csrf_guards_only_changes() {
        let token = "ab".repeat(32);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("theme=dark; {SESSION_COOKIE}={token}; other=1")
                .parse()
                .unwrap(),
        );
        assert_eq!(session_from_cookie(&h).as_deref(), Some(token.as_str()));
        assert!(check_csrf(&Method::GET, &h, &token).is_ok());
        let refused = check_csrf(&Method::POST, &h, &token).unwrap_err();
        assert_eq!(refused.problem.code, "csrf_token_invalid");
        h.insert(CSRF_HEADER, csrf_token(&"cd".repeat(32)).parse().unwrap());
        assert!(
            check_csrf(&Method::POST, &h, &token).is_err(),
            "another session's token"
        );
        h.insert(CSRF_HEADER, csrf_token(&token).parse().unwrap());
        assert!(check_csrf(&Method::DELETE, &h, &token).is_ok());
    }

    #[test]
    fn the_session_cookie_is_http_only_secure_and_strict() {
        let [session, csrf] = open("t0k3n", 60);
        let session = session.to_str().unwrap();
        for attr in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(session.contains(attr), "{session}");
        }
        assert!(
            !csrf.to_str().unwrap().contains("HttpOnly"),
            "the page reads it"
        );
        assert!(close()[0].to_str().unwrap().contains("Max-Age=0"));
    }
}
