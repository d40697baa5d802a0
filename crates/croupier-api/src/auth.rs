//! Passwords, session tokens, the session cache and the authentication middleware.
//!
//! A token is 256 random bits (64 hex characters) shown once to the client; the
//! store keeps only its SHA-256. Authenticating a request is a cache hit on the
//! hot path: the cache holds the session and its player, and is invalidated on
//! logout, logout-all and password change, here and, through the
//! [`SessionFeed`], on every other instance. The rule that keeps other
//! instances' revocations honoured within one second: a cached session is
//! used beyond [`UNANNOUNCED_TRUST`] only while the feed is live.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use croupier_core::revocation::RevocationFeed;
use croupier_core::{Player, TokenHash};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The authenticated caller, put in request extensions by [`require_auth`].
#[derive(Clone, Debug)]
pub struct Authed {
    pub player: Player,
    pub token_hash: TokenHash,
}

/// argon2id cost; the defaults are OWASP's minimum (19 MiB, t=2, p=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Config {
    pub fn hasher(&self) -> Result<Argon2<'static>, String> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| e.to_string())?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// At most one password hash per core at a time: each costs ~19 MiB and tens
/// of milliseconds by design, so a login flood must queue, not starve the
/// CPU or spread memory over every blocking-pool thread.
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

/// Hashes a password on the blocking pool (argon2 is deliberately slow).
pub async fn hash_password(cfg: Argon2Config, password: String) -> ApiResult<String> {
    let _permit = hashing_permits()
        .acquire()
        .await
        .map_err(|_| ApiError::internal())?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        cfg.hasher()
            .map_err(|e| e.to_string())?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::internal()
    })
}

/// Verifies a password against a stored PHC string. With `None` (unknown user)
/// it verifies against a dummy hash and fails, so both cost the same time.
pub async fn verify_password(cfg: Argon2Config, password: String, stored: Option<String>) -> bool {
    let Ok(_permit) = hashing_permits().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy_hash(cfg));
        // The cost parameters are read from the PHC string itself.
        let ok = PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        real && ok
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash(cfg: Argon2Config) -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            cfg.hasher()
                .expect("argon2 config validated at start")
                .hash_password(b"croupier-dummy-password", &salt)
                .expect("hash dummy")
                .to_string()
        })
        .clone()
}

/// Validates a username: 3–32 characters of `[A-Za-z0-9_.-]`, the first a
/// letter or digit (so no name is only punctuation, like `...`).
pub fn validate_username(name: &str) -> ApiResult<()> {
    let b = name.as_bytes();
    let ok = (3..=32).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "username",
            "invalid_username",
            "username must be 3-32 characters of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter or digit",
        ))
    }
}

/// Validates a password: 8–128 characters, not only white space, and not a
/// well-known one.
pub fn validate_password(field: &str, password: &str) -> ApiResult<()> {
    let chars = password.chars().count();
    if !(8..=128).contains(&chars) {
        return Err(ApiError::invalid(
            field,
            "invalid_password",
            "password must be 8-128 characters",
        ));
    }
    if password.chars().all(char::is_whitespace) {
        return Err(ApiError::invalid(
            field,
            "invalid_password",
            "password must not be only white space",
        ));
    }
    if common_passwords().contains(password.to_lowercase().as_str()) {
        return Err(ApiError::invalid(
            field,
            "common_password",
            "this password is too common; choose another",
        ));
    }
    Ok(())
}

fn common_passwords() -> &'static HashSet<String> {
    static LIST: OnceLock<HashSet<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../assets/common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_lowercase)
            .collect()
    })
}

/// A fresh token: 256 bits from the OS CSPRNG, hex-encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn hash_token(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// How long a cached session may be used without re-reading the store when
/// no live feed announces other instances' revocations: the bound on how late
/// an instance honours a logout made elsewhere.
pub const UNANNOUNCED_TRUST: std::time::Duration = std::time::Duration::from_secs(1);

/// Where this instance learns of sessions revoked by other instances, which
/// decides how long it may trust its session cache.
#[derive(Clone)]
pub enum SessionFeed {
    /// No other instance can revoke sessions (the embedded store has one
    /// instance): the cache is authoritative.
    Local,
    /// Other instances announce revocations here. Cached sessions are trusted
    /// while the feed is live, and re-read after [`UNANNOUNCED_TRUST`] while not.
    Shared(Arc<dyn RevocationFeed>),
    /// Other instances may revoke sessions unannounced (several instances on
    /// one database, no Redis): a cached session is re-read from the store
    /// once it is older than [`UNANNOUNCED_TRUST`].
    Absent,
}

impl SessionFeed {
    /// May cached sessions be used beyond [`UNANNOUNCED_TRUST`] right now?
    pub fn trusts_cache(&self) -> bool {
        match self {
            SessionFeed::Local => true,
            SessionFeed::Shared(feed) => feed.is_live(),
            SessionFeed::Absent => false,
        }
    }

    /// `local`, `live`, `down` or `absent`, for logs and health output.
    pub fn status(&self) -> &'static str {
        match self {
            SessionFeed::Local => "local",
            SessionFeed::Shared(feed) if feed.is_live() => "live",
            SessionFeed::Shared(_) => "down",
            SessionFeed::Absent => "absent",
        }
    }

    async fn publish(&self, revoked: &[TokenHash]) {
        if let SessionFeed::Shared(feed) = self {
            feed.publish(revoked).await;
        }
    }
}

/// A session as cached in-process.
pub struct CachedSession {
    pub player: Player,
    pub expires_at: DateTime<Utc>,
    /// Unix millis of the last recorded activity (coalesced, for idle expiry).
    last_seen_ms: AtomicI64,
    /// When the store read behind this entry began: its data is at least this old.
    read_at: Instant,
}

/// In-process cache of live sessions, keyed by token hash.
#[derive(Clone)]
pub struct SessionCache {
    inner: moka::sync::Cache<[u8; 32], Arc<CachedSession>>,
    /// Bumped by every revocation, so that a store read racing one is not
    /// cached (see [`SessionCache::insert_unless_revoked`]).
    revocations: Arc<AtomicU64>,
}

impl SessionCache {
    pub fn new(capacity: u64, ttl: std::time::Duration) -> Self {
        Self {
            inner: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            revocations: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Drops a revoked session.
    pub fn invalidate(&self, hash: &TokenHash) {
        self.invalidate_many(std::slice::from_ref(hash));
    }

    /// Drops revoked sessions.
    pub fn invalidate_many(&self, hashes: &[TokenHash]) {
        // Bump first: a reader that inserts after our removal then sees it.
        self.revocations.fetch_add(1, Ordering::SeqCst);
        for h in hashes {
            self.inner.invalidate(&h.0);
        }
    }

    /// Drops every session, e.g. after revocations may have been missed.
    pub fn invalidate_all(&self) {
        self.revocations.fetch_add(1, Ordering::SeqCst);
        self.inner.invalidate_all();
    }

    /// Caches a session read from the store, unless a revocation happened
    /// since the read began (`before` = [`Self::revocations`] then): the read
    /// may predate it, and its removal may have run before this insert.
    /// Inserting first and checking after closes the race: if the check sees
    /// no bump, the revocation's removal comes after the insert.
    fn insert_unless_revoked(&self, hash: &TokenHash, entry: Arc<CachedSession>, before: u64) {
        self.inner.insert(hash.0, entry);
        if self.revocations() != before {
            self.inner.invalidate(&hash.0);
        }
    }

    fn revocations(&self) -> u64 {
        self.revocations.load(Ordering::SeqCst)
    }
}

/// Resolves a bearer token to a live session: the cache first, the store on a
/// miss, or when the entry is older than the feed lets us trust.
pub async fn authenticate(state: &AppState, token: &str) -> ApiResult<Authed> {
    let hash = hash_token(token);
    let now = state.clock.now();
    let cached = match state.sessions.inner.get(&hash.0) {
        Some(c)
            if c.read_at.elapsed() <= UNANNOUNCED_TRUST || state.session_feed.trusts_cache() =>
        {
            c
        }
        stale => {
            let before = state.sessions.revocations();
            let read_at = Instant::now();
            let rec = match state.store.session(hash).await? {
                Some(rec) if !rec.revoked => rec,
                _ => {
                    // Revoked elsewhere, unannounced: not a revocation to
                    // signal, the store answers for it from now on.
                    state.sessions.inner.invalidate(&hash.0);
                    return Err(ApiError::unauthorized());
                }
            };
            let Some(creds) = state.store.player(rec.player_id).await? else {
                state.sessions.inner.invalidate(&hash.0);
                return Err(ApiError::unauthorized());
            };
            // Activity this instance recorded may not have reached the store yet.
            let last_seen = stale
                .map(|s| s.last_seen_ms.load(Ordering::Relaxed))
                .unwrap_or(i64::MIN)
                .max(rec.last_seen_at.timestamp_millis());
            let c = Arc::new(CachedSession {
                player: creds.player,
                expires_at: rec.expires_at,
                last_seen_ms: AtomicI64::new(last_seen),
                read_at,
            });
            state
                .sessions
                .insert_unless_revoked(&hash, c.clone(), before);
            c
        }
    };
    let idle = state.config.auth.session_idle();
    let last_seen = c_last_seen(&cached);
    if now >= cached.expires_at || now - last_seen > idle {
        state.sessions.inner.invalidate(&hash.0);
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "session_expired",
            "Session expired; log in again",
        ));
    }
    // Record activity at most once per touch interval, off the request path;
    // but at least twice per idle period, or an active session would expire.
    if now - last_seen > state.config.auth.touch_interval().min(idle / 2) {
        cached
            .last_seen_ms
            .store(now.timestamp_millis(), Ordering::Relaxed);
        let store = state.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_session(hash, now).await {
                tracing::warn!(error = %e, "cannot record session activity");
            }
        });
    }
    Ok(Authed {
        player: cached.player.clone(),
        token_hash: hash,
    })
}

/// Forgets revoked sessions here and announces them to the other instances.
/// Call after the revocation is committed to the store.
pub async fn forget_revoked(state: &AppState, revoked: &[TokenHash]) {
    state.sessions.invalidate_many(revoked);
    state.session_feed.publish(revoked).await;
}

fn c_last_seen(c: &CachedSession) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(c.last_seen_ms.load(Ordering::Relaxed)).unwrap_or_default()
}

/// The bearer token of `Authorization`: `Ok(None)` without the header, 401
/// when it is not `Bearer <64 hex digits>`, 400 when there are two or more
/// (which one counts would be a guess, so neither does).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> ApiResult<Option<String>> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "duplicate_authorization",
            "Send one Authorization header",
        )
        .field("Authorization"));
    }
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(ApiError::unauthorized)?;
    Ok(Some(token.to_owned()))
}

/// The session token a request presents: the bearer token, or else the
/// browser session cookie, whose unsafe requests must also carry the CSRF
/// token (see [`crate::cookie`]). Not yet checked against the store.
pub fn presented_token(
    method: &axum::http::Method,
    headers: &axum::http::HeaderMap,
) -> ApiResult<Option<String>> {
    if let Some(token) = bearer_token(headers)? {
        return Ok(Some(token));
    }
    let Some(token) = crate::cookie::session_from_cookie(headers) else {
        return Ok(None);
    };
    if !(token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(ApiError::unauthorized());
    }
    crate::cookie::check_csrf(method, headers, &token)?;
    Ok(Some(token))
}

/// Middleware: 400/401/403 unless the request presents a well-formed
/// session token (not yet checked against the store).
pub async fn require_credentials(req: Request, next: Next) -> Result<Response, ApiError> {
    presented_token(req.method(), req.headers())?.ok_or_else(ApiError::unauthorized)?;
    Ok(next.run(req).await)
}

/// Middleware: 401 unless the request carries a live session token.
pub async fn require_auth(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = presented_token(req.method(), req.headers())?.ok_or_else(ApiError::unauthorized)?;
    let authed = authenticate(&state, &token).await?;
    req.extensions_mut().insert(authed);
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_core::{PlayerId, Role};

    #[test]
    fn tokens_are_256_bit_hex_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(hex::decode(&a).is_ok());
        assert_ne!(a, b);
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(hash_token(&a), hash_token(&a));
    }

    fn entry() -> Arc<CachedSession> {
        Arc::new(CachedSession {
            player: Player {
                id: PlayerId::new(),
                username: "alice".into(),
                roles: vec![Role::Player],
                created_at: croupier_core::now(),
            },
            expires_at: croupier_core::now(),
            last_seen_ms: AtomicI64::new(0),
            read_at: Instant::now(),
        })
    }

    #[test]
    fn a_read_that_raced_a_revocation_is_not_cached() {
        let cache = SessionCache::new(100, std::time::Duration::from_secs(60));
        let (a, b) = (TokenHash([1; 32]), TokenHash([2; 32]));
        let before = cache.revocations();
        cache.insert_unless_revoked(&a, entry(), before);
        assert!(cache.inner.get(&a.0).is_some(), "no revocation meanwhile");

        // A revocation between the store read and the insert: the read may
        // predate it, so it must not be cached (whichever session it named).
        let before = cache.revocations();
        cache.invalidate(&TokenHash([9; 32]));
        cache.insert_unless_revoked(&b, entry(), before);
        assert!(cache.inner.get(&b.0).is_none());

        cache.invalidate_many(&[a]);
        assert!(cache.inner.get(&a.0).is_none());
        let before = cache.revocations();
        cache.insert_unless_revoked(&a, entry(), before);
        cache.invalidate_all();
        assert!(cache.inner.get(&a.0).is_none());
    }

    #[test]
    fn username_and_password_rules() {
        assert!(validate_username("ab").is_err());
        assert!(validate_username("abc").is_ok());
        assert!(validate_username("a.b-c_D9").is_ok());
        assert!(validate_username(&"x".repeat(33)).is_err());
        assert!(validate_username("bad name").is_err());
        assert!(validate_username("émile").is_err());
        assert_eq!(
            validate_password("p", "short").unwrap_err().problem.code,
            "invalid_password"
        );
        assert_eq!(
            validate_password("p", "PassWord123")
                .unwrap_err()
                .problem
                .code,
            "common_password"
        );
        assert!(validate_password("p", "correct horse battery").is_ok());
        assert!(validate_password("p", &"x".repeat(129)).is_err());
    }
}
