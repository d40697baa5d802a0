//! Several instances of the real app behind no balancer: what scale-out
//! promises over HTTP.
//!
//! - With Redis, a logout (logout-all, password change) on one instance is
//!   honoured by the others within one second, through the revocation bus,
//!   and failed-login throttling is shared.
//! - With Redis unreachable, nothing fails: requests work, throttling falls
//!   back to per-instance limits, revocations fall back to the one-second rule.
//! - On PostgreSQL without Redis, the one-second rule alone honours a logout.
//!
//! Needs `CROUPIER_TEST_POSTGRES_URL` and/or `CROUPIER_TEST_REDIS_URL` (each
//! test says which); skipped without them unless CROUPIER_TEST_REQUIRE_BACKENDS.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

/// A Redis port nothing listens on.
const UNREACHABLE_REDIS: &str = "redis://127.0.0.1:1";

fn unique_prefix() -> String {
    format!("croupier-test:{}:", uuid::Uuid::new_v4().simple())
}

/// Deletes the Redis keys under a prefix when dropped, also when the test fails.
struct RedisKeys {
    url: String,
    prefix: String,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(client) = redis::Client::open(url.as_str()) else {
                    return;
                };
                let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                    return;
                };
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}*"))
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: Result<i64, _> =
                        redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// Waits until the instance trusts its revocation feed.
async fn until_feed_live(app: &TestApp) {
    let start = Instant::now();
    while !app.running.state.session_feed.trusts_cache() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the revocation feed did not come up: {}",
            app.running.state.session_feed.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn me(app: &TestApp, token: &str) -> StatusCode {
    app.get("/v1/me", token).await.status
}

/// Polls `GET /v1/me` on `app` until the token is refused; returns when
/// (the send time of the refused request).
async fn until_refused(app: &TestApp, token: &str, within: Duration) -> Instant {
    let start = Instant::now();
    loop {
        let sent = Instant::now();
        match me(app, token).await {
            StatusCode::UNAUTHORIZED => return sent,
            StatusCode::OK => {}
            other => panic!("unexpected {other}"),
        }
        assert!(
            start.elapsed() <= within,
            "the revoked token was still accepted after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn login_token(app: &TestApp, username: &str, password: &str) -> String {
    let r = app.login(username, password).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn with_redis_a_revocation_on_one_instance_is_honoured_by_the_others_at_once() {
    let Some(pg) = backend_url("CROUPIER_TEST_POSTGRES_URL") else {
        return;
    };
    let Some(redis_url) = backend_url("CROUPIER_TEST_REDIS_URL") else {
        return;
    };
    let (_schema, db) = PgSchema::create_on(pg).await;
    let prefix = unique_prefix();
    let _keys = RedisKeys {
        url: redis_url.clone(),
        prefix: prefix.clone(),
    };
    let config = |c: &mut croupier::config::Config| {
        c.database_url = Some(db.clone());
        c.redis_url = Some(redis_url.clone());
        c.redis.key_prefix = prefix.clone();
    };
    let a = spawn_instance(config).await;
    let b = spawn_instance(config).await;
    until_feed_live(&a).await;
    until_feed_live(&b).await;

    // Logout.
    let (_, token) = a.player("roaming").await;
    let cached_on_b = Instant::now();
    assert_eq!(me(&b, &token).await, StatusCode::OK);
    let r = a
        .call(Method::POST, "/v1/auth/logout", Some(&token), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let logged_out = Instant::now();
    let refused = until_refused(&b, &token, Duration::from_secs(1)).await;
    assert!(refused - logged_out <= Duration::from_secs(1));
    // Sooner than B's one-second rule could have: the bus did it.
    assert!(
        refused - cached_on_b < Duration::from_millis(900),
        "{:?}",
        refused - cached_on_b
    );

    // Logout-all: every session of the player, on every instance.
    let (t1, t2) = (
        login_token(&a, "roaming", PASSWORD).await,
        login_token(&b, "roaming", PASSWORD).await,
    );
    for t in [&t1, &t2] {
        assert_eq!(me(&a, t).await, StatusCode::OK);
        assert_eq!(me(&b, t).await, StatusCode::OK);
    }
    let r = a
        .call(Method::POST, "/v1/auth/logout-all", Some(&t1), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let logged_out = Instant::now();
    for t in [&t1, &t2] {
        let refused = until_refused(&b, t, Duration::from_secs(1)).await;
        assert!(refused - logged_out <= Duration::from_secs(1));
        assert_eq!(me(&a, t).await, StatusCode::UNAUTHORIZED);
    }

    // Password change: every other session ends everywhere; this one lives.
    let (keep, other) = (
        login_token(&a, "roaming", PASSWORD).await,
        login_token(&a, "roaming", PASSWORD).await,
    );
    assert_eq!(me(&b, &keep).await, StatusCode::OK);
    assert_eq!(me(&b, &other).await, StatusCode::OK);
    let r = a
        .post(
            "/v1/auth/password",
            Some(&keep),
            json!({ "current_password": PASSWORD, "new_password": "another fine phrase" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    until_refused(&b, &other, Duration::from_secs(1)).await;
    assert_eq!(me(&b, &keep).await, StatusCode::OK);

    a.running.stop().await.unwrap();
    b.running.stop().await.unwrap();
}

#[tokio::test]
async fn with_redis_failed_logins_are_throttled_across_instances() {
    let Some(redis_url) = backend_url("CROUPIER_TEST_REDIS_URL") else {
        return;
    };
    let prefix = unique_prefix();
    let _keys = RedisKeys {
        url: redis_url.clone(),
        prefix: prefix.clone(),
    };
    // Separate databases even: the quota lives in Redis.
    let config = |c: &mut croupier::config::Config| {
        c.redis_url = Some(redis_url.clone());
        c.redis.key_prefix = prefix.clone();
        c.auth.login_failures_per_account_ip = 4;
    };
    let a = spawn_instance(config).await;
    let b = spawn_instance(config).await;
    for app in [&a, &b, &a, &b] {
        let r = app.login("guessed", "not the password").await;
        assert_problem(&r, 401, "invalid_credentials");
    }
    // Each instance alone has seen two failures, but the quota is shared.
    for app in [&a, &b] {
        let r = app.login("guessed", "not the password").await;
        assert_problem(&r, 429, "too_many_attempts");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900 / 4).contains(&retry), "retry-after {retry}");
    }
    // The keys are Redis's: they carry the prefix and expire.
    let mut conn = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}rl:login:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    for k in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0, "{k} never expires");
    }
}

#[tokio::test]
async fn with_redis_unreachable_everything_works_degraded() {
    let started = Instant::now();
    let app = spawn_with(|c| {
        c.redis_url = Some(UNREACHABLE_REDIS.into());
        c.auth.login_failures_per_account_ip = 3;
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5), "slow start");
    assert!(!app.running.state.session_feed.trusts_cache());

    // Accounts, sessions, wallets, bets: no 5xx, and no request waits long.
    let begun = Instant::now();
    let (_, token) = app.player("degraded").await;
    let r = app
        .call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    for _ in 0..5 {
        let r = app
            .post(
                "/v1/games/dice/bets",
                Some(&token),
                json!({ "currency": "CHIP", "stake": 100, "params": { "target": 50.5, "direction": "over" } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    assert_eq!(me(&app, &token).await, StatusCode::OK);
    let r = app
        .call(Method::POST, "/v1/auth/logout", Some(&token), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(me(&app, &token).await, StatusCode::UNAUTHORIZED);
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "{:?}",
        begun.elapsed()
    );

    // Throttling falls back to this instance's own limits rather than none.
    for _ in 0..3 {
        assert_problem(
            &app.login("degraded", "wrong password!").await,
            401,
            "invalid_credentials",
        );
    }
    assert_problem(
        &app.login("degraded", "wrong password!").await,
        429,
        "too_many_attempts",
    );
    // The verification endpoint's limit too: no 5xx.
    let r = app
        .post(
            "/v1/fairness/verify",
            None,
            json!({ "game": "dice", "server_seed": "s", "client_seed": "c", "nonce": 0, "params": { "target": 50.5, "direction": "over" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // And the operator can see it (the counters are process-wide).
    let metrics = app.metrics().await.body.as_str().unwrap().to_owned();
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(
        value(r#"croupier_ratelimit_degraded_total{fallback="local"}"#) >= 4.0,
        "{metrics}"
    );
    assert!(
        value(r#"croupier_redis_errors_total{op="ratelimit"}"#) >= 1.0,
        "{metrics}"
    );
    assert!(
        value(r#"croupier_redis_errors_total{op="revocation_subscribe"}"#) >= 1.0,
        "{metrics}"
    );
    app.running.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_live_feed_instances_on_one_database_honour_a_logout_within_a_second() {
    let Some(pg) = backend_url("CROUPIER_TEST_POSTGRES_URL") else {
        return;
    };
    // No Redis at all, and Redis configured but down: the same one-second rule.
    for redis_url in [None, Some(UNREACHABLE_REDIS)] {
        let (_schema, db) = PgSchema::create_on(pg.clone()).await;
        let config = |c: &mut croupier::config::Config| {
            c.database_url = Some(db.clone());
            c.redis_url = redis_url.map(str::to_owned);
        };
        let a = spawn_instance(config).await;
        let b = spawn_instance(config).await;
        assert!(!b.running.state.session_feed.trusts_cache());

        let (_, token) = a.player("unannounced").await;
        assert_eq!(me(&b, &token).await, StatusCode::OK);
        let r = a
            .call(Method::POST, "/v1/auth/logout", Some(&token), None, None)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        // B read the session before the logout; one second after the logout
        // its copy is too old to be used.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            me(&b, &token).await,
            StatusCode::UNAUTHORIZED,
            "redis: {redis_url:?}"
        );

        // A session still live keeps working on B across re-reads, and its
        // activity is not lost to them.
        let token = login_token(&a, "unannounced", PASSWORD).await;
        for _ in 0..3 {
            assert_eq!(me(&b, &token).await, StatusCode::OK);
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        a.running.stop().await.unwrap();
        b.running.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_a_socket_on_an_api_instance_hears_a_bet_placed_on_another() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let Some(pg) = backend_url("CROUPIER_TEST_POSTGRES_URL") else {
        return;
    };
    let Some(redis_url) = backend_url("CROUPIER_TEST_REDIS_URL") else {
        return;
    };
    let (_schema, db) = PgSchema::create_on(pg).await;
    let prefix = unique_prefix();
    let _keys = RedisKeys {
        url: redis_url.clone(),
        prefix: prefix.clone(),
    };
    let instance = |roles: &'static str| {
        let (db, redis_url, prefix) = (db.clone(), redis_url.clone(), prefix.clone());
        move |c: &mut croupier::config::Config| {
            c.database_url = Some(db);
            c.redis_url = Some(redis_url);
            c.redis.key_prefix = prefix;
            c.roles = roles.parse().unwrap();
        }
    };
    // A runs no worker: whatever its socket hears came through Redis.
    let a = spawn_instance(instance("api")).await;
    let b = spawn_instance(instance("api,worker,relay")).await;

    let (_, token) = b.player("faraway").await;
    let r = b
        .call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let mut req = format!("{}/v1/ws", a.base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();

    // A subscribes in the background: bet until one of the bets is heard.
    let mut bets = Vec::new();
    let heard = 'outer: loop {
        assert!(bets.len() < 10, "no notification reached instance A");
        let r = b
            .post(
                "/v1/games/dice/bets",
                Some(&token),
                json!({ "currency": "CHIP", "stake": 100, "params": { "target": 50.5, "direction": "over" } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        bets.push(r.body);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, ws.next()).await {
            if let Message::Text(t) = msg.unwrap() {
                let m: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if m["type"] == "bet.settled" {
                    break 'outer m;
                }
            }
        }
    };
    let bet = bets
        .iter()
        .find(|b| b["bet_id"] == heard["data"]["bet_id"])
        .expect("a bet placed on B");
    assert_eq!(heard["data"]["balance"], bet["balance"]);
    assert_eq!(a.running.state.hub.connections(), 1);
    a.running.stop().await.unwrap();
    b.running.stop().await.unwrap();
}
