//! The API's configuration section. Every knob has a default and is documented
//! in the TOML printed by `croupier config`.

use crate::auth::Argon2Config;
use chrono::Duration;
use croupier_core::{Currency, CurrencyCode};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub currencies: Vec<CurrencyConfig>,
    pub faucet: FaucetConfig,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    pub games: crate::catalog::GamesConfig,
    /// Mission rules (`[[missions]]`); admin rules of the same id override them.
    pub missions: Vec<croupier_core::missions::MissionRule>,
    /// Live-notification sockets (`GET /v1/ws`).
    pub ws: crate::ws::WsConfig,
    pub recommendations: crate::recommendations::RecommendationsConfig,
    pub web: WebConfig,
}

/// The web clients (`[web]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve the lobby at `/` and the operator console at `/console/`
    /// (false: an API-only instance).
    pub enabled: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyConfig {
    pub code: CurrencyCode,
    /// Minor-unit exponent (2: amounts are hundredths).
    pub exponent: u8,
    /// Play-money bonus per claim, in minor units (0 disables claims).
    #[serde(default)]
    pub faucet_amount: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaucetConfig {
    /// Seconds between two claims of the same currency by one player.
    pub period_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A session ends after this long without activity.
    pub session_idle_secs: u64,
    /// A session ends this long after login, whatever its activity.
    pub session_absolute_secs: u64,
    /// Activity is recorded at most this often per session.
    pub touch_interval_secs: u64,
    /// How long a session stays cached in-process before being re-read.
    pub session_cache_secs: u64,
    pub argon2: Argon2Config,
    /// Failed logins allowed per (account, client IP) in `login_window_secs`.
    pub login_failures_per_account_ip: u32,
    /// Failed logins allowed per account from all IPs; once exceeded, a new try
    /// is allowed every window/limit seconds, so a real user is never locked out for long.
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client IP across all accounts.
    pub login_failures_per_ip: u32,
    pub login_window_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest accepted request body; larger ones get 413.
    pub body_limit_bytes: usize,
    /// A request holding an Idempotency-Key that has not finished after this long
    /// (its instance died) may be retried with the same key.
    pub idempotency_lease_secs: u64,
    /// Idempotency keys are forgotten this many hours after their first
    /// request (0 keeps them): a retry after that is a new request.
    pub idempotency_retention_hours: u64,
    /// Take the client IP from X-Forwarded-For: the last address, the one the
    /// proxy appended (only behind one trusted proxy).
    pub trust_forwarded_for: bool,
    /// How long a `GET /v1/games/{game}/stats` answer is reused (0: not cached).
    pub game_stats_cache_secs: u64,
    /// Requests this instance handles at once (the ops routes not counted);
    /// beyond that, 503 `overloaded` with `Retry-After`. 0: no limit.
    pub max_in_flight: usize,
    /// How long a request over `max_in_flight` may wait for a slot before it
    /// is shed (0: shed at once).
    pub queue_timeout_ms: u64,
    /// Longest an API read (GET, HEAD) may take; past it, 503 `timeout`
    /// with `Retry-After` (0: unbounded). Writes are bounded where they wait.
    pub request_timeout_ms: u64,
    /// Request quotas per route class; see [`RateLimitsConfig`].
    pub rate_limits: RateLimitsConfig,
}

/// Per-route-class request quotas (`[http.rate_limits]`), enforced through
/// the shared rate limiter (cluster-wide with Redis). Over a quota: 429
/// `rate_limited` with `Retry-After`; every limited route answers with
/// `RateLimit-*` headers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// `POST /v1/auth/register` and `/v1/auth/login`, per client IP.
    pub auth: RateRule,
    /// Bets and mines actions (open, reveal, cash out), per player.
    pub bets: RateRule,
    /// `/v1/admin/*`, per player.
    pub admin: RateRule,
    /// Every other API route: per player when authenticated, else per client IP.
    pub default: RateRule,
}

/// `limit` requests per `period_secs`, all of which may come at once (the
/// burst); the quota then refills evenly, one request every
/// `period_secs / limit`. `limit = 0` disables the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRule {
    pub limit: u32,
    pub period_secs: u64,
}

impl RateRule {
    pub const fn new(limit: u32, period_secs: u64) -> Self {
        Self { limit, period_secs }
    }

    /// The limiter's quota, or `None` when the rule is disabled.
    pub fn quota(&self) -> Option<croupier_core::ratelimit::Quota> {
        (self.limit > 0 && self.period_secs > 0).then(|| {
            croupier_core::ratelimit::Quota::new(
                self.limit,
                std::time::Duration::from_secs(self.period_secs),
            )
        })
    }
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        // Generous: a safety net against floods, not a product limit. The
        // load generator's 100 players at 10k bets/s are 100 bets/s each.
        Self {
            auth: RateRule::new(300, 60),
            bets: RateRule::new(2000, 10),
            admin: RateRule::new(600, 60),
            default: RateRule::new(1200, 10),
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            currencies: vec![CurrencyConfig {
                code: CurrencyCode::parse("CHIP").expect("valid"),
                exponent: 2,
                faucet_amount: 100_000,
            }],
            faucet: FaucetConfig::default(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            games: Default::default(),
            missions: vec![croupier_core::missions::MissionRule::default_win_5()],
            ws: Default::default(),
            recommendations: Default::default(),
            web: WebConfig::default(),
        }
    }
}

impl Default for FaucetConfig {
    fn default() -> Self {
        Self { period_secs: 3600 }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle_secs: 24 * 3600,
            session_absolute_secs: 30 * 24 * 3600,
            touch_interval_secs: 60,
            session_cache_secs: 60,
            argon2: Argon2Config::default(),
            login_failures_per_account_ip: 5,
            login_failures_per_account: 20,
            login_failures_per_ip: 100,
            login_window_secs: 900,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            idempotency_lease_secs: 60,
            idempotency_retention_hours: 24,
            trust_forwarded_for: false,
            game_stats_cache_secs: 5,
            max_in_flight: 1024,
            queue_timeout_ms: 50,
            request_timeout_ms: 30_000,
            rate_limits: RateLimitsConfig::default(),
        }
    }
}

impl AuthConfig {
    pub fn session_idle(&self) -> Duration {
        Duration::seconds(self.session_idle_secs as i64)
    }
    pub fn session_absolute(&self) -> Duration {
        Duration::seconds(self.session_absolute_secs as i64)
    }
    pub fn touch_interval(&self) -> Duration {
        Duration::seconds(self.touch_interval_secs as i64)
    }
}

impl ApiConfig {
    pub fn currency(&self, code: &str) -> Option<&CurrencyConfig> {
        self.currencies.iter().find(|c| c.code.as_str() == code)
    }

    pub fn currencies(&self) -> impl Iterator<Item = Currency> + '_ {
        self.currencies.iter().map(|c| Currency {
            code: c.code,
            exponent: c.exponent,
        })
    }

    /// Checks what serde cannot; the error names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        self.recommendations.validate()?;
        self.check_currencies()?;
        self.check_auth()?;
        let codes: Vec<_> = self.currencies.iter().map(|c| c.code).collect();
        self.games.validate(&codes)?;
        for (i, rule) in self.missions.iter().enumerate() {
            self.check_mission(rule)
                .map_err(|(field, msg)| format!("missions[{i}].{field}: {msg}"))?;
            if self.missions[..i].iter().any(|o| o.id == rule.id) {
                return Err(format!("missions[{i}].id: {} is configured twice", rule.id));
            }
        }
        self.check_http()?;
        self.ws.validate()
    }

    fn check_currencies(&self) -> Result<(), String> {
        if self.currencies.is_empty() {
            return Err("currencies: at least one currency must be configured".into());
        }
        for (i, c) in self.currencies.iter().enumerate() {
            if c.exponent > 8 {
                return Err(format!("currencies[{i}].exponent: must be 0-8"));
            }
            if c.faucet_amount < 0 {
                return Err(format!(
                    "currencies[{i}].faucet_amount: must not be negative"
                ));
            }
            if self.currencies[..i].iter().any(|o| o.code == c.code) {
                return Err(format!(
                    "currencies[{i}].code: {} is configured twice",
                    c.code
                ));
            }
        }
        Ok(())
    }

    /// Sessions, login throttling and password hashing (and the other
    /// periods that must not be zero).
    fn check_auth(&self) -> Result<(), String> {
        let a = &self.auth;
        for (key, v) in [
            ("auth.session_idle_secs", a.session_idle_secs),
            ("auth.session_absolute_secs", a.session_absolute_secs),
            ("auth.login_window_secs", a.login_window_secs),
            ("faucet.period_secs", self.faucet.period_secs),
            (
                "http.idempotency_lease_secs",
                self.http.idempotency_lease_secs,
            ),
        ] {
            if v == 0 {
                return Err(format!("{key}: must be greater than 0"));
            }
        }
        for (key, v) in [
            (
                "auth.login_failures_per_account_ip",
                a.login_failures_per_account_ip,
            ),
            (
                "auth.login_failures_per_account",
                a.login_failures_per_account,
            ),
            ("auth.login_failures_per_ip", a.login_failures_per_ip),
        ] {
            if v == 0 {
                return Err(format!("{key}: must be greater than 0"));
            }
        }
        if a.argon2.memory_kib < 19 * 1024 || a.argon2.iterations < 2 || a.argon2.parallelism < 1 {
            return Err(
                "auth.argon2: below the minimum (memory_kib >= 19456, iterations >= 2, parallelism >= 1)"
                    .into(),
            );
        }
        a.argon2.hasher().map_err(|e| format!("auth.argon2: {e}"))?;
        Ok(())
    }

    fn check_http(&self) -> Result<(), String> {
        if self.http.body_limit_bytes < 1024 {
            return Err("http.body_limit_bytes: must be at least 1024".into());
        }
        if self.http.queue_timeout_ms > 60_000 {
            return Err("http.queue_timeout_ms: must be at most 60000".into());
        }
        if self.http.request_timeout_ms != 0
            && !(100..=3_600_000).contains(&self.http.request_timeout_ms)
        {
            return Err("http.request_timeout_ms: must be 0 (unbounded) or 100..=3600000".into());
        }
        let r = &self.http.rate_limits;
        for (class, rule) in [
            ("auth", r.auth),
            ("bets", r.bets),
            ("admin", r.admin),
            ("default", r.default),
        ] {
            if rule.limit > 0 && rule.period_secs == 0 {
                return Err(format!(
                    "http.rate_limits.{class}.period_secs: must be greater than 0 (or limit 0 to disable)"
                ));
            }
            // The limiters space requests period/limit apart in microseconds.
            if u64::from(rule.limit) > rule.period_secs.saturating_mul(1_000_000) {
                return Err(format!(
                    "http.rate_limits.{class}.limit: must be at most 1000000 per second of period_secs"
                ));
            }
            if rule.period_secs > 10 * 365 * 24 * 3600 {
                return Err(format!(
                    "http.rate_limits.{class}.period_secs: must be at most ten years"
                ));
            }
        }
        Ok(())
    }
}

impl ApiConfig {
    /// Checks a mission rule against this configuration: its own constraints,
    /// then that its currencies are configured and its game exists. Returns
    /// the offending field and why.
    pub fn check_mission(
        &self,
        rule: &croupier_core::missions::MissionRule,
    ) -> Result<(), (&'static str, String)> {
        rule.validate()?;
        if self.currency(rule.reward.currency.as_str()).is_none() {
            return Err(("reward.currency", "currency is not configured".into()));
        }
        if let Some(c) = rule.currency {
            if self.currency(c.as_str()).is_none() {
                return Err(("currency", "currency is not configured".into()));
            }
        }
        if let Some(g) = &rule.game {
            if g.parse::<croupier_fair::Game>().is_err() {
                return Err(("game", format!("no game named {g:?}")));
            }
        }
        Ok(())
    }
}
