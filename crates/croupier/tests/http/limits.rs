//! Limits on what a client may send: the body size limit, rate limits (their
//! headers, per player, per IP, per class) and load shedding over max_in_flight.

use crate::helpers::*;
use croupier_api::config::RateRule;
use croupier_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- body size

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
