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
use std::time::Duration;

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
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
    pub log: LogConfig,
    pub storage: StorageConfig,
    pub database: DatabaseConfig,
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

/// PostgreSQL settings (used with `database_url`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connections to the primary, the bet lanes' included.
    pub max_connections: u32,
    /// How long a request waits for a connection (e.g. while the server is
    /// down) before failing with 503.
    pub acquire_timeout_ms: u64,
    /// Bound on one bet transaction or batch and on one replica read.
    pub bet_timeout_ms: u64,
    /// Most bets settled in one transaction; 1 settles each bet alone.
    pub bet_batch_max: usize,
    /// Tasks settling bet batches, one connection each at a time.
    pub bet_lanes: usize,
    /// Read replicas for history reads.
    pub replica_urls: Vec<String>,
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
            shutdown_grace_secs: 30,
            log: LogConfig::default(),
            storage: StorageConfig::default(),
            database: DatabaseConfig::default(),
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

impl Default for DatabaseConfig {
    fn default() -> Self {
        let pg = croupier_store_postgres::PostgresOptions::default();
        Self {
            max_connections: pg.max_connections,
            acquire_timeout_ms: pg.acquire_timeout.as_millis() as u64,
            bet_timeout_ms: pg.bet_timeout.as_millis() as u64,
            bet_batch_max: pg.bet_batch_max,
            bet_lanes: pg.bet_lanes,
            replica_urls: pg.replica_urls,
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
        if self.storage.max_batch == 0 {
            return Err("storage.max_batch: must be greater than 0".into());
        }
        if self.storage.read_connections == 0 || self.storage.read_connections > 64 {
            return Err("storage.read_connections: must be 1-64".into());
        }
        self.database.validate()
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

    pub fn postgres_options(&self) -> croupier_store_postgres::PostgresOptions {
        let d = &self.database;
        croupier_store_postgres::PostgresOptions {
            max_connections: d.max_connections,
            acquire_timeout: Duration::from_millis(d.acquire_timeout_ms),
            bet_timeout: Duration::from_millis(d.bet_timeout_ms),
            bet_batch_max: d.bet_batch_max,
            bet_lanes: d.bet_lanes,
            replica_urls: d.replica_urls.clone(),
            ..Default::default()
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("croupier.db")
    }
}

impl DatabaseConfig {
    fn validate(&self) -> Result<(), String> {
        if !(3..=1000).contains(&self.max_connections) {
            return Err("database.max_connections: must be 3-1000".into());
        }
        if self.acquire_timeout_ms == 0 || self.bet_timeout_ms == 0 {
            return Err(
                "database.acquire_timeout_ms, bet_timeout_ms: must be greater than 0".into(),
            );
        }
        if !(1..=10_000).contains(&self.bet_batch_max) {
            return Err("database.bet_batch_max: must be 1-10000".into());
        }
        // Two connections at least stay free for everything but bets.
        if self.bet_lanes == 0 || self.bet_lanes as u64 + 2 > u64::from(self.max_connections) {
            return Err("database.bet_lanes: must be 1 to max_connections - 2".into());
        }
        if let Some(bad) = self
            .replica_urls
            .iter()
            .find(|u| !(u.starts_with("postgres://") || u.starts_with("postgresql://")))
        {
            return Err(format!(
                "database.replica_urls: {bad:?} is not a postgres:// URL"
            ));
        }
        Ok(())
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
}
