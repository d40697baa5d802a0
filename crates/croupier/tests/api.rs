//! HTTP contract tests: the real app on port 0, driven over HTTP.

mod common;
#[path = "api/console.rs"]
mod console;
#[path = "api/contract.rs"]
mod contract;
#[path = "api/web.rs"]
mod web;

use chrono::{DateTime, Utc};
use common::*;
use croupier_api::config::{CurrencyConfig, RateRule};
use croupier_core::{CurrencyCode, Role};
use futures::future::join_all;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

const CLAIM: &str = "/v1/wallets/CHIP/claims";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// Asserts a problem naming the offending `field`.
#[track_caller]
fn assert_field(r: &Resp, status: u16, code: &str, field: &str) {
    assert_problem(r, status, code);
    assert_eq!(r.body["field"], field, "{:?}", r.body);
}

fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn retry_after(r: &Resp) -> u64 {
    header(r, "retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {:?}", r))
        .parse()
        .expect("Retry-After in whole seconds")
}

fn replayed(r: &Resp) -> bool {
    header(r, "idempotent-replayed") == Some("true")
}

fn timestamp(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 timestamp: {v:?}"))
        .with_timezone(&Utc)
}

async fn login_from(app: &TestApp, ip: &str, username: &str, password: &str) -> Resp {
    app.send(
        app.request(Method::POST, "/v1/auth/login")
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": username, "password": password })),
    )
    .await
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    ct: Option<&str>,
    body: Vec<u8>,
) -> Resp {
    let mut req = app.request(Method::POST, path).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    app.send(req).await
}

async fn claim(app: &TestApp, token: &str, key: Option<&str>) -> Resp {
    app.call(Method::POST, CLAIM, Some(token), key, None).await
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.get("/v1/me", token).await.status
}

fn adjustments_path(player_id: &str) -> String {
    format!("/v1/admin/players/{player_id}/adjustments")
}

// ---------------------------------------------------------------- registration

#[tokio::test]
async fn register_login_me_round_trip() {
    let app = spawn().await;
    let (id, token) = app.player("alice").await;
    let me = app.get("/v1/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.body,
        json!({ "player_id": id, "username": "alice", "roles": ["player"] })
    );
}

#[tokio::test]
async fn register_returns_201_with_player_id_and_username() {
    let app = spawn().await;
    let r = app.register("Alice.B-c_9").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert!(r.content_type().starts_with("application/json"));
    let obj = r.body.as_object().expect("object");
    assert_eq!(obj.len(), 2, "{:?}", r.body);
    assert_eq!(r.body["username"], "Alice.B-c_9");
    let id = r.body["player_id"].as_str().expect("player_id string");
    assert!(uuid_like(id), "player_id {id}");
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[tokio::test]
async fn register_accepts_usernames_of_3_to_32_allowed_characters() {
    let app = spawn().await;
    for name in ["abc", &"x".repeat(32), "a.b-c_D9"] {
        let r = app.register(name).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.body);
    }
}

#[tokio::test]
async fn register_rejects_invalid_usernames() {
    let app = spawn().await;
    for name in [
        "",
        "ab",
        &"x".repeat(33),
        "bad name",
        "émile",
        "semi;colon",
        "a/b/c",
    ] {
        let r = app.register(name).await;
        assert_field(&r, 422, "invalid_username", "username");
    }
}

#[tokio::test]
async fn register_usernames_are_unique_case_insensitively() {
    let app = spawn().await;
    assert_eq!(app.register("Alice").await.status, StatusCode::CREATED);
    for name in ["Alice", "alice", "ALICE"] {
        let r = app.register(name).await;
        assert_problem(&r, 409, "username_taken");
    }
}

#[tokio::test]
async fn register_rejects_short_long_and_common_passwords() {
    let app = spawn().await;
    let cases = [
        ("seven77", "invalid_password"),
        ("ééééééé", "invalid_password"), // 7 characters, 14 bytes
        (&"x".repeat(129), "invalid_password"),
        ("password", "common_password"),
        ("PassWord123", "common_password"),
    ];
    for (pw, code) in cases {
        let r = app
            .post(
                "/v1/auth/register",
                None,
                json!({ "username": "alice", "password": pw }),
            )
            .await;
        assert_field(&r, 422, code, "password");
    }
    // None of those created the account.
    assert_eq!(app.register("alice").await.status, StatusCode::CREATED);
    // The boundaries are accepted.
    for (name, pw) in [("eight", "8chars!x".to_owned()), ("long", "y".repeat(128))] {
        let r = app
            .post(
                "/v1/auth/register",
                None,
                json!({ "username": name, "password": pw }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.body);
        assert_eq!(app.login(name, &pw).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id() {
    let app = spawn().await;
    app.player("alice").await;
    let creds = app
        .running
        .state
        .store
        .player_by_username("alice")
        .await
        .unwrap()
        .expect("player stored");
    assert!(
        creds.password_hash.starts_with("$argon2id$"),
        "{}",
        creds.password_hash
    );
    assert!(!creds.password_hash.contains(PASSWORD));
}

// ---------------------------------------------------------------- login

#[tokio::test]
async fn login_returns_a_256_bit_hex_token_and_its_expiry() {
    let app = spawn().await;
    app.register("alice").await;
    let before = Utc::now();
    let r = app.login("alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let token = r.body["token"].as_str().expect("token");
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let expires = timestamp(&r.body["expires_at"]);
    let absolute = chrono::Duration::seconds(app.config.auth.session_absolute_secs as i64);
    assert!(
        expires > before + absolute - chrono::Duration::seconds(60),
        "{expires}"
    );
    assert!(
        expires < Utc::now() + absolute + chrono::Duration::seconds(60),
        "{expires}"
    );
    // Each login is a new session with a new token.
    let again = app.login("alice", PASSWORD).await;
    assert_ne!(again.body["token"], r.body["token"]);
    // Usernames are matched case-insensitively.
    assert_eq!(app.login("ALICE", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn login_failure_is_identical_for_unknown_user_and_wrong_password() {
    let app = spawn().await;
    app.register("alice").await;
    let wrong = app.login("alice", "not the password").await;
    let unknown = app.login("nobody", PASSWORD).await;
    assert_problem(&wrong, 401, "invalid_credentials");
    assert_problem(&unknown, 401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.content_type(), unknown.content_type());
}

#[tokio::test]
async fn five_failures_lock_the_account_for_this_ip_but_not_other_accounts() {
    let app = spawn().await;
    app.register("alice").await;
    app.register("bob").await;
    for _ in 0..5 {
        let r = app.login("alice", "not the password").await;
        assert_problem(&r, 401, "invalid_credentials");
    }
    for (name, pw) in [
        ("alice", PASSWORD),
        ("ALICE", PASSWORD),
        ("alice", "still wrong"),
    ] {
        let r = app.login(name, pw).await;
        assert_problem(&r, 429, "too_many_attempts");
        let wait = retry_after(&r);
        // Short lockout: at most window / per-(account, IP) limit.
        assert!((1..=900 / 5).contains(&wait), "Retry-After {wait}");
    }
    // Another account from the same IP is unaffected.
    assert_eq!(app.login("bob", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn per_account_limit_spans_ips_and_its_lockout_is_short() {
    // The documented defaults, with client IPs taken from X-Forwarded-For.
    let app = spawn_with(|c| c.http.trust_forwarded_for = true).await;
    app.register("alice").await;
    app.register("bob").await;
    let cfg = &app.config.auth;
    let limit = cfg.login_failures_per_account;
    assert_eq!(limit, 20);
    for i in 0..limit {
        let r = login_from(&app, &format!("10.0.0.{i}"), "alice", "not the password").await;
        assert_problem(&r, 401, "invalid_credentials");
    }
    let r = login_from(&app, "10.0.1.1", "alice", PASSWORD).await;
    assert_problem(&r, 429, "too_many_attempts");
    let wait = retry_after(&r);
    assert!(
        (1..=cfg.login_window_secs / limit as u64).contains(&wait),
        "Retry-After {wait} exceeds window/limit"
    );
    // The limit is per account, not per IP.
    assert_eq!(
        login_from(&app, "10.0.1.1", "bob", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn account_lockout_lifts_after_retry_after() {
    let app = spawn_with(|c| {
        c.http.trust_forwarded_for = true;
        c.auth.login_window_secs = 8;
        c.auth.login_failures_per_account = 4;
    })
    .await;
    app.register("alice").await;
    for i in 0..4 {
        let r = login_from(&app, &format!("10.0.0.{i}"), "alice", "not the password").await;
        assert_problem(&r, 401, "invalid_credentials");
    }
    let r = login_from(&app, "10.0.0.9", "alice", PASSWORD).await;
    assert_problem(&r, 429, "too_many_attempts");
    let wait = retry_after(&r);
    assert!(
        (1..=2).contains(&wait),
        "Retry-After {wait} exceeds window/limit = 2 s"
    );
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)).await;
    let r = login_from(&app, "10.0.0.9", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_trusted() {
    // Default: X-Forwarded-For is client-controlled and must not dodge the limits.
    let app = spawn().await;
    app.register("alice").await;
    for i in 0..5 {
        let r = login_from(&app, &format!("10.9.9.{i}"), "alice", "not the password").await;
        assert_problem(&r, 401, "invalid_credentials");
    }
    let r = login_from(&app, "10.9.9.200", "alice", PASSWORD).await;
    assert_problem(&r, 429, "too_many_attempts");
}

#[tokio::test]
async fn per_ip_limit_spans_accounts() {
    let app = spawn_with(|c| c.auth.login_failures_per_ip = 3).await;
    app.register("carol").await;
    for name in ["nobody1", "nobody2", "nobody3"] {
        let r = app.login(name, "not the password").await;
        assert_problem(&r, 401, "invalid_credentials");
    }
    let r = app.login("carol", PASSWORD).await;
    assert_problem(&r, 429, "too_many_attempts");
    assert!(retry_after(&r) >= 1);
}

// ---------------------------------------------------------------- sessions

#[tokio::test]
async fn logout_revokes_only_that_session() {
    let app = spawn().await;
    let (_, t1) = app.player("alice").await;
    let t2 = app.login("alice", PASSWORD).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.post("/v1/auth/logout", Some(&t1), json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    assert_problem(&app.get("/v1/me", &t1).await, 401, "unauthorized");
    assert_eq!(me_status(&app, &t2).await, StatusCode::OK);
    // Logging out again with the dead token is just unauthorized.
    assert_problem(
        &app.post("/v1/auth/logout", Some(&t1), json!({})).await,
        401,
        "unauthorized",
    );
    assert_eq!(me_status(&app, &t2).await, StatusCode::OK);
}

#[tokio::test]
async fn logout_all_revokes_every_session() {
    let app = spawn().await;
    let (_, t1) = app.player("alice").await;
    let (_, other) = app.player("bob").await;
    let mut tokens = vec![t1.clone()];
    for _ in 0..2 {
        tokens.push(
            app.login("alice", PASSWORD).await.body["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for t in &tokens {
        assert_eq!(me_status(&app, t).await, StatusCode::OK);
    }
    let r = app
        .post("/v1/auth/logout-all", Some(&tokens[1]), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    for t in &tokens {
        assert_problem(&app.get("/v1/me", t).await, 401, "unauthorized");
    }
    // Other players keep their sessions, and alice can log in again.
    assert_eq!(me_status(&app, &other).await, StatusCode::OK);
    let fresh = app.login("alice", PASSWORD).await;
    assert_eq!(
        me_status(&app, fresh.body["token"].as_str().unwrap()).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_change_revokes_the_other_sessions_only() {
    let app = spawn().await;
    let (_, current) = app.player("alice").await;
    let other = app.login("alice", PASSWORD).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(
            "/v1/auth/password",
            Some(&current),
            json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(me_status(&app, &current).await, StatusCode::OK);
    assert_problem(&app.get("/v1/me", &other).await, 401, "unauthorized");
    assert_problem(
        &app.login("alice", PASSWORD).await,
        401,
        "invalid_credentials",
    );
    assert_eq!(
        app.login("alice", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_change_validates_current_and_new_password() {
    let app = spawn().await;
    let (_, current) = app.player("alice").await;
    let other = app.login("alice", PASSWORD).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = |cur: &str, new: &str| {
        app.post(
            "/v1/auth/password",
            Some(&current),
            json!({ "current_password": cur, "new_password": new }),
        )
    };
    assert_field(
        &change("wrong password!", NEW_PASSWORD).await,
        422,
        "wrong_password",
        "current_password",
    );
    assert_field(
        &change(PASSWORD, "short").await,
        422,
        "invalid_password",
        "new_password",
    );
    assert_field(
        &change(PASSWORD, "password123").await,
        422,
        "common_password",
        "new_password",
    );
    // Nothing changed: the old password works, no session was revoked.
    assert_eq!(me_status(&app, &other).await, StatusCode::OK);
    assert_eq!(app.login("alice", PASSWORD).await.status, StatusCode::OK);
    assert_problem(
        &app.login("alice", NEW_PASSWORD).await,
        401,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn every_protected_route_needs_a_live_bearer_token() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let routes = [
        (Method::POST, "/v1/auth/logout".to_owned()),
        (Method::POST, "/v1/auth/logout-all".to_owned()),
        (Method::POST, "/v1/auth/password".to_owned()),
        (Method::GET, "/v1/me".to_owned()),
        (Method::GET, "/v1/wallets".to_owned()),
        (Method::POST, CLAIM.to_owned()),
        (Method::GET, "/v1/wallets/CHIP/transactions".to_owned()),
        (
            Method::POST,
            adjustments_path("0190f1d5-1c4e-7000-8000-000000000000"),
        ),
        (Method::GET, "/v1/admin/ledger/audit".to_owned()),
    ];
    let unknown = "ab".repeat(32);
    let authorizations: Vec<Option<String>> = vec![
        None,
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some("Bearer not-a-token".into()),
        Some(format!("Bearer {token}x")),
        Some(format!("Bearer {}", &token[..63])),
        Some(format!("Token {token}")),
        Some(format!("Basic {token}")),
        Some(token.clone()),
        Some(format!("Bearer {unknown}")),
    ];
    for (method, path) in &routes {
        for auth in &authorizations {
            let mut req = app
                .request(method.clone(), path)
                .json(&json!({ "currency": "CHIP", "amount": 1, "reason": "x" }));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = app.send(req).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}: {:?}",
                r.body
            );
            assert_problem(&r, 401, "unauthorized");
        }
    }
    // The token itself is still fine, and nothing happened meanwhile.
    assert_eq!(me_status(&app, &token).await, StatusCode::OK);
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn session_expires_after_idle_time() {
    let app = spawn_with(|c| c.auth.session_idle_secs = 1).await;
    let (_, token) = app.player("alice").await;
    assert_eq!(me_status(&app, &token).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = app.get("/v1/me", &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert!(r.content_type().starts_with(PROBLEM_JSON));
    // Still dead afterwards; a new login works.
    assert_eq!(me_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    let fresh = app.login("alice", PASSWORD).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(me_status(&app, &fresh).await, StatusCode::OK);
}

#[tokio::test]
async fn activity_keeps_an_idle_limited_session_alive() {
    // Default touch interval (60 s) far above the idle limit (2 s).
    let app = spawn_with(|c| c.auth.session_idle_secs = 2).await;
    let (_, token) = app.player("alice").await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(3500) {
        assert_eq!(
            me_status(&app, &token).await,
            StatusCode::OK,
            "active session died after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(me_status(&app, &token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_expires_at_its_absolute_lifetime_despite_activity() {
    let app = spawn_with(|c| c.auth.session_absolute_secs = 2).await;
    app.register("alice").await;
    let login = app.login("alice", PASSWORD).await;
    let start = Instant::now();
    let token = login.body["token"].as_str().unwrap().to_owned();
    let expires = timestamp(&login.body["expires_at"]);
    let lifetime = expires - Utc::now();
    assert!(lifetime <= chrono::Duration::seconds(2), "{lifetime}");
    while start.elapsed() < Duration::from_millis(1500) {
        assert_eq!(me_status(&app, &token).await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(2300).saturating_sub(start.elapsed())).await;
    assert_eq!(me_status(&app, &token).await, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------- wallets

#[tokio::test]
async fn wallets_list_every_configured_currency_with_zero_by_default() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let r = app.get("/v1/wallets", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!([{ "currency": "CHIP", "balance": 0 }]));

    let app = spawn_with(|c| {
        c.currencies.push(CurrencyConfig {
            code: CurrencyCode::parse("GOLD").unwrap(),
            exponent: 0,
            faucet_amount: 5,
        })
    })
    .await;
    let (_, token) = app.player("alice").await;
    let r = app.get("/v1/wallets", &token).await;
    assert_eq!(
        r.body,
        json!([{ "currency": "CHIP", "balance": 0 }, { "currency": "GOLD", "balance": 0 }])
    );
    let c = app
        .call(
            Method::POST,
            "/v1/wallets/GOLD/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    assert_eq!(c.body["amount"], 5);
    let r = app.get("/v1/wallets", &token).await;
    assert_eq!(
        r.body,
        json!([{ "currency": "CHIP", "balance": 0 }, { "currency": "GOLD", "balance": 5 }])
    );
    // The currencies' claims are independent.
    assert_eq!(claim(&app, &token, None).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn claim_credits_the_bonus_once_per_period() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let before = Utc::now();
    let r = claim(&app, &token, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["amount"], 100_000);
    assert_eq!(r.body["balance"], 100_000);
    assert_eq!(r.body.as_object().unwrap().len(), 3, "{:?}", r.body);
    let next = timestamp(&r.body["next_claim_at"]);
    let hour = chrono::Duration::seconds(3600);
    assert!(
        next >= before + hour - chrono::Duration::seconds(1) && next <= Utc::now() + hour,
        "{next}"
    );

    let again = claim(&app, &token, None).await;
    assert_problem(&again, 429, "claim_not_ready");
    assert_eq!(timestamp(&again.body["next_claim_at"]), next);
    let wait = retry_after(&again);
    assert!((3590..=3600).contains(&wait), "Retry-After {wait}");
    assert_eq!(app.balance(&token, "CHIP").await, 100_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);
}

#[tokio::test]
async fn claim_in_an_unknown_currency_is_404() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    for cur in ["GOLD", "chip", "NOPE"] {
        let r = app
            .call(
                Method::POST,
                &format!("/v1/wallets/{cur}/claims"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_problem(&r, 404, "unknown_currency");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn claim_is_available_again_after_the_period() {
    let app = spawn_with(|c| c.faucet.period_secs = 1).await;
    let (_, token) = app.player("alice").await;
    let first = claim(&app, &token, None).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_problem(&claim(&app, &token, None).await, 429, "claim_not_ready");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = claim(&app, &token, None).await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    assert_eq!(second.body["balance"], 200_000);
    assert_eq!(app.balance(&token, "CHIP").await, 200_000);
}

#[tokio::test]
async fn transactions_list_the_documented_fields_newest_first() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let before = Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(claim(&app, &token, None).await.status, StatusCode::CREATED);
    let adj = app.adjust(&admin, &id, -2_500, None).await;
    assert_eq!(adj.status, StatusCode::CREATED, "{:?}", adj.body);

    let r = app.get("/v1/wallets/CHIP/transactions", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["next_cursor"].is_null(), "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        let keys: BTreeSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "id",
                "transaction_id",
                "kind",
                "amount",
                "balance_after",
                "created_at",
                "reference"
            ])
        );
        let at = timestamp(&item["created_at"]);
        assert!(at >= before && at <= Utc::now(), "{at}");
    }
    assert_eq!(items[0]["transaction_id"], adj.body["transaction_id"]);
    assert_eq!(items[0]["kind"], "admin_adjustment");
    assert_eq!(items[0]["amount"], -2_500);
    assert_eq!(items[0]["balance_after"], 97_500);
    assert_eq!(items[0]["reference"], "test adjustment");
    assert_eq!(items[1]["kind"], "faucet_claim");
    assert_eq!(items[1]["amount"], 100_000);
    assert_eq!(items[1]["balance_after"], 100_000);
    assert!(items[1]["id"].as_i64().unwrap() < items[0]["id"].as_i64().unwrap());
    assert!(
        items[1]["transaction_id"].as_i64().unwrap() < items[0]["transaction_id"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn transactions_paginate_with_limit_and_cursor() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let mut ids = Vec::new();
    for amount in 1..=5 {
        let r = app.adjust(&admin, &id, amount, None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        ids.push(r.body["transaction_id"].as_i64().unwrap());
    }
    ids.reverse();

    // Page by page with limit=2: 2, 2, 1.
    let p1 = app
        .get("/v1/wallets/CHIP/transactions?limit=2", &token)
        .await;
    let c1 = p1.body["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let p2 = app
        .get(
            &format!("/v1/wallets/CHIP/transactions?limit=2&cursor={c1}"),
            &token,
        )
        .await;
    let c2 = p2.body["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let p3 = app
        .get(
            &format!("/v1/wallets/CHIP/transactions?limit=2&cursor={c2}"),
            &token,
        )
        .await;
    assert!(p3.body["next_cursor"].is_null(), "{:?}", p3.body);
    let sizes: Vec<usize> = [&p1, &p2, &p3]
        .iter()
        .map(|p| p.body["items"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [2, 2, 1]);

    let all = app.all_transactions(&token, "CHIP", 2).await;
    let got_ids: Vec<i64> = all
        .iter()
        .map(|i| i["transaction_id"].as_i64().unwrap())
        .collect();
    assert_eq!(got_ids, ids, "newest first, each exactly once");
    let amounts: Vec<i64> = all.iter().map(|i| i["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, [5, 4, 3, 2, 1]);
    let after: Vec<i64> = all
        .iter()
        .map(|i| i["balance_after"].as_i64().unwrap())
        .collect();
    assert_eq!(after, [15, 10, 6, 3, 1]);

    // A limit equal to the count is one page; the default and the maximum work.
    for q in ["?limit=5", "", "?limit=200"] {
        let r = app
            .get(&format!("/v1/wallets/CHIP/transactions{q}"), &token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {:?}", r.body);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 5, "{q}");
        assert!(r.body["next_cursor"].is_null(), "{q}: {:?}", r.body);
    }
    // limit=1 walks all five.
    assert_eq!(app.all_transactions(&token, "CHIP", 1).await, all);
}

#[tokio::test]
async fn transactions_reject_a_bad_limit_or_cursor() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    for limit in ["0", "201", "x", "-1", "", "1.5"] {
        let r = app
            .get(
                &format!("/v1/wallets/CHIP/transactions?limit={limit}"),
                &token,
            )
            .await;
        assert_field(&r, 422, "invalid_limit", "limit");
    }
    for cursor in ["abc", "0", "-5", "", "1e3"] {
        let r = app
            .get(
                &format!("/v1/wallets/CHIP/transactions?cursor={cursor}"),
                &token,
            )
            .await;
        assert_field(&r, 422, "invalid_cursor", "cursor");
    }
    let r = app.get("/v1/wallets/NOPE/transactions", &token).await;
    assert_problem(&r, 404, "unknown_currency");
}

#[tokio::test]
async fn players_only_ever_see_their_own_wallet() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (a_id, a) = app.player("alice").await;
    let (b_id, b) = app.player("bob").await;
    assert_eq!(claim(&app, &a, None).await.status, StatusCode::CREATED);
    for _ in 0..3 {
        assert_eq!(
            app.adjust(&admin, &a_id, 7, None).await.status,
            StatusCode::CREATED
        );
    }
    let a_items = app.all_transactions(&a, "CHIP", 2).await;
    assert_eq!(a_items.len(), 4);
    assert!(app.all_transactions(&b, "CHIP", 2).await.is_empty());
    assert_eq!(app.balance(&b, "CHIP").await, 0);
    // Alice's cursors don't open her wallet to bob.
    let page = app.get("/v1/wallets/CHIP/transactions?limit=1", &a).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let r = app
        .get(
            &format!("/v1/wallets/CHIP/transactions?cursor={cursor}"),
            &b,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["items"], json!([]));
    // Bob can't move alice's money through the admin route either.
    assert_problem(&app.adjust(&b, &a_id, -7, None).await, 403, "forbidden");
    assert_problem(&app.adjust(&b, &b_id, 7, None).await, 403, "forbidden");
    assert_eq!(app.balance(&a, "CHIP").await, 100_021);
    assert_eq!(app.balance(&b, "CHIP").await, 0);
}

// ---------------------------------------------------------------- admin

#[tokio::test]
async fn admin_adjustments_credit_and_debit_but_never_below_zero() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let r = app.adjust(&admin, &id, 5_000, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let txn = r.body["transaction_id"].as_i64().expect("transaction_id");
    assert_eq!(
        r.body,
        json!({ "transaction_id": txn, "player_id": id, "currency": "CHIP", "amount": 5_000, "balance": 5_000 })
    );
    let r = app.adjust(&admin, &id, -2_000, None).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["balance"], 3_000);
    assert_eq!(r.body["amount"], -2_000);

    let r = app.adjust(&admin, &id, -3_001, None).await;
    assert_problem(&r, 422, "insufficient_funds");
    assert_eq!(app.balance(&token, "CHIP").await, 3_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 2);

    let r = app.adjust(&admin, &id, -3_000, None).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "down to exactly zero is fine"
    );
    assert_eq!(r.body["balance"], 0);
    assert_problem(
        &app.adjust(&admin, &id, -1, None).await,
        422,
        "insufficient_funds",
    );
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 3);
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    // The refused debits left no ledger rows behind.
    assert_eq!(audit["currencies"][0]["transactions"], 3, "{audit:?}");
    assert_eq!(audit["currencies"][0]["postings"], 6, "{audit:?}");
}

#[tokio::test]
async fn admin_adjustment_validates_amount_currency_and_reason() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let path = adjustments_path(&id);
    let post = |body: Value| app.post(&path, Some(&admin), body);
    for amount in [
        json!(0),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(-i64::MAX),
        json!(1_000_000_000_000_001i64),
    ] {
        let r = post(json!({ "currency": "CHIP", "amount": amount, "reason": "x" })).await;
        assert_field(&r, 422, "invalid_amount", "amount");
    }
    for cur in ["NOPE", "chip", ""] {
        let r = post(json!({ "currency": cur, "amount": 10, "reason": "x" })).await;
        assert_field(&r, 422, "unknown_currency", "currency");
    }
    for reason in ["".to_owned(), "   ".to_owned(), "r".repeat(501)] {
        let r = post(json!({ "currency": "CHIP", "amount": 10, "reason": reason })).await;
        assert_field(&r, 422, "invalid_reason", "reason");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    assert!(app.all_transactions(&token, "CHIP", 50).await.is_empty());
    // The largest allowed magnitude is accepted.
    let r = post(json!({ "currency": "CHIP", "amount": 1_000_000_000_000_000i64, "reason": "x" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn admin_adjustment_of_an_unknown_player_is_404() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    for id in [
        "0190f1d5-1c4e-7000-8000-000000000000",
        "not-a-uuid",
        "42",
        "%20",
    ] {
        let r = app.adjust(&admin, id, 10, None).await;
        assert_problem(&r, 404, "player_not_found");
    }
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true);
    assert_eq!(audit["currencies"], json!([]), "no money moved: {audit:?}");
}

#[tokio::test]
async fn admin_changes_are_forbidden_to_players_and_support() {
    let app = spawn().await;
    let (id, player) = app.player("alice").await;
    let (_, support) = app.user_with_role("helpdesk", Role::Support).await;
    let me = app.get("/v1/me", &support).await;
    assert_eq!(me.body["roles"], json!(["support"]));
    for token in [&player, &support] {
        assert_problem(&app.adjust(token, &id, 100, None).await, 403, "forbidden");
        assert_problem(
            &app.adjust(token, &id, 100, Some("k")).await,
            403,
            "forbidden",
        );
    }
    // Reading the operator views is support's job, not a player's.
    assert_problem(
        &app.get("/v1/admin/ledger/audit", &player).await,
        403,
        "forbidden",
    );
    assert_eq!(
        app.get("/v1/admin/ledger/audit", &support).await.status,
        StatusCode::OK
    );
    assert_eq!(app.balance(&player, "CHIP").await, 0);
}

#[tokio::test]
async fn ledger_audit_balances_postings_and_wallets() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (a_id, a) = app.player("alice").await;
    let (_, b) = app.player("bob").await;
    assert_eq!(claim(&app, &a, None).await.status, StatusCode::CREATED);
    assert_eq!(claim(&app, &b, None).await.status, StatusCode::CREATED);
    assert_eq!(
        app.adjust(&admin, &a_id, -40_000, None).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.adjust(&admin, &a_id, 1_234, None).await.status,
        StatusCode::CREATED
    );
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    assert_eq!(audit["problems"], json!([]));
    let currencies = audit["currencies"].as_array().unwrap();
    assert_eq!(currencies.len(), 1, "{audit:?}");
    let chip = &currencies[0];
    assert_eq!(chip["currency"], "CHIP");
    assert_eq!(chip["postings_sum"], 0);
    let total = app.balance(&a, "CHIP").await + app.balance(&b, "CHIP").await;
    assert_eq!(total, 100_000 - 40_000 + 1_234 + 100_000);
    assert_eq!(chip["wallets_total"], total);
}

/// A wallet stops at MAX_BALANCE: a maximal adjustment past it is a 422
/// `balance_limit` (no `field`: for a bet it would be the payout) and moves
/// nothing. Full wallets together hold more than i64::MAX, and the audit
/// still answers, exactly (it used to overflow: a 500 for good).
#[tokio::test]
async fn adjustments_stop_at_the_balance_ceiling_and_the_audit_stays_exact() {
    use croupier_api::routes::admin::MAX_ADJUSTMENT;
    use croupier_core::{AdjustCommand, NewPlayer, PlayerId, MAX_BALANCE};
    let app = spawn().await;
    let (admin_id, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    // ~100 maximal adjustments per full wallet: through the store, not HTTP.
    let store = &app.running.state.store;
    let fill = |player_id: PlayerId, amount: i64| AdjustCommand {
        player_id,
        currency: CurrencyCode::parse("CHIP").unwrap(),
        amount,
        reason: "fill".into(),
        actor: admin_id.parse().unwrap(),
        now: croupier_core::now(),
    };
    let alice: PlayerId = id.parse().unwrap();
    store
        .adjust(fill(alice, MAX_BALANCE - MAX_ADJUSTMENT))
        .await
        .unwrap();
    let last = app.adjust(&admin, &id, MAX_ADJUSTMENT, None).await;
    assert_eq!(last.status, StatusCode::CREATED, "{:?}", last.body);
    let r = app.adjust(&admin, &id, MAX_ADJUSTMENT, None).await;
    assert_problem(&r, 422, "balance_limit");
    assert_eq!(r.body["title"], "The balance would exceed its ceiling");
    assert!(r.body.get("field").is_none(), "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(&MAX_BALANCE.to_string()), "{detail}");
    assert_eq!(app.balance(&token, "CHIP").await, MAX_BALANCE);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 2);

    // 93 full wallets: 9.3·10^18 > i64::MAX.
    for i in 0..92 {
        let p = store
            .create_player(NewPlayer {
                id: PlayerId::new(),
                username: format!("whale{i}"),
                password_hash: "x".into(),
                roles: vec![Role::Player],
                created_at: croupier_core::now(),
            })
            .await
            .unwrap();
        store.adjust(fill(p.id, MAX_BALANCE)).await.unwrap();
    }
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    let chip = &audit["currencies"][0];
    assert_eq!(chip["postings_sum"], 0);
    assert_eq!(chip["wallets_total"], json!(93 * MAX_BALANCE as u64));
}

// ---------------------------------------------------------------- idempotency

#[tokio::test]
async fn claim_replay_returns_the_stored_response_and_changes_nothing() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let first = claim(&app, &token, Some("claim-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!replayed(&first));
    for _ in 0..2 {
        let again = claim(&app, &token, Some("claim-1")).await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert_eq!(again.body, first.body);
        assert!(replayed(&again), "{:?}", again.headers);
        assert!(again.content_type().starts_with("application/json"));
    }
    assert_eq!(app.balance(&token, "CHIP").await, 100_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);
    // A different key is a new request (and the bonus is not ready yet).
    assert_problem(
        &claim(&app, &token, Some("claim-2")).await,
        429,
        "claim_not_ready",
    );
}

#[tokio::test]
async fn adjustment_replay_and_key_reuse_with_another_body() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let first = app.adjust(&admin, &id, 700, Some("adj-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.adjust(&admin, &id, 700, Some("adj-1")).await;
    assert_eq!(
        (again.status, &again.body),
        (StatusCode::CREATED, &first.body)
    );
    assert!(replayed(&again));

    let other = app.adjust(&admin, &id, 800, Some("adj-1")).await;
    assert_field(&other, 422, "idempotency_key_reused", "Idempotency-Key");
    assert_eq!(app.balance(&token, "CHIP").await, 700);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);

    // Stored failures replay too, without effect.
    let fail = app.adjust(&admin, &id, -10_000, Some("adj-2")).await;
    assert_problem(&fail, 422, "insufficient_funds");
    let fail2 = app.adjust(&admin, &id, -10_000, Some("adj-2")).await;
    assert_problem(&fail2, 422, "insufficient_funds");
    assert_eq!(fail2.body, fail.body);
    assert_eq!(app.balance(&token, "CHIP").await, 700);
}

#[tokio::test]
async fn idempotency_keys_are_scoped_per_player() {
    let app = spawn().await;
    let (_, a) = app.player("alice").await;
    let (_, b) = app.player("bob").await;
    let ra = claim(&app, &a, Some("shared-key")).await;
    let rb = claim(&app, &b, Some("shared-key")).await;
    for r in [&ra, &rb] {
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert!(!replayed(r));
    }
    assert_eq!(app.balance(&a, "CHIP").await, 100_000);
    assert_eq!(app.balance(&b, "CHIP").await, 100_000);
    // Within one player's scope, the key is bound to its first request.
    let pw = app
        .call(
            Method::POST,
            "/v1/auth/password",
            Some(&b),
            Some("shared-key"),
            Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_problem(&pw, 422, "idempotency_key_reused");
    let pw = app
        .call(
            Method::POST,
            "/v1/auth/password",
            Some(&b),
            Some("bob-pw"),
            Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_eq!(pw.status, StatusCode::NO_CONTENT, "{:?}", pw.body);
    let replay = app
        .call(
            Method::POST,
            "/v1/auth/password",
            Some(&b),
            Some("bob-pw"),
            Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_eq!(replay.status, StatusCode::NO_CONTENT);
    assert!(replayed(&replay));
    assert_eq!(app.login("bob", NEW_PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn idempotency_key_must_be_1_to_255_characters() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    for key in ["k".repeat(256), String::new()] {
        let r = claim(&app, &token, Some(&key)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "len {}: {:?}",
            key.len(),
            r.body
        );
        assert!(r.content_type().starts_with(PROBLEM_JSON));
    }
    let r = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some(&"k".repeat(256)),
            Some(json!({ "username": "bob", "password": PASSWORD })),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    let r = claim(&app, &token, Some(&"k".repeat(255))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // bob was not registered by the rejected request.
    assert_eq!(app.register("bob").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn register_replay_creates_one_player() {
    let app = spawn().await;
    let body = json!({ "username": "alice", "password": PASSWORD });
    let first = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some("reg-1"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let again = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some("reg-1"),
            Some(body),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert!(replayed(&again));
    let login = app.login("alice", PASSWORD).await;
    let me = app
        .get("/v1/me", login.body["token"].as_str().unwrap())
        .await;
    assert_eq!(me.body["player_id"], first.body["player_id"]);
    assert_problem(&app.register("alice").await, 409, "username_taken");
    // The same key with another body is a reuse.
    let other = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some("reg-1"),
            Some(json!({ "username": "bob", "password": PASSWORD })),
        )
        .await;
    assert_problem(&other, 422, "idempotency_key_reused");
    assert_eq!(app.register("bob").await.status, StatusCode::CREATED);
}

/// Fires `n` identical requests at once; returns the responses.
async fn fire<F, Fut>(n: usize, f: F) -> Vec<Resp>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Resp>,
{
    join_all((0..n).map(|_| f())).await
}

/// Exactly one effect: one original 201, the rest replays of it or 409 in progress.
#[track_caller]
fn assert_one_effect(results: &[Resp]) -> Value {
    let created: Vec<&Resp> = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty(), "{results:?}");
    assert_eq!(
        created.iter().filter(|r| !replayed(r)).count(),
        1,
        "{results:?}"
    );
    for r in &created {
        assert_eq!(r.body, created[0].body);
    }
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_problem(r, 409, "idempotency_in_progress");
        assert!(retry_after(r) >= 1);
    }
    created[0].body.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_with_one_key_have_one_effect() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let results = fire(20, || claim(&app, &token, Some("same"))).await;
    let body = assert_one_effect(&results);
    assert_eq!(body["balance"], 100_000);
    assert_eq!(app.balance(&token, "CHIP").await, 100_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adjustments_with_one_key_have_one_effect() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let results = fire(20, || app.adjust(&admin, &id, 321, Some("same"))).await;
    let body = assert_one_effect(&results);
    assert_eq!(body["balance"], 321);
    assert_eq!(app.balance(&token, "CHIP").await, 321);
    let items = app.all_transactions(&token, "CHIP", 50).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["transaction_id"], body["transaction_id"]);
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_without_keys_pay_the_bonus_once() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let results = fire(20, || claim(&app, &token, None)).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_problem(r, 429, "claim_not_ready");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 100_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_name_create_one_player() {
    let app = spawn().await;
    let names = [
        "carol", "Carol", "CAROL", "carol", "cArOl", "carol", "CaRoL", "carol",
    ];
    let results = join_all(names.iter().map(|n| app.register(n))).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_problem(r, 409, "username_taken");
    }
    assert_eq!(app.login("carol", PASSWORD).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------- request bodies

#[tokio::test]
async fn oversized_bodies_are_413_problems() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let big = "x".repeat(70 * 1024);
    let register = json!({ "username": "bob", "password": big })
        .to_string()
        .into_bytes();
    let adjust = json!({ "currency": "CHIP", "amount": 5, "reason": big })
        .to_string()
        .into_bytes();
    for key in [None, Some("big-1")] {
        let mut req = app
            .request(Method::POST, "/v1/auth/register")
            .header("content-type", "application/json")
            .body(register.clone());
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        assert_problem(&app.send(req).await, 413, "payload_too_large");
        let mut req = app
            .request(Method::POST, &adjustments_path(&id))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(adjust.clone());
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        assert_problem(&app.send(req).await, 413, "payload_too_large");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    assert_eq!(app.register("bob").await.status, StatusCode::CREATED);
    // The refused request did not consume its key.
    let r = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some("big-1"),
            Some(json!({ "username": "carol", "password": PASSWORD })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn bodies_up_to_the_limit_are_accepted() {
    let app = spawn().await;
    let limit = app.config.http.body_limit_bytes;
    assert_eq!(limit, 65536);
    for (name, key, extra) in [
        ("at-limit", None, 0),
        ("at-limit-key", Some("k1"), 0),
        ("over", None, 1),
        ("over-key", Some("k2"), 1),
    ] {
        let base = json!({ "username": name, "password": PASSWORD }).to_string();
        let body = format!("{base}{}", " ".repeat(limit + extra - base.len()));
        assert_eq!(body.len(), limit + extra);
        let mut req = app
            .request(Method::POST, "/v1/auth/register")
            .header("content-type", "application/json")
            .body(body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = app.send(req).await;
        if extra == 0 {
            assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.body);
        } else {
            assert_problem(&r, 413, "payload_too_large");
        }
    }
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let register = json!({ "username": "bob", "password": PASSWORD }).to_string();
    let adjust = json!({ "currency": "CHIP", "amount": 5, "reason": "x" }).to_string();
    let broken = |valid: &str| {
        vec![
            valid[..valid.len() - 1].to_owned(), // truncated
            valid.replacen(':', "", 1),          // missing colon
            valid.replace('"', "'"),             // single quotes
            format!("{valid} trailing"),         // garbage after the object
            format!("{valid}{valid}"),           // two objects
            "not json".to_owned(),
            String::new(),
        ]
    };
    for (i, body) in broken(&register).into_iter().enumerate() {
        let r = post_raw(
            &app,
            "/v1/auth/register",
            None,
            Some("application/json"),
            body.clone().into(),
        )
        .await;
        assert_problem(&r, 400, "malformed_json");
        let r = app
            .send(
                app.request(Method::POST, "/v1/auth/register")
                    .header("content-type", "application/json")
                    .header("idempotency-key", format!("malformed-{i}"))
                    .body(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    for body in broken(&adjust) {
        let r = post_raw(
            &app,
            &adjustments_path(&id),
            Some(&admin),
            Some("application/json"),
            body.clone().into(),
        )
        .await;
        assert_problem(&r, 400, "malformed_json");
    }
    // Nothing was created or moved.
    assert_problem(
        &app.login("bob", PASSWORD).await,
        401,
        "invalid_credentials",
    );
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn wrong_types_are_422_naming_the_field() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let cases = [
        (json!({ "username": 5, "password": PASSWORD }), "username"),
        (json!({ "username": "bob", "password": ["x"] }), "password"),
        (
            json!({ "username": null, "password": PASSWORD }),
            "username",
        ),
    ];
    for (body, field) in cases {
        let r = app.post("/v1/auth/register", None, body).await;
        assert_field(&r, 422, "invalid_field", field);
    }
    for body in [json!([]), json!(null), json!("alice")] {
        let r = app.post("/v1/auth/register", None, body).await;
        assert_problem(&r, 422, "invalid_field");
    }
    for amount in [json!("10"), json!(1.5), json!(1e30), json!(true)] {
        let r = app
            .post(
                &adjustments_path(&id),
                Some(&admin),
                json!({ "currency": "CHIP", "amount": amount, "reason": "x" }),
            )
            .await;
        assert_field(&r, 422, "invalid_field", "amount");
    }
    let r = app
        .post(
            "/v1/auth/password",
            Some(&token),
            json!({ "current_password": 1, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_field(&r, 422, "invalid_field", "current_password");
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn missing_fields_are_422_missing_field() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let r = app
        .post("/v1/auth/register", None, json!({ "username": "bob" }))
        .await;
    assert_field(&r, 422, "missing_field", "password");
    let r = app
        .post("/v1/auth/login", None, json!({ "password": PASSWORD }))
        .await;
    assert_field(&r, 422, "missing_field", "username");
    let r = app
        .post(
            &adjustments_path(&id),
            Some(&admin),
            json!({ "currency": "CHIP", "amount": 5 }),
        )
        .await;
    assert_field(&r, 422, "missing_field", "reason");
    let r = app
        .post(
            "/v1/auth/password",
            Some(&token),
            json!({ "current_password": PASSWORD }),
        )
        .await;
    assert_field(&r, 422, "missing_field", "new_password");
}

#[tokio::test]
async fn unknown_fields_are_rejected_and_nothing_is_created() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let smuggled = [("balance", json!(1_000_000)), ("roles", json!(["admin"]))];
    for (field, value) in smuggled {
        let mut body = json!({ "username": "mallory", "password": PASSWORD });
        body[field] = value;
        let r = app.post("/v1/auth/register", None, body).await;
        assert_field(&r, 422, "unknown_field", field);
    }
    assert_problem(
        &app.login("mallory", PASSWORD).await,
        401,
        "invalid_credentials",
    );
    let (id, token) = app.player("mallory").await;
    let me = app.get("/v1/me", &token).await;
    assert_eq!(me.body["roles"], json!(["player"]));
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    let r = app
        .post(
            &adjustments_path(&id),
            Some(&admin),
            json!({ "currency": "CHIP", "amount": 5, "reason": "x", "player_id": "someone" }),
        )
        .await;
    assert_field(&r, 422, "unknown_field", "player_id");
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn non_json_content_types_are_415() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let register = json!({ "username": "bob", "password": PASSWORD }).to_string();
    let adjust = json!({ "currency": "CHIP", "amount": 5, "reason": "x" }).to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        None,
    ] {
        let r = post_raw(&app, "/v1/auth/register", None, ct, register.clone().into()).await;
        assert_problem(&r, 415, "unsupported_media_type");
        let r = post_raw(
            &app,
            &adjustments_path(&id),
            Some(&admin),
            ct,
            adjust.clone().into(),
        )
        .await;
        assert_problem(&r, 415, "unsupported_media_type");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    // Parameters and case are fine.
    let r = post_raw(
        &app,
        "/v1/auth/register",
        None,
        Some("Application/JSON; charset=utf-8"),
        register.into(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

// ---------------------------------------------------------------- operations

#[tokio::test]
async fn livez_and_readyz_report_health_and_draining() {
    let app = spawn().await;
    let live = app.call(Method::GET, "/livez", None, None, None).await;
    assert_eq!(live.status, StatusCode::OK);
    let ready = app.call(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{:?}", ready.body);
    app.running.state.draining.store(true, Ordering::Relaxed);
    let ready = app.call(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    // Liveness is unaffected by draining.
    assert_eq!(
        app.call(Method::GET, "/livez", None, None, None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_with_latency_histogram() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    assert_eq!(me_status(&app, &token).await, StatusCode::OK);
    let r = app.call(Method::GET, "/v1/me", None, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let m = app.metrics().await;
    assert_eq!(m.status, StatusCode::OK);
    let text = m.body.as_str().expect("text exposition");
    let has = |prefix: &str, parts: &[&str]| {
        text.lines()
            .any(|l| l.starts_with(prefix) && parts.iter().all(|p| l.contains(p)))
    };
    assert!(
        has(
            "croupier_http_requests_total{",
            &["route=\"/v1/me\"", "status=\"200\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_requests_total{",
            &["route=\"/v1/me\"", "status=\"401\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_requests_total{",
            &["route=\"/v1/auth/register\"", "status=\"201\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_request_duration_seconds_bucket{",
            &["route=\"/v1/me\"", "le=\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_request_duration_seconds_count{",
            &["route=\"/v1/me\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_request_duration_seconds_sum{",
            &["route=\"/v1/me\""]
        ),
        "{text}"
    );
}

#[tokio::test]
async fn openapi_document_snapshot() {
    let app = spawn().await;
    let r = app
        .call(Method::GET, "/openapi.json", None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    insta::assert_json_snapshot!("openapi", r.body);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let unknown = [
        (Method::GET, "/v1/nope"),
        (Method::POST, "/nope"),
        (Method::GET, "/v1/wallets/CHIP"),
    ];
    for (method, path) in unknown {
        let r = app.call(method, path, Some(&token), None, None).await;
        assert_problem(&r, 404, "route_not_found");
    }
    let wrong_method = [
        (Method::GET, "/v1/auth/register"),
        (Method::DELETE, "/v1/me"),
        (Method::PUT, "/v1/wallets"),
        (Method::POST, "/livez"),
    ];
    for (method, path) in wrong_method {
        let r = app.call(method, path, Some(&token), None, None).await;
        assert_problem(&r, 405, "method_not_allowed");
    }
}

#[tokio::test]
async fn undecodable_path_segments_are_400_problems() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (_, token) = app.player("alice").await;
    let r = app
        .call(
            Method::POST,
            "/v1/wallets/%FF/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_problem(&r, 400, "invalid_path");
    let r = app.get("/v1/wallets/%FF/transactions", &token).await;
    assert_problem(&r, 400, "invalid_path");
    let r = app.adjust(&admin, "%C3%28", 5, None).await;
    assert_problem(&r, 400, "invalid_path");
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = spawn().await;
    for path in ["/livez", "/v1/nope", "/v1/me"] {
        let r = app
            .send(
                app.request(Method::GET, path)
                    .header("x-request-id", "test-req-42"),
            )
            .await;
        assert_eq!(header(&r, "x-request-id"), Some("test-req-42"), "{path}");
        let r = app.send(app.request(Method::GET, path)).await;
        let id = header(&r, "x-request-id").unwrap_or_else(|| panic!("{path}: no request id"));
        assert!(uuid_like(id), "{path}: {id}");
        let r2 = app.send(app.request(Method::GET, path)).await;
        assert_ne!(header(&r2, "x-request-id"), Some(id), "ids are unique");
    }
}

// ---------------------------------------------------------------- property: racing effects

#[derive(Clone, Debug)]
enum Op {
    Claim,
    Adjust(i64),
}

/// One logical request: sent once, then retried with the same key after each delay.
#[derive(Clone, Debug)]
struct Planned {
    op: Op,
    retry_delays_ms: Vec<u64>,
}

fn planned() -> impl Strategy<Value = Planned> {
    let op = prop_oneof![
        1 => Just(Op::Claim),
        2 => (1i64..=150_000).prop_map(Op::Adjust),
        2 => (1i64..=150_000).prop_map(|a| Op::Adjust(-a)),
    ];
    // A delay of 0 makes the retry concurrent with the original.
    let delay = prop_oneof![Just(0u64), 1u64..30];
    (op, prop::collection::vec(delay, 2..=3)).prop_map(|(op, retry_delays_ms)| Planned {
        op,
        retry_delays_ms,
    })
}

async fn run_mix(plan: Vec<Planned>) {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;

    let attempts = plan.iter().enumerate().flat_map(|(i, p)| {
        std::iter::once(0)
            .chain(p.retry_delays_ms.iter().copied())
            .map({
                let (app, admin, id, token) = (&app, &admin, &id, &token);
                move |delay| async move {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    let key = format!("op-{i}");
                    let r = match p.op {
                        Op::Claim => claim(app, token, Some(&key)).await,
                        Op::Adjust(amount) => app.adjust(admin, id, amount, Some(&key)).await,
                    };
                    (i, r)
                }
            })
    });
    let done = AtomicBool::new(false);
    let run = async {
        let results = join_all(attempts).await;
        done.store(true, Ordering::SeqCst);
        results
    };
    let watch = async {
        let mut seen = Vec::new();
        while !done.load(Ordering::SeqCst) {
            seen.push(app.balance(&token, "CHIP").await);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        seen
    };
    let (results, seen) = tokio::join!(run, watch);
    assert!(
        seen.iter().all(|b| *b >= 0),
        "negative balance observed: {seen:?}"
    );

    let mut by_key: BTreeMap<usize, Vec<Resp>> = BTreeMap::new();
    for (i, r) in results {
        by_key.entry(i).or_default().push(r);
    }
    let mut expected_balance = 0i64;
    let mut effects: BTreeMap<usize, (i64, Value)> = BTreeMap::new();
    for (i, p) in plan.iter().enumerate() {
        let resps = &by_key[&i];
        assert_eq!(resps.len(), 1 + p.retry_delays_ms.len());
        let answers: Vec<&Resp> = resps
            .iter()
            .filter(|r| r.status != StatusCode::CONFLICT)
            .collect();
        for r in resps.iter().filter(|r| r.status == StatusCode::CONFLICT) {
            assert_problem(r, 409, "idempotency_in_progress");
        }
        assert!(!answers.is_empty(), "op {i} {p:?}: only 409s: {resps:?}");
        let created: Vec<&&Resp> = answers
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .collect();
        if created.is_empty() {
            for r in &answers {
                match p.op {
                    Op::Claim => assert_problem(r, 429, "claim_not_ready"),
                    Op::Adjust(a) => {
                        assert!(a < 0, "credit {a} failed: {:?}", r.body);
                        assert_problem(r, 422, "insufficient_funds");
                    }
                }
            }
            continue;
        }
        // One effect: every answer is the stored 201, only one of them original.
        assert_eq!(
            created.len(),
            answers.len(),
            "op {i} {p:?}: mixed answers {resps:?}"
        );
        assert_eq!(
            created.iter().filter(|r| !replayed(r)).count(),
            1,
            "op {i}: {resps:?}"
        );
        for r in &created {
            assert_eq!(r.body, created[0].body, "op {i}: replay differs");
            assert!(r.body["balance"].as_i64().unwrap() >= 0);
        }
        let amount = match p.op {
            Op::Claim => 100_000,
            Op::Adjust(a) => a,
        };
        assert_eq!(created[0].body["amount"], amount);
        expected_balance += amount;
        effects.insert(i, (amount, created[0].body.clone()));
    }
    let claims_planned = plan.iter().any(|p| matches!(p.op, Op::Claim));
    let claims_ok = effects
        .keys()
        .filter(|i| matches!(plan[**i].op, Op::Claim))
        .count();
    assert_eq!(
        claims_ok,
        usize::from(claims_planned),
        "exactly one bonus per period"
    );

    let balance = app.balance(&token, "CHIP").await;
    assert_eq!(
        balance, expected_balance,
        "balance = Σ distinct successful effects"
    );
    assert!(balance >= 0);

    let items = app.all_transactions(&token, "CHIP", 7).await;
    assert_eq!(
        items.len(),
        effects.len(),
        "one ledger entry per successful key"
    );
    // Oldest first, each balance_after follows from the previous one.
    let mut running = 0i64;
    for item in items.iter().rev() {
        running += item["amount"].as_i64().unwrap();
        assert_eq!(
            item["balance_after"].as_i64().unwrap(),
            running,
            "{items:?}"
        );
        assert!(running >= 0);
    }
    assert_eq!(running, balance);
    for (i, (_, body)) in &effects {
        let entry = match plan[*i].op {
            Op::Adjust(_) => items
                .iter()
                .find(|t| t["transaction_id"] == body["transaction_id"])
                .unwrap_or_else(|| {
                    panic!("op {i}: transaction {} not listed", body["transaction_id"])
                }),
            Op::Claim => items
                .iter()
                .find(|t| t["kind"] == "faucet_claim")
                .expect("claim listed"),
        };
        assert_eq!(entry["amount"], body["amount"]);
        assert_eq!(entry["balance_after"], body["balance"], "op {i}");
    }

    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    assert_eq!(audit["problems"], json!([]));
    let total = balance + app.balance(&admin, "CHIP").await;
    for cur in audit["currencies"].as_array().unwrap() {
        assert_eq!(cur["currency"], "CHIP");
        assert_eq!(cur["postings_sum"], 0, "{audit:?}");
        assert_eq!(cur["wallets_total"], total, "{audit:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 8,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn racing_claims_and_adjustments_with_retries_keep_the_ledger_consistent(
        plan in prop::collection::vec(planned(), 8..24)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run_mix(plan));
    }
}

#[tokio::test]
async fn logout_replays_its_answer_although_the_token_is_revoked() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let first = app
        .call(
            Method::POST,
            "/v1/auth/logout",
            Some(&token),
            Some("bye"),
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v1/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let replay = app
        .call(
            Method::POST,
            "/v1/auth/logout",
            Some(&token),
            Some("bye"),
            None,
        )
        .await;
    assert_eq!(replay.status, StatusCode::NO_CONTENT, "{:?}", replay.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    // The same key on the other logout route is a different request.
    let other = app
        .call(
            Method::POST,
            "/v1/auth/logout-all",
            Some(&token),
            Some("bye"),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.code(), "idempotency_key_reused");
    // Without a key a revoked token is simply refused.
    let plain = app
        .call(Method::POST, "/v1/auth/logout", Some(&token), None, None)
        .await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
    // Keys on logout are validated like everywhere else.
    let (_, fresh) = app.player("bob").await;
    let long = "k".repeat(256);
    let r = app
        .call(
            Method::POST,
            "/v1/auth/logout",
            Some(&fresh),
            Some(&long),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

// ------------------------------------------------- rate limits and shedding

fn header_u64(r: &Resp, name: &str) -> u64 {
    header(r, name)
        .unwrap_or_else(|| panic!("no {name} on {r:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number on {r:?}"))
}

/// Whether `/metrics` has a line starting with `prefix` containing all `parts`.
async fn has_metric(app: &TestApp, prefix: &str, parts: &[&str]) -> bool {
    let m = app.metrics().await;
    let text = m.body.as_str().expect("text exposition").to_owned();
    text.lines()
        .any(|l| l.starts_with(prefix) && parts.iter().all(|p| l.contains(p)))
}

#[tokio::test]
async fn rate_limit_headers_count_down_then_429_with_retry_after() {
    let app = spawn_with(|c| c.http.rate_limits.default = RateRule::new(3, 60)).await;
    let (_, token) = app.player("alice").await;
    for remaining in [2, 1, 0] {
        let r = app.get("/v1/me", &token).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(header_u64(&r, "ratelimit-limit"), 3);
        assert_eq!(header_u64(&r, "ratelimit-remaining"), remaining);
        // Whole again once each spent request's 20 s have passed.
        let reset = header_u64(&r, "ratelimit-reset");
        assert!((1..=60).contains(&reset), "{reset}");
        assert_eq!(header(&r, "ratelimit-policy"), Some("\"default\";q=3;w=60"));
        assert_eq!(
            header(&r, "ratelimit"),
            Some(format!("\"default\";r={remaining};t={reset}").as_str())
        );
    }
    let r = app.get("/v1/me", &token).await;
    assert_problem(&r, 429, "rate_limited");
    // The next request fits one interval (20 s) after the first.
    assert!((1..=20).contains(&retry_after(&r)), "{r:?}");
    assert_eq!(header_u64(&r, "ratelimit-remaining"), 0);
    assert!(
        has_metric(
            &app,
            "croupier_http_throttled_total{",
            &["route=\"/v1/me\"", "scope=\"player\""]
        )
        .await
    );
}

async fn dice_bet(app: &TestApp, token: &str) -> Resp {
    app.post(
        "/v1/games/dice/bets",
        Some(token),
        json!({ "currency": "CHIP", "stake": 100, "params": { "target": 50.5, "direction": "over" } }),
    )
    .await
}

#[tokio::test]
async fn bet_limits_are_per_player_and_apart_from_other_routes() {
    let app = spawn_with(|c| c.http.rate_limits.bets = RateRule::new(2, 60)).await;
    let mut tokens = Vec::new();
    for name in ["alice", "bob"] {
        let (_, token) = app.player(name).await;
        let r = app
            .call(Method::POST, CLAIM, Some(&token), None, None)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        tokens.push(token);
    }
    let (alice, bob) = (&tokens[0], &tokens[1]);
    for remaining in [1, 0] {
        let r = dice_bet(&app, alice).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(header_u64(&r, "ratelimit-remaining"), remaining);
        assert_eq!(header(&r, "ratelimit-policy"), Some("\"bets\";q=2;w=60"));
    }
    let r = dice_bet(&app, alice).await;
    assert_problem(&r, 429, "rate_limited");
    assert!(retry_after(&r) >= 1);
    // Mines actions share the bets quota.
    let r = app
        .post(
            "/v1/games/mines/rounds",
            Some(alice),
            json!({ "currency": "CHIP", "stake": 100, "mines": 3 }),
        )
        .await;
    assert_problem(&r, 429, "rate_limited");
    // Bob's quota is his own; Alice's other routes have theirs.
    let r = dice_bet(&app, bob).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(header_u64(&r, "ratelimit-remaining"), 1);
    let r = app.get("/v1/me", alice).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(header(&r, "ratelimit-policy")
        .unwrap()
        .starts_with("\"default\""));
}

#[tokio::test]
async fn auth_routes_are_limited_per_client_ip() {
    let app = spawn_with(|c| {
        c.http.trust_forwarded_for = true;
        c.http.rate_limits.auth = RateRule::new(2, 60);
    })
    .await;
    let register_from = |ip: &'static str, name: &'static str| {
        app.send(
            app.request(Method::POST, "/v1/auth/register")
                .header("x-forwarded-for", ip)
                .json(&json!({ "username": name, "password": PASSWORD })),
        )
    };
    assert_eq!(
        register_from("10.0.0.1", "alice").await.status,
        StatusCode::CREATED
    );
    let r = login_from(&app, "10.0.0.1", "alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(header_u64(&r, "ratelimit-remaining"), 0);
    let r = register_from("10.0.0.1", "bob").await;
    assert_problem(&r, 429, "rate_limited");
    assert!(retry_after(&r) >= 1);
    // Not recorded: the name is still free, from another address.
    assert_eq!(
        register_from("10.0.0.2", "bob").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn anonymous_routes_are_limited_per_ip_and_ops_routes_never() {
    let app = spawn_with(|c| c.http.rate_limits.default = RateRule::new(2, 60)).await;
    let games = || app.call(Method::GET, "/v1/games", None, None, None);
    for remaining in [1, 0] {
        let r = games().await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(header_u64(&r, "ratelimit-remaining"), remaining);
    }
    let r = games().await;
    assert_problem(&r, 429, "rate_limited");
    for path in ["/livez", "/readyz"] {
        for _ in 0..5 {
            let r = app.call(Method::GET, path, None, None, None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            assert!(header(&r, "ratelimit-limit").is_none(), "{path}");
        }
    }
    assert!(
        has_metric(
            &app,
            "croupier_http_throttled_total{",
            &["route=\"/v1/games\"", "scope=\"ip\""]
        )
        .await
    );
}

#[tokio::test]
async fn a_zero_limit_disables_the_class() {
    let app = spawn_with(|c| c.http.rate_limits.default = RateRule::new(0, 60)).await;
    for _ in 0..5 {
        let r = app.call(Method::GET, "/v1/games", None, None, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(header(&r, "ratelimit-limit").is_none());
    }
    // The other classes keep their defaults.
    let auth = croupier_api::ApiConfig::default().http.rate_limits.auth;
    let r = app.register("alice").await;
    assert_eq!(header_u64(&r, "ratelimit-limit"), u64::from(auth.limit));
}

#[tokio::test]
async fn requests_over_max_in_flight_are_shed_with_503_but_ops_routes_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_with(|c| {
        c.http.max_in_flight = 1;
        c.http.queue_timeout_ms = 0;
    })
    .await;
    // Hold the only slot: a request whose body has not all arrived yet.
    let mut held = tokio::net::TcpStream::connect(app.running.addr)
        .await
        .unwrap();
    held.write_all(
        b"POST /v1/fairness/verify HTTP/1.1\r\nHost: test\r\n\
          Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{",
    )
    .await
    .unwrap();
    // Once the server is reading that body, any other API request is shed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let shed = loop {
        let r = app.call(Method::GET, "/v1/games", None, None, None).await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            break r;
        }
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert!(Instant::now() < deadline, "never shed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_problem(&shed, 503, "overloaded");
    assert_eq!(retry_after(&shed), 1);
    // The ops routes are never shed.
    for path in ["/livez", "/readyz"] {
        let r = app.call(Method::GET, path, None, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
    }
    assert_eq!(app.metrics().await.status, StatusCode::OK);
    assert!(has_metric(&app, "croupier_http_shed_total{", &["route=\"/v1/games\""]).await);
    assert!(has_metric(&app, "croupier_http_in_flight", &[]).await);
    // Finishing the held request frees its slot.
    held.write_all(b"}").await.unwrap();
    let mut head = [0u8; 12];
    held.read_exact(&mut head).await.unwrap();
    assert!(head.starts_with(b"HTTP/1.1 "), "{head:?}");
    let r = app.call(Method::GET, "/v1/games", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
