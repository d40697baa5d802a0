//! Test harness: the real platform on port 0 with a fresh data directory.
#![allow(dead_code)]

use croupier::config::Config;
use croupier::server::Running;
use croupier_core::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

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
    if backend_is_postgres() {
        let (schema, url) = PgSchema::create().await;
        start(Some(schema), |c| {
            c.database_url = Some(url);
            tweak(c);
        })
        .await
    } else {
        start(None, tweak).await
    }
}

/// An instance configured by `tweak` alone, on no schema of its own: for
/// several instances sharing one database (`database_url`) and Redis.
pub async fn spawn_instance(tweak: impl FnOnce(&mut Config)) -> TestApp {
    start(None, tweak).await
}

async fn start(schema: Option<PgSchema>, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    tweak(&mut config);
    config.validate().expect("test config is valid");
    let running = croupier::server::start(&config).await.expect("app starts");
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
