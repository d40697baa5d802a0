//! Fixture builders for the HTTP suites: the real platform on port 0 with a
//! fresh data directory, requests and their problems, players, wallets, and
//! bets re-verified from their revealed seeds. (The `process` tests use it too.)
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use croupier::config::Config;
use croupier::server::Running;
use croupier_core::*;
use croupier_fair::{play, server_seed_hash, verify_json, Game, GameParams};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const PASSWORD: &str = "correct horse battery";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Asserts an RFC 9457 problem with this status and stable code.
#[track_caller]
pub fn assert_problem(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "unexpected status: {:?}", r.body);
    assert!(
        r.content_type().starts_with(PROBLEM_JSON),
        "content type {:?} for {:?}",
        r.content_type(),
        r.body
    );
    assert_eq!(r.code(), code, "{:?}", r.body);
    assert_eq!(r.body["status"], status, "{:?}", r.body);
    assert!(r.body["type"].is_string(), "{:?}", r.body);
    assert!(r.body["title"].is_string(), "{:?}", r.body);
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub running: Running,
    pub config: Config,
    _dir: tempfile::TempDir,
    _schema: Option<PgSchema>,
}

/// With `CROUPIER_TEST_HTTP_BACKEND=postgres` every app runs on PostgreSQL
/// (`CROUPIER_TEST_POSTGRES_URL`) in a schema of its own, dropped afterwards;
/// otherwise on the embedded SQLite store.
fn backend_is_postgres() -> bool {
    std::env::var("CROUPIER_TEST_HTTP_BACKEND").as_deref() == Ok("postgres")
}

/// The URL in `var` (e.g. `CROUPIER_TEST_REDIS_URL`), or `None` (skip the
/// test) on a developer machine without that server. Under
/// `CROUPIER_TEST_REQUIRE_BACKENDS` (CI) a missing URL fails the test instead.
pub fn backend_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CROUPIER_TEST_REQUIRE_BACKENDS").is_some() {
                panic!("{var} must be set");
            }
            eprintln!("skipped: {var} not set");
            None
        }
    }
}

/// A throwaway schema on the test server.
pub struct PgSchema {
    base_url: String,
    name: String,
}

impl PgSchema {
    /// Creates a schema on `CROUPIER_TEST_POSTGRES_URL`; returns it and a
    /// URL whose connections use it.
    pub async fn create() -> (Self, String) {
        let base_url = std::env::var("CROUPIER_TEST_POSTGRES_URL")
            .expect("CROUPIER_TEST_HTTP_BACKEND=postgres needs CROUPIER_TEST_POSTGRES_URL");
        Self::create_on(base_url).await
    }

    /// A schema on the server at `base_url`; returns it and a URL whose
    /// connections use it.
    pub async fn create_on(base_url: String) -> (Self, String) {
        let name = format!("http_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base_url)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .expect("create schema");
        let sep = if base_url.contains('?') { '&' } else { '?' };
        // The application name tags the app's connections, so the drop can
        // end them (see below).
        let url =
            format!("{base_url}{sep}options=-c%20search_path%3D{name}&application_name={name}");
        (Self { base_url, name }, url)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await
                else {
                    return;
                };
                // The app's background loops may still hold a transaction on
                // this schema, and they run on the test's runtime, which this
                // join blocks: end their connections first, and never wait on
                // a lock for long, or the drop and the app wait for each other.
                let _ = sqlx::query("SET lock_timeout = '5s'")
                    .execute(&mut conn)
                    .await;
                for _ in 0..5 {
                    let _ = sqlx::query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    )
                    .bind(&name)
                    .execute(&mut conn)
                    .await;
                    if sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .execute(&mut conn)
                        .await
                        .is_ok()
                    {
                        break;
                    }
                }
            });
        })
        .join();
    }
}

/// A response reduced to what tests assert on.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_on(croupier_core::Clock::system(), tweak).await
}

/// An app whose sessions and claims are measured on `clock`: a manual clock
/// the test moves on instead of sleeping out an expiry.
pub async fn spawn_on(clock: croupier_core::Clock, tweak: impl FnOnce(&mut Config)) -> TestApp {
    if backend_is_postgres() {
        let (schema, url) = PgSchema::create().await;
        start(Some(schema), clock, |c| {
            c.database_url = Some(url);
            tweak(c);
        })
        .await
    } else {
        start(None, clock, tweak).await
    }
}

/// An instance configured by `tweak` alone, on no schema of its own: for
/// several instances sharing one database (`database_url`) and Redis.
pub async fn spawn_instance(tweak: impl FnOnce(&mut Config)) -> TestApp {
    start(None, croupier_core::Clock::system(), tweak).await
}

async fn start(
    schema: Option<PgSchema>,
    clock: croupier_core::Clock,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    tweak(&mut config);
    config.validate().expect("test config is valid");
    let running = croupier::server::start_on(&config, clock)
        .await
        .expect("app starts");
    TestApp {
        base: format!("http://{}", running.addr),
        http: reqwest::Client::new(),
        running,
        config,
        _dir: dir,
        _schema: schema,
    }
}

impl TestApp {
    /// Sends a request; `token` as bearer, `key` as Idempotency-Key, `body` as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, None, Some(body)).await
    }

    pub async fn register(&self, username: &str) -> Resp {
        self.post(
            "/v1/auth/register",
            None,
            json!({ "username": username, "password": PASSWORD }),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Resp {
        self.post(
            "/v1/auth/login",
            None,
            json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Registers `username` and logs in; returns (player_id, token).
    pub async fn player(&self, username: &str) -> (String, String) {
        let r = self.register(username).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "register {username}: {:?}",
            r.body
        );
        let id = r.body["player_id"].as_str().unwrap().to_owned();
        let l = self.login(username, PASSWORD).await;
        assert_eq!(l.status, StatusCode::OK, "login {username}: {:?}", l.body);
        (id, l.body["token"].as_str().unwrap().to_owned())
    }

    /// Creates a user with `role` directly in the store (as `croupier admin
    /// create-user` does) and logs in; returns (player_id, token).
    pub async fn user_with_role(&self, username: &str, role: Role) -> (String, String) {
        let hash = croupier_api::auth::hash_password(self.config.auth.argon2, PASSWORD.into())
            .await
            .expect("hash");
        let p = self
            .running
            .state
            .store
            .create_player(NewPlayer {
                id: PlayerId::new(),
                username: username.into(),
                password_hash: hash,
                roles: vec![role],
                created_at: croupier_core::now(),
            })
            .await
            .expect("create user");
        let l = self.login(username, PASSWORD).await;
        assert_eq!(l.status, StatusCode::OK, "{:?}", l.body);
        (
            p.id.to_string(),
            l.body["token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn audit(&self, admin_token: &str) -> Value {
        let r = self.get("/v1/admin/ledger/audit", admin_token).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }
}

impl TestApp {
    /// A request builder for `path`, for tests that need custom headers or raw bodies.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path))
    }

    /// Sends a prepared request and reduces the response like [`TestApp::call`].
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// `GET /metrics` on the instance's metrics listener.
    pub async fn metrics(&self) -> Resp {
        let addr = self.running.metrics_addr.expect("metrics_listen is on");
        self.send(self.http.get(format!("http://{addr}/metrics")))
            .await
    }

    /// The caller's balance in `currency` as listed by `GET /v1/wallets`.
    pub async fn balance(&self, token: &str, currency: &str) -> i64 {
        let r = self.get("/v1/wallets", token).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
            .as_array()
            .expect("wallet list")
            .iter()
            .find(|w| w["currency"] == currency)
            .unwrap_or_else(|| panic!("{currency} not listed: {:?}", r.body))["balance"]
            .as_i64()
            .expect("integer balance")
    }

    /// Every transaction of the caller's `currency` wallet, newest first,
    /// walking all pages of `limit` items.
    pub async fn all_transactions(&self, token: &str, currency: &str, limit: u32) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/wallets/{currency}/transactions?limit={limit}&cursor={c}"),
                None => format!("/v1/wallets/{currency}/transactions?limit={limit}"),
            };
            let r = self.get(&path, token).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
            let page = r.body["items"].as_array().expect("items").clone();
            assert!(
                page.len() <= limit as usize,
                "page larger than limit: {:?}",
                r.body
            );
            items.extend(page);
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        items
    }

    /// `POST /v1/admin/players/{player_id}/adjustments` of `amount` CHIP.
    pub async fn adjust(
        &self,
        admin_token: &str,
        player_id: &str,
        amount: i64,
        key: Option<&str>,
    ) -> Resp {
        self.call(
            Method::POST,
            &format!("/v1/admin/players/{player_id}/adjustments"),
            Some(admin_token),
            key,
            Some(json!({ "currency": "CHIP", "amount": amount, "reason": "test adjustment" })),
        )
        .await
    }
}

/// A stream prefix of its own; its streams are deleted when dropped.
pub struct TestStreams {
    url: String,
    pub prefix: String,
}

impl TestStreams {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: format!("h_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        }
    }
}

impl Drop for TestStreams {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.to_ascii_uppercase());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(client) = async_nats::connect(&url).await else {
                    return;
                };
                let js = async_nats::jetstream::new(client);
                for domain in croupier::events::DOMAINS {
                    let _ = js
                        .delete_stream(format!("{prefix}_{}", domain.to_ascii_uppercase()))
                        .await;
                }
            });
        })
        .join();
    }
}

// ---------------------------------------------------------------- routes and answers

pub const CLAIM: &str = "/v1/wallets/CHIP/claims";
pub const NEW_PASSWORD: &str = "a brand new passphrase";

/// Asserts a problem naming the offending `field`.
#[track_caller]
pub fn assert_field(r: &Resp, status: u16, code: &str, field: &str) {
    assert_problem(r, status, code);
    assert_eq!(r.body["field"], field, "{:?}", r.body);
}

pub fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn retry_after(r: &Resp) -> u64 {
    header(r, "retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {:?}", r))
        .parse()
        .expect("Retry-After in whole seconds")
}

pub fn replayed(r: &Resp) -> bool {
    header(r, "idempotent-replayed") == Some("true")
}

pub fn timestamp(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 timestamp: {v:?}"))
        .with_timezone(&Utc)
}

pub async fn login_from(app: &TestApp, ip: &str, username: &str, password: &str) -> Resp {
    app.send(
        app.request(Method::POST, "/v1/auth/login")
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": username, "password": password })),
    )
    .await
}

pub async fn claim(app: &TestApp, token: &str, key: Option<&str>) -> Resp {
    app.call(Method::POST, CLAIM, Some(token), key, None).await
}

pub async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.get("/v1/me", token).await.status
}

pub fn adjustments_path(player_id: &str) -> String {
    format!("/v1/admin/players/{player_id}/adjustments")
}

pub fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

// ---------------------------------------------------------------- games
// Every game test that places bets ends with [`rotate_and_verify_all`]: the
// seeds are rotated and each bet is re-verified offline from its revealed
// server seed with `croupier_fair`.

/// An app without missions, for the game suites (`bets`, `mines`, `fairness`,
/// `games`): their balance arithmetic leaves no room for mission rewards, which
/// the default `win-5` mission pays asynchronously after five wins (the
/// `missions` module covers them).
pub async fn spawn_games() -> TestApp {
    spawn_games_with(|_| {}).await
}

pub async fn spawn_games_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_with(|c| {
        c.missions.clear();
        tweak(c)
    })
    .await
}

pub const SEEDS: &str = "/v1/fairness/seeds";
pub const ROTATE: &str = "/v1/fairness/seeds/rotate";
pub const VERIFY: &str = "/v1/fairness/verify";
pub const ROUNDS: &str = "/v1/games/mines/rounds";
/// What one faucet claim credits (the default configuration).
pub const FAUCET: i64 = 100_000;
pub const GAMES: [&str; 7] = [
    "dice", "limbo", "roulette", "flip", "plinko", "keno", "mines",
];
pub const BET_KEYS: [&str; 12] = [
    "bet_id",
    "game",
    "currency",
    "stake",
    "payout",
    "multiplier",
    "win",
    "params",
    "outcome",
    "balance",
    "created_at",
    "fairness",
];

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

pub fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
pub fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[track_caller]
pub fn uint(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

#[track_caller]
pub fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// A two-decimal JSON number as an integer number of hundredths.
#[track_caller]
pub fn hundredths(v: &Value) -> i64 {
    let f = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    let h = (f * 100.0).round();
    assert!(
        (f * 100.0 - h).abs() < 1e-6,
        "{v} has more than two decimals"
    );
    h as i64
}

/// `floor(stake × hundredths / 100)`, exact.
pub fn times(stake: i64, hundredths: i64) -> i64 {
    (stake as i128 * hundredths as i128 / 100) as i64
}

pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[track_caller]
pub fn assert_timestamp(v: &Value) {
    DateTime::parse_from_rfc3339(text(v)).unwrap_or_else(|e| panic!("{v}: {e}"));
}

/// Registers `name`, logs in and claims the faucet bonus; returns (player_id, token).
pub async fn funded(app: &TestApp, name: &str) -> (String, String) {
    let (id, token) = app.player(name).await;
    let r = app
        .call(Method::POST, CLAIM, Some(&token), None, None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    (id, token)
}

pub fn bet_path(game: &str) -> String {
    format!("/v1/games/{game}/bets")
}

pub async fn bet(app: &TestApp, token: &str, game: &str, stake: i64, params: Value) -> Resp {
    app.post(
        &bet_path(game),
        Some(token),
        json!({ "currency": "CHIP", "stake": stake, "params": params }),
    )
    .await
}

/// Places a bet that must be accepted and checks the documented shape.
pub async fn bet_ok(app: &TestApp, token: &str, game: &str, stake: i64, params: Value) -> Value {
    let r = bet(app, token, game, stake, params.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{game} {params}: {:?}",
        r.body
    );
    assert!(r.content_type().starts_with("application/json"));
    assert!(!replayed(&r));
    assert_bet_shape(&r.body);
    assert_eq!(r.body["game"], game);
    assert_eq!(r.body["stake"], stake);
    assert_eq!(r.body["params"], params);
    r.body
}

/// How many floats a settled bet consumed, per the protocol.
pub fn floats_used(game: &str, params: &Value) -> usize {
    match game {
        "dice" | "limbo" | "roulette" => 1,
        "flip" => uint(&params["count"]) as usize,
        "plinko" => uint(&params["rows"]) as usize,
        "keno" => 10,
        "mines" => uint(&params["mines"]) as usize,
        other => panic!("unexpected game {other}"),
    }
}

/// The documented bet object: keys, types and the payout/multiplier relation.
#[track_caller]
pub fn assert_bet_shape(b: &Value) {
    assert_eq!(keys(b), names(&BET_KEYS), "{b}");
    let game = text(&b["game"]);
    assert!(GAMES.contains(&game), "{b}");
    assert_eq!(b["currency"], "CHIP");
    assert_eq!(text(&b["bet_id"]).len(), 36, "{b}");
    assert_timestamp(&b["created_at"]);
    let stake = int(&b["stake"]);
    let payout = int(&b["payout"]);
    assert!(stake > 0 && payout >= 0, "{b}");
    assert!(int(&b["balance"]) >= 0, "{b}");
    assert!(b["win"].is_boolean(), "{b}");
    let m = hundredths(&b["multiplier"]);
    if game == "roulette" {
        // The effective multiplier, floored to two decimals.
        assert_eq!(m, (payout as i128 * 100 / stake as i128) as i64, "{b}");
    } else {
        assert_eq!(payout, times(stake, m), "{b}");
    }
    let f = &b["fairness"];
    let mut expected = names(&["server_seed_hash", "client_seed", "nonce", "floats"]);
    if f.get("server_seed").is_some() {
        expected.insert("server_seed".into());
    }
    assert_eq!(keys(f), expected, "{b}");
    assert!(is_hex64(text(&f["server_seed_hash"])), "{b}");
    assert!(!text(&f["client_seed"]).is_empty());
    uint(&f["nonce"]);
    let floats = f["floats"].as_array().expect("floats");
    assert_eq!(floats.len(), floats_used(game, &b["params"]), "{b}");
    for x in floats {
        let x = x.as_f64().expect("float");
        assert!((0.0..1.0).contains(&x), "{b}");
    }
}

pub async fn seeds(app: &TestApp, token: &str) -> Value {
    let r = app.get(SEEDS, token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// The nonce the player's next bet will use.
pub async fn next_nonce(app: &TestApp, token: &str) -> u64 {
    uint(&seeds(app, token).await["nonce"])
}

pub async fn rotate(app: &TestApp, token: &str, body: Option<Value>) -> Resp {
    app.call(Method::POST, ROTATE, Some(token), None, body)
        .await
}

pub async fn catalog(app: &TestApp) -> Vec<Value> {
    let r = app.call(Method::GET, "/v1/games", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body.as_array().expect("game list").clone()
}

/// Every game's current house edge.
pub async fn edges(app: &TestApp) -> BTreeMap<String, u32> {
    catalog(app)
        .await
        .iter()
        .map(|e| (text(&e["id"]).to_owned(), uint(&e["house_edge_bps"]) as u32))
        .collect()
}

/// Every bet of the caller, newest first, walking pages of `limit`.
pub async fn history(app: &TestApp, token: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/bets?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        assert_eq!(keys(&r.body), names(&["items", "next_cursor"]));
        let page = r.body["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit as usize);
        items.extend(page);
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    items
}

/// GETs `path`; returns the parsed body and its raw text. (serde_json's default
/// parser may read a 17-digit float one ulp off, so exact float checks use the text.)
pub async fn get_raw(app: &TestApp, path: &str, token: &str) -> (Value, String) {
    let resp = app
        .request(Method::GET, path)
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let raw = resp.text().await.expect("body");
    (serde_json::from_str(&raw).expect("JSON"), raw)
}

/// The raw JSON text of a bet's `fairness.floats` array.
pub fn raw_floats(raw: &str) -> &str {
    let start = raw.find("\"floats\":[").expect("floats listed") + "\"floats\":".len();
    let len = raw[start..].find(']').expect("array closed") + 1;
    &raw[start..start + len]
}

/// Re-verifies one bet from its revealed seeds: the commitment, the outcome
/// (`verify_json`), and the payout, multiplier, win flag and floats (`play` at
/// `edge`, the house edge the bet was placed at). `raw` is the bet's JSON text.
#[track_caller]
pub fn verify_bet(bet: &Value, raw: &str, edge: u32) {
    let game = text(&bet["game"]);
    let f = &bet["fairness"];
    let seed = f["server_seed"]
        .as_str()
        .unwrap_or_else(|| panic!("server seed not revealed: {bet}"));
    let client = text(&f["client_seed"]);
    let nonce = uint(&f["nonce"]);
    assert_eq!(
        server_seed_hash(seed),
        text(&f["server_seed_hash"]),
        "{bet}"
    );
    let params = &bet["params"];
    // A mines bet records `{mines, tiles}`: the tiles picked, in order (the
    // last one the mine, if one was hit). The engine replays it as "reveal
    // these tiles, then cash out", and a verifier takes it as it is.
    let (verify_params, play_params) = if game == "mines" {
        let mut tiles: Vec<Value> = bet["outcome"]["revealed"]
            .as_array()
            .expect("revealed")
            .clone();
        if let Some(hit) = bet["outcome"].get("hit") {
            tiles.push(hit.clone());
        }
        assert_eq!(
            params,
            &json!({ "mines": params["mines"], "tiles": tiles }),
            "{bet}"
        );
        (params.clone(), params.clone())
    } else {
        (params.clone(), params.clone())
    };
    let expected = verify_json(game, seed, client, nonce, &verify_params)
        .unwrap_or_else(|e| panic!("verify_json refused {bet}: {e}"));
    for (k, v) in expected.as_object().expect("object") {
        assert_eq!(&bet["outcome"][k], v, "outcome {k} of {bet}");
    }
    let game_id: Game = game.parse().expect("game");
    let parsed = GameParams::from_json(game_id, &play_params)
        .unwrap_or_else(|e| panic!("engine refused the params of {bet}: {e:?}"));
    let settled = play(&parsed, seed, client, nonce, edge).expect("play");
    let stake = int(&bet["stake"]);
    assert_eq!(
        settled.payout(stake),
        int(&bet["payout"]),
        "payout of {bet}"
    );
    assert_eq!(
        settled.multiplier.hundredths() as i64,
        hundredths(&bet["multiplier"]),
        "multiplier of {bet}"
    );
    assert_eq!(Value::Bool(settled.win), bet["win"], "win of {bet}");
    // Exactly the floats drawn, to the last bit (each is k / 2^32).
    let drawn = serde_json::to_string(&settled.floats_used).unwrap();
    assert_eq!(raw_floats(raw), drawn, "floats of {bet}");
    assert!(settled
        .floats_used
        .iter()
        .all(|x| (x * 4_294_967_296.0).fract() == 0.0));
    if game != "mines" {
        assert_eq!(bet["outcome"], settled.outcome, "{bet}");
    }
}

/// Rotates the caller's seed pair, then re-verifies EVERY bet they ever placed
/// (each read back with `GET /v1/bets/{id}`) from its revealed server seed at
/// the games' current house edges. Returns the verified bets, newest first.
pub async fn rotate_and_verify_all(app: &TestApp, token: &str) -> Vec<Value> {
    let before = seeds(app, token).await;
    let r = rotate(app, token, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let revealed = &r.body["revealed"];
    assert_eq!(revealed["server_seed_hash"], before["server_seed_hash"]);
    assert_eq!(revealed["client_seed"], before["client_seed"]);
    assert_eq!(revealed["nonce"], before["nonce"]);
    assert_eq!(
        server_seed_hash(text(&revealed["server_seed"])),
        text(&before["server_seed_hash"])
    );
    assert_eq!(r.body["nonce"], 0);
    assert_ne!(r.body["server_seed_hash"], before["server_seed_hash"]);

    // Every revealed pair hashes to its commitment; bets must quote them exactly.
    let after = seeds(app, token).await;
    let mut pairs: BTreeMap<String, (Value, BTreeSet<u64>)> = BTreeMap::new();
    for p in after["previous"].as_array().expect("previous") {
        let hash = text(&p["server_seed_hash"]);
        assert_eq!(server_seed_hash(text(&p["server_seed"])), hash, "{p}");
        pairs.insert(hash.to_owned(), (p.clone(), BTreeSet::new()));
    }

    let edges = edges(app).await;
    let listed = history(app, token, "", 100).await;
    let mut bets = Vec::with_capacity(listed.len());
    for item in &listed {
        let id = text(&item["bet_id"]);
        let (b, raw) = get_raw(app, &format!("/v1/bets/{id}"), token).await;
        assert_eq!(&b, item, "GET /v1/bets/{id} differs from the listing");
        assert_bet_shape(&b);
        let f = &b["fairness"];
        let (pair, nonces) = pairs
            .get_mut(text(&f["server_seed_hash"]))
            .unwrap_or_else(|| panic!("bet on an unrevealed pair: {b}"));
        assert_eq!(f["server_seed"], pair["server_seed"], "{b}");
        assert_eq!(f["client_seed"], pair["client_seed"], "{b}");
        let nonce = uint(&f["nonce"]);
        assert!(nonce < uint(&pair["nonce"]), "nonce beyond the pair's: {b}");
        assert!(nonces.insert(nonce), "nonce {nonce} used twice");
        verify_bet(&b, &raw, edges[text(&b["game"])]);
        bets.push(b);
    }
    bets
}

/// Asserts the caller's balance and next nonce are what they were.
pub async fn assert_untouched(app: &TestApp, token: &str, balance: i64, nonce: u64, what: &str) {
    assert_eq!(
        app.balance(token, "CHIP").await,
        balance,
        "{what} moved money"
    );
    assert_eq!(next_nonce(app, token).await, nonce, "{what} used a nonce");
}

pub async fn open_round(app: &TestApp, token: &str, stake: i64, mines: u8) -> Resp {
    app.post(
        ROUNDS,
        Some(token),
        json!({ "currency": "CHIP", "stake": stake, "mines": mines }),
    )
    .await
}

pub async fn cash_out(app: &TestApp, token: &str, round: &str) -> Resp {
    app.call(
        Method::POST,
        &format!("{ROUNDS}/{round}/cashout"),
        Some(token),
        None,
        None,
    )
    .await
}

/// Waits until the outbox is empty: every event written so far was published
/// and, on the in-process bus, handled by every consumer. The positive signal
/// a test waits for before checking that nothing more happened.
pub async fn events_settle(app: &TestApp) {
    let store = app.running.state.store.clone();
    let start = std::time::Instant::now();
    while store.outbox_backlog().await.expect("outbox backlog") > 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the outbox did not drain"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
