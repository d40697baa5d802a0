//! Accounts and sessions: registration, login and its failure throttling
//! (per account, per IP), logout, password changes, bearer tokens and expiry.

use crate::helpers::*;
use chrono::Utc;
use croupier_core::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

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
    let clock = Clock::manual(croupier_core::now());
    let app = spawn_on(clock.clone(), |c| c.auth.session_idle_secs = 1).await;
    let (_, token) = app.player("alice").await;
    clock.advance(chrono::Duration::milliseconds(900));
    assert_eq!(me_status(&app, &token).await, StatusCode::OK);
    clock.advance(chrono::Duration::milliseconds(1001));
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
    let clock = Clock::manual(croupier_core::now());
    let app = spawn_on(clock.clone(), |c| c.auth.session_idle_secs = 2).await;
    let (_, token) = app.player("alice").await;
    // A request every 0.9 s for 9 s: twice the idle limit, never idle past it.
    for step in 1..=10 {
        clock.advance(chrono::Duration::milliseconds(900));
        assert_eq!(
            me_status(&app, &token).await,
            StatusCode::OK,
            "active session died after {} ms",
            step * 900
        );
    }
    clock.advance(chrono::Duration::milliseconds(2001));
    assert_eq!(me_status(&app, &token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_expires_at_its_absolute_lifetime_despite_activity() {
    let clock = Clock::manual(croupier_core::now());
    let app = spawn_on(clock.clone(), |c| c.auth.session_absolute_secs = 2).await;
    app.register("alice").await;
    let login = app.login("alice", PASSWORD).await;
    let token = login.body["token"].as_str().unwrap().to_owned();
    let expires = timestamp(&login.body["expires_at"]);
    assert_eq!(expires - clock.now(), chrono::Duration::seconds(2));
    // Active all along, 0.3 s apart, until the lifetime ends.
    for _ in 0..6 {
        assert_eq!(me_status(&app, &token).await, StatusCode::OK);
        clock.advance(chrono::Duration::milliseconds(300));
    }
    clock.advance(chrono::Duration::milliseconds(200));
    assert_eq!(me_status(&app, &token).await, StatusCode::UNAUTHORIZED);
}
