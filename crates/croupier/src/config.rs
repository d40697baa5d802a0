//! Configuration: defaults → TOML file (`--config`) → `CROUPIER_*` environment
//! → command-line flags. Any value may also come from a file named by a
//! `CROUPIER_<KEY>_FILE` variable (for secrets). Nested keys use `__` in
//! variable names: `CROUPIER_AUTH__SESSION_IDLE_SECS=600`.

use croupier_api::catalog::GamesConfig;
use croupier_api::config::{AuthConfig, CurrencyConfig, FaucetConfig, HttpConfig};
use croupier_api::ApiConfig;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The documented default configuration, printed by `croupier config`.
pub const DEFAULT_TOML: &str = include_str!("../assets/default-config.toml");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `postgres://…` to store everything in PostgreSQL instead of the
    /// embedded SQLite file (also `CROUPIER_DATABASE_URL`, or from a file
    /// with `CROUPIER_DATABASE_URL_FILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `redis://…` to share rate limits and session revocations between
    /// instances through Redis (also `CROUPIER_REDIS_URL`, or from a file
    /// with `CROUPIER_REDIS_URL_FILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
    pub log: LogConfig,
    pub storage: StorageConfig,
    pub redis: RedisConfig,
    pub currencies: Vec<CurrencyConfig>,
    pub faucet: FaucetConfig,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    pub games: GamesConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` (one object per line) or `text`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `croupier=debug,info`. `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// SQLite durability: `full` fsyncs every commit (group commit shares one
    /// fsync among many writes); `normal` may lose the last commits on power loss.
    pub synchronous: Synchronous,
    /// Most writes committed together in one transaction.
    pub max_batch: usize,
    /// Read-only connections for queries.
    pub read_connections: usize,
}

/// How Redis is used when `redis_url` is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// Put before every key and channel, so deployments can share one Redis.
    pub key_prefix: String,
    /// Longest wait for one Redis call; past it the call counts as failed and
    /// the request goes on degraded.
    pub timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            key_prefix: "croupier:".into(),
            timeout_ms: 250,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Full,
    Normal,
}

impl Default for Config {
    fn default() -> Self {
        let api = ApiConfig::default();
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            shutdown_grace_secs: 30,
            log: LogConfig::default(),
            storage: StorageConfig::default(),
            redis: RedisConfig::default(),
            currencies: api.currencies,
            faucet: api.faucet,
            auth: api.auth,
            http: api.http,
            games: api.games,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            level: "info".into(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            max_batch: 256,
            read_connections: 4,
        }
    }
}

impl Config {
    /// Loads the layered configuration; `overrides` are the command-line flags.
    pub fn load(file: Option<&Path>, overrides: Dict) -> Result<Config, String> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(format!("config file {} does not exist", file.display()));
            }
            fig = fig.merge(Toml::file_exact(file));
        }
        fig = fig
            .merge(
                Env::prefixed("CROUPIER_")
                    .split("__")
                    // Not configuration: the config path, test fixtures, secret files.
                    .filter(|k| {
                        let k = k.as_str().to_ascii_lowercase();
                        k != "config" && !k.starts_with("test_") && !k.ends_with("_file")
                    }),
            )
            .merge(SecretFiles)
            .merge(Serialized::defaults(overrides));
        let cfg: Config = fig.extract().map_err(describe)?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.api().validate()?;
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err("database_url: must be a postgres:// URL".into());
            }
        }
        if let Some(url) = &self.redis_url {
            if url.starts_with("rediss://") {
                return Err("redis_url: TLS (rediss://) is not supported yet".into());
            }
            if !["redis://", "redis+unix://", "unix://"]
                .iter()
                .any(|s| url.starts_with(s))
            {
                return Err("redis_url: must be a redis:// URL".into());
            }
        }
        if !(1..=10_000).contains(&self.redis.timeout_ms) {
            return Err("redis.timeout_ms: must be 1-10000".into());
        }
        if self.redis.key_prefix.len() > 128 {
            return Err("redis.key_prefix: at most 128 bytes".into());
        }
        if self.storage.max_batch == 0 {
            return Err("storage.max_batch: must be greater than 0".into());
        }
        if self.storage.read_connections == 0 || self.storage.read_connections > 64 {
            return Err("storage.read_connections: must be 1-64".into());
        }
        Ok(())
    }

    pub fn api(&self) -> ApiConfig {
        ApiConfig {
            currencies: self.currencies.clone(),
            faucet: self.faucet.clone(),
            auth: self.auth.clone(),
            http: self.http.clone(),
            games: self.games.clone(),
        }
    }

    pub fn sqlite_options(&self) -> croupier_store_sqlite::SqliteOptions {
        croupier_store_sqlite::SqliteOptions {
            synchronous: match self.storage.synchronous {
                Synchronous::Full => croupier_store_sqlite::Synchronous::Full,
                Synchronous::Normal => croupier_store_sqlite::Synchronous::Normal,
            },
            max_batch: self.storage.max_batch,
            readers: self.storage.read_connections,
            ..Default::default()
        }
    }

    pub fn redis_options(&self) -> Option<croupier_redis::RedisOptions> {
        Some(croupier_redis::RedisOptions {
            url: self.redis_url.clone()?,
            key_prefix: self.redis.key_prefix.clone(),
            timeout: std::time::Duration::from_millis(self.redis.timeout_ms),
        })
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("croupier.db")
    }
}

fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("{key}: {}{source}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `CROUPIER_<KEY>_FILE=/path` supplies `<key>` from the file's contents
/// (trailing newline removed), so secrets need not sit in the environment.
struct SecretFiles;

impl Provider for SecretFiles {
    fn metadata(&self) -> Metadata {
        Metadata::named("CROUPIER_*_FILE secret files")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (name, path) in std::env::vars() {
            let Some(key) = name
                .strip_prefix("CROUPIER_")
                .and_then(|k| k.strip_suffix("_FILE"))
            else {
                continue;
            };
            if key.starts_with("TEST_") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| figment::Error::from(format!("{name}: cannot read {path}: {e}")))?;
            let value: Value = text
                .trim_end_matches(['\n', '\r'])
                .parse()
                .expect("figment parses any string");
            let parts: Vec<String> = key.to_lowercase().split("__").map(str::to_owned).collect();
            insert_nested(&mut root, &parts, value);
        }
        Ok(Profile::Default.collect(root))
    }
}

fn insert_nested(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_defaults_are_the_real_defaults_and_cover_every_key() {
        let documented: toml::Value = toml::from_str(DEFAULT_TOML).expect("default config parses");
        let real = toml::Value::try_from(Config::default()).expect("serializes");
        assert_eq!(
            documented, real,
            "assets/default-config.toml drifted from Config::default()"
        );
    }

    #[test]
    fn redis_settings_are_checked() {
        let with = |url: &str, timeout_ms: u64| Config {
            redis_url: Some(url.into()),
            redis: RedisConfig {
                timeout_ms,
                ..RedisConfig::default()
            },
            ..Config::default()
        };
        assert!(with("redis://127.0.0.1:6379", 250).validate().is_ok());
        assert!(with("redis+unix:///run/redis.sock", 250).validate().is_ok());
        let tls = with("rediss://cache:6380", 250).validate().unwrap_err();
        assert!(tls.contains("TLS"), "{tls}");
        let scheme = with("http://cache", 250).validate().unwrap_err();
        assert!(scheme.starts_with("redis_url:"), "{scheme}");
        let timeout = with("redis://cache", 0).validate().unwrap_err();
        assert!(timeout.starts_with("redis.timeout_ms:"), "{timeout}");
    }
}
