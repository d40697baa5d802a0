//! Passwords, session tokens, the session cache and the authentication middleware.
//!
//! A token is 256 random bits (64 hex characters) shown once to the client; the
//! store keeps only its SHA-256. Authenticating a request is a cache hit on the
//! hot path: the cache holds the session and its player, and is invalidated on
//! logout, logout-all and password change.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use croupier_core::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

/// The authenticated caller, put in request extensions by [`require_auth`].
#[derive(Clone, Debug)]
pub struct Authed {
    pub player: Player,
    pub token_hash: TokenHash,
}

impl Authed {
    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.player.has_role(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
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

/// Validates a username: 3–32 characters of `[A-Za-z0-9_.-]`.
pub fn validate_username(name: &str) -> ApiResult<()> {
    let ok = (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "username",
            "invalid_username",
            "username must be 3-32 characters of A-Z, a-z, 0-9, '_', '.', '-'",
        ))
    }
}

/// Validates a password: 8–128 characters and not a well-known one.
pub fn validate_password(field: &str, password: &str) -> ApiResult<()> {
    let chars = password.chars().count();
    if !(8..=128).contains(&chars) {
        return Err(ApiError::invalid(
            field,
            "invalid_password",
            "password must be 8-128 characters",
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

/// A session as cached in-process.
pub struct CachedSession {
    pub player: Player,
    pub expires_at: DateTime<Utc>,
    /// Unix millis of the last recorded activity (coalesced, for idle expiry).
    last_seen_ms: AtomicI64,
}

/// In-process cache of live sessions, keyed by token hash.
#[derive(Clone)]
pub struct SessionCache {
    inner: moka::sync::Cache<[u8; 32], Arc<CachedSession>>,
}

impl SessionCache {
    pub fn new(capacity: u64, ttl: std::time::Duration) -> Self {
        Self {
            inner: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub fn invalidate(&self, hash: &TokenHash) {
        self.inner.invalidate(&hash.0);
    }
}

/// Resolves a bearer token to a live session: the cache first, the store on a miss.
pub async fn authenticate(state: &AppState, token: &str) -> ApiResult<Authed> {
    let hash = hash_token(token);
    let now = croupier_core::now();
    let cached = match state.sessions.inner.get(&hash.0) {
        Some(c) => c,
        None => {
            let Some(rec) = state.store.session(hash).await? else {
                return Err(ApiError::unauthorized());
            };
            if rec.revoked {
                return Err(ApiError::unauthorized());
            }
            let Some(creds) = state.store.player(rec.player_id).await? else {
                return Err(ApiError::unauthorized());
            };
            let c = Arc::new(CachedSession {
                player: creds.player,
                expires_at: rec.expires_at,
                last_seen_ms: AtomicI64::new(rec.last_seen_at.timestamp_millis()),
            });
            state.sessions.inner.insert(hash.0, c.clone());
            c
        }
    };
    let idle = state.config.auth.session_idle();
    let last_seen = c_last_seen(&cached);
    if now >= cached.expires_at || now - last_seen > idle {
        state.sessions.invalidate(&hash);
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

fn c_last_seen(c: &CachedSession) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(c.last_seen_ms.load(Ordering::Relaxed)).unwrap_or_default()
}

/// Middleware: 401 unless the request carries a live bearer token.
pub async fn require_auth(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(ApiError::unauthorized)?
        .to_owned();
    let authed = authenticate(&state, &token).await?;
    req.extensions_mut().insert(authed);
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_hex_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(hex::decode(&a).is_ok());
        assert_ne!(a, b);
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(hash_token(&a), hash_token(&a));
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
