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
    /// Where Prometheus scrapes `/metrics`: a listener of its own, so the
    /// business totals it holds are not on the public API port. `off` (or
    /// an empty string) serves no metrics.
    #[serde(with = "optional_addr")]
    pub metrics_listen: Option<SocketAddr>,
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
    /// `nats://…` to relay events through NATS JetStream instead of the
    /// in-process bus (also `CROUPIER_NATS_URL`, `CROUPIER_NATS_URL_FILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
    /// What this instance runs: `api`, `worker`, `relay`, comma-separated.
    pub roles: Roles,
    /// This instance's name in the events it produces (`producer`): 1-64
    /// characters of `A-Za-z0-9._-`. Default `<hostname>-<pid>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
    /// Seconds between SIGTERM and closing the listener, while `/readyz`
    /// answers 503 and requests are still served, so a load balancer takes
    /// the instance out before it stops accepting (0: close at once).
    pub shutdown_drain_secs: u64,
    pub log: LogConfig,
    pub storage: StorageConfig,
    pub redis: RedisConfig,
    pub database: DatabaseConfig,
    pub currencies: Vec<CurrencyConfig>,
    pub faucet: FaucetConfig,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    pub games: GamesConfig,
    /// Mission rules; the admin API adds and overrides rules by id.
    pub missions: Vec<croupier_core::missions::MissionRule>,
    pub events: EventsConfig,
    pub nats: NatsConfig,
    /// Live-notification sockets (`GET /v1/ws`).
    pub ws: croupier_api::ws::WsConfig,
    pub recommendations: croupier_api::recommendations::RecommendationsConfig,
    pub web: croupier_api::config::WebConfig,
    pub export: ExportConfig,
    pub telemetry: TelemetryConfig,
}

/// Span export to an OpenTelemetry collector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP traces URL, e.g.
    /// `http://127.0.0.1:4318/v1/traces`. Unset: no spans are exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// `protobuf` or `json`.
    pub otlp_protocol: OtlpProtocol,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of traces exported (0-1), decided by trace id.
    pub sample_ratio: f64,
    /// Spans waiting for export at most; beyond it they are dropped.
    pub max_queue: usize,
    /// Longest wait for one export request, in milliseconds.
    pub timeout_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtlpProtocol {
    Protobuf,
    Json,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            otlp_protocol: OtlpProtocol::Protobuf,
            service_name: "croupier".into(),
            sample_ratio: 1.0,
            max_queue: 8192,
            timeout_ms: 5000,
        }
    }
}

/// The roles of an instance. Serialized as `"api,worker,relay"`; a TOML
/// array of names is accepted too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles {
    /// The HTTP API.
    pub api: bool,
    /// The event consumers.
    pub worker: bool,
    /// The outbox relay.
    pub relay: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            api: true,
            worker: true,
            relay: true,
        }
    }
}

impl std::str::FromStr for Roles {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::from_names(s.split(',').map(str::trim))
    }
}

impl Roles {
    fn from_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        let mut roles = Roles {
            api: false,
            worker: false,
            relay: false,
        };
        for name in names {
            match name {
                "api" => roles.api = true,
                "worker" => roles.worker = true,
                "relay" => roles.relay = true,
                "" => {}
                other => return Err(format!("unknown role {other:?} (api, worker, relay)")),
            }
        }
        if !(roles.api || roles.worker || roles.relay) {
            return Err("no role: name at least one of api, worker, relay".into());
        }
        Ok(roles)
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = [
            (self.api, "api"),
            (self.worker, "worker"),
            (self.relay, "relay"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            List(Vec<String>),
        }
        match Form::deserialize(d)? {
            Form::Text(s) => s.parse(),
            Form::List(v) => Roles::from_names(v.iter().map(String::as_str)),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The outbox relay and the consumers, whichever bus carries the events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Most events the relay claims, and a consumer applies, at once.
    pub batch: u32,
    /// Pause between outbox polls once the relay has caught up.
    pub poll_interval_ms: u64,
    /// How long the relay holds the events it claimed; a relay that dies
    /// releases them after this. Also the in-process bus's retry delay.
    pub lease_secs: u64,
    /// Deliveries of an event to a consumer that keeps failing before it is
    /// dead-lettered (logged at error level and counted).
    pub max_attempts: u32,
    /// Published events are deleted from the outbox after this many hours
    /// (0 keeps them).
    pub outbox_retention_hours: u64,
    /// A consumer's record of an event it applied (its inbox) is deleted
    /// after this many hours (0 keeps them). It must outlast every way the
    /// event can come again: the outbox and stream retentions. The stats
    /// consumer's per-bet results follow it.
    pub inbox_retention_hours: u64,
    /// Pause between housekeeping passes (relay role): retention deletes
    /// and the refresh of the store's planner statistics.
    pub housekeeping_interval_secs: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            batch: 256,
            poll_interval_ms: 100,
            lease_secs: 30,
            max_attempts: 10,
            outbox_retention_hours: 168,
            inbox_retention_hours: 336,
            housekeeping_interval_secs: 10,
        }
    }
}

/// NATS JetStream, used when `nats_url` is set.
/// The analytics export of events (docs/export.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    pub enabled: bool,
    /// `s3://bucket/prefix`, `file:///dir` or a directory. Unset: `<data_dir>/export`,
    /// on the in-process bus only (over JetStream workers need a shared place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Endpoint of an S3-compatible store (MinIO, …) for `s3://` URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// `gzip` or `none`.
    pub compression: ExportCompression,
    /// A partition's events in one batch are split into files of at most this many.
    pub max_rows_per_file: u32,
    /// Most files one partition's manifest lists.
    pub manifest_max_files: u32,
    /// A worker rewrites the manifests of changed partitions this often, in
    /// milliseconds; 0: after every batch.
    pub manifest_interval_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportCompression {
    Gzip,
    None,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            url: None,
            s3_endpoint: None,
            compression: ExportCompression::Gzip,
            max_rows_per_file: 10_000,
            manifest_max_files: 100_000,
            manifest_interval_ms: 1_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// Names streams `{PREFIX}_{DOMAIN}` and subjects `{prefix}.{event type}`.
    pub stream_prefix: String,
    /// A republished event within this window is stored once (must exceed
    /// `events.lease_secs`).
    pub duplicate_window_secs: u64,
    /// Events are kept in a stream this long (0: forever).
    pub max_age_hours: u64,
    /// Stream replicas: 1 on one server, 3 in a cluster.
    pub replicas: usize,
    /// A consumer's unacknowledged message is redelivered after this.
    pub ack_wait_secs: u64,
    /// Startup fails if NATS cannot be reached within this.
    pub connect_timeout_secs: u64,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            stream_prefix: "croupier".into(),
            duplicate_window_secs: 300,
            max_age_hours: 168,
            replicas: 1,
            ack_wait_secs: 30,
            connect_timeout_secs: 5,
        }
    }
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
            metrics_listen: Some("127.0.0.1:9464".parse().expect("valid")),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            nats_url: None,
            roles: Roles::default(),
            instance_id: None,
            shutdown_grace_secs: 30,
            shutdown_drain_secs: 0,
            log: LogConfig::default(),
            storage: StorageConfig::default(),
            redis: RedisConfig::default(),
            database: DatabaseConfig::default(),
            currencies: api.currencies,
            faucet: api.faucet,
            auth: api.auth,
            http: api.http,
            games: api.games,
            missions: api.missions,
            events: EventsConfig::default(),
            nats: NatsConfig::default(),
            ws: api.ws,
            recommendations: api.recommendations,
            web: api.web,
            export: ExportConfig::default(),
            telemetry: TelemetryConfig::default(),
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
        if self.metrics_listen == Some(self.listen) && self.listen.port() != 0 {
            return Err("metrics_listen: must differ from listen".into());
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err("database_url: must be a postgres:// URL".into());
            }
        }
        if let Some(url) = &self.redis_url {
            if !["redis://", "rediss://", "redis+unix://", "unix://"]
                .iter()
                .any(|s| url.starts_with(s))
            {
                return Err("redis_url: must be a redis:// or rediss:// (TLS) URL".into());
            }
        }
        if let Some(id) = &self.instance_id {
            if !croupier_core::trace::valid_instance(id) {
                return Err("instance_id: must be 1-64 characters of A-Za-z0-9._-".into());
            }
        }
        let t = &self.telemetry;
        if let Some(url) = &t.otlp_endpoint {
            // No TLS in the exporter (see croupier-otlp): https would fail at
            // every export, silently, so it is refused here.
            if !url.starts_with("http://") {
                return Err("telemetry.otlp_endpoint: must be an http:// URL (the exporter has no TLS; use a local collector)".into());
            }
        }
        if !(0.0..=1.0).contains(&t.sample_ratio) {
            return Err("telemetry.sample_ratio: must be within 0-1".into());
        }
        if !(1..=1_000_000).contains(&t.max_queue) {
            return Err("telemetry.max_queue: must be 1-1000000".into());
        }
        if !(1..=60_000).contains(&t.timeout_ms) {
            return Err("telemetry.timeout_ms: must be 1-60000".into());
        }
        if self.shutdown_drain_secs > 3600 {
            return Err("shutdown_drain_secs: at most 3600".into());
        }
        if !(1..=10_000).contains(&self.redis.timeout_ms) {
            return Err("redis.timeout_ms: must be 1-10000".into());
        }
        if self.redis.key_prefix.len() > 128 {
            return Err("redis.key_prefix: at most 128 bytes".into());
        }
        self.validate_events()?;
        self.validate_export()?;
        if self.storage.max_batch == 0 {
            return Err("storage.max_batch: must be greater than 0".into());
        }
        if self.storage.read_connections == 0 || self.storage.read_connections > 64 {
            return Err("storage.read_connections: must be 1-64".into());
        }
        self.database.validate()
    }

    fn validate_events(&self) -> Result<(), String> {
        if let Some(url) = &self.nats_url {
            if !(url.starts_with("nats://") || url.starts_with("tls://")) {
                return Err("nats_url: must be a nats:// or tls:// URL".into());
            }
        } else if self.roles.worker != self.roles.relay {
            return Err(format!(
                "roles: {} without nats_url: the in-process bus hands events from the relay \
                 to this process's consumers, so worker and relay run together (set nats_url \
                 to split them)",
                self.roles
            ));
        }
        let e = &self.events;
        if e.batch == 0 || e.batch > 10_000 {
            return Err("events.batch: must be 1-10000".into());
        }
        if e.lease_secs == 0 || e.max_attempts == 0 {
            return Err("events.lease_secs and events.max_attempts: must be at least 1".into());
        }
        if self.nats.duplicate_window_secs <= e.lease_secs {
            return Err(
                "nats.duplicate_window_secs: must exceed events.lease_secs, or an event \
                 republished after a lease ends could be stored twice"
                    .into(),
            );
        }
        self.validate_inbox_retention()?;
        if e.housekeeping_interval_secs == 0 || e.housekeeping_interval_secs > 86_400 {
            return Err("events.housekeeping_interval_secs: must be 1-86400".into());
        }
        if self.nats.ack_wait_secs == 0 || self.nats.connect_timeout_secs == 0 {
            return Err(
                "nats.ack_wait_secs and nats.connect_timeout_secs: must be at least 1".into(),
            );
        }
        self.jetstream_options()
            .validate()
            .map_err(|e| format!("nats.stream_prefix: {e}"))
    }

    /// An inbox record pruned while its event can still come again would let
    /// that event apply twice: from the outbox (`events replay`, a lapsed
    /// lease) or from a stream (a consumer re-created from its start).
    fn validate_inbox_retention(&self) -> Result<(), String> {
        let inbox = self.events.inbox_retention_hours;
        if inbox == 0 {
            return Ok(());
        }
        let mut outlasts = vec![(
            "events.outbox_retention_hours",
            self.events.outbox_retention_hours,
        )];
        if self.nats_url.is_some() {
            outlasts.push(("nats.max_age_hours", self.nats.max_age_hours));
        }
        for (key, hours) in outlasts {
            if hours == 0 || inbox < hours {
                return Err(format!(
                    "events.inbox_retention_hours: must be 0 (keep) or at least {key} \
                     ({hours}, where 0 keeps events forever), or a redelivered event could \
                     apply twice"
                ));
            }
        }
        Ok(())
    }

    /// Housekeeping's settings, from `[events]` and `[http]`, pruning the
    /// inboxes of `consumers`.
    pub fn housekeeping_options(
        &self,
        consumers: Vec<String>,
    ) -> croupier_events::HousekeepingOptions {
        let hours = |h: u64| (h > 0).then(|| chrono::Duration::hours(h.min(1 << 30) as i64));
        croupier_events::HousekeepingOptions {
            interval: std::time::Duration::from_secs(self.events.housekeeping_interval_secs),
            consumers,
            inbox_retention: hours(self.events.inbox_retention_hours),
            idempotency_retention: hours(self.http.idempotency_retention_hours),
        }
    }

    /// JetStream streams and consumers, from `[nats]` and `[events]`.
    pub fn jetstream_options(&self) -> croupier_events::jetstream::JetStreamOptions {
        let secs = std::time::Duration::from_secs;
        croupier_events::jetstream::JetStreamOptions {
            prefix: self.nats.stream_prefix.clone(),
            duplicate_window: secs(self.nats.duplicate_window_secs),
            max_age: secs(self.nats.max_age_hours.saturating_mul(3600)),
            replicas: self.nats.replicas,
            ack_wait: secs(self.nats.ack_wait_secs),
            max_deliver: self.events.max_attempts,
            batch: self.events.batch as usize,
        }
    }

    /// The export consumer's settings from `[export]`; `None` when it does
    /// not run (disabled, or JetStream without `export.url`).
    pub fn export_options(&self) -> Result<Option<croupier_events::ExportOptions>, String> {
        let x = &self.export;
        let url = match (&x.url, &self.nats_url) {
            _ if !x.enabled => return Ok(None),
            (Some(url), _) => url.clone(),
            (None, None) => self.data_dir.join("export").to_string_lossy().into_owned(),
            (None, Some(_)) => return Ok(None),
        };
        croupier_events::ExportOptions::open(
            &url,
            x.s3_endpoint.as_deref(),
            x.compression == ExportCompression::Gzip,
            x.max_rows_per_file as usize,
            x.manifest_max_files,
        )
        .map(|o| {
            Some(croupier_events::ExportOptions {
                manifest_interval: Duration::from_millis(x.manifest_interval_ms),
                ..o
            })
        })
        .map_err(|e| format!("export.url: {e}"))
    }

    fn validate_export(&self) -> Result<(), String> {
        let x = &self.export;
        if !(1..=1_000_000).contains(&x.max_rows_per_file) {
            return Err("export.max_rows_per_file: must be 1-1000000".into());
        }
        if !(1..=1_000_000).contains(&x.manifest_max_files) {
            return Err("export.manifest_max_files: must be 1-1000000".into());
        }
        if x.manifest_interval_ms > 3_600_000 {
            return Err("export.manifest_interval_ms: must be 0-3600000 (an hour)".into());
        }
        if let Some(ep) = &x.s3_endpoint {
            if !(ep.starts_with("http://") || ep.starts_with("https://")) {
                return Err("export.s3_endpoint: must be an http:// or https:// URL".into());
            }
        }
        self.export_options().map(|_| ())
    }

    /// The outbox relay's settings, from `[events]`.
    pub fn relay_options(&self) -> croupier_events::RelayOptions {
        let e = &self.events;
        croupier_events::RelayOptions {
            owner: croupier_events::RelayOptions::unique_owner(),
            batch: e.batch,
            lease: chrono::Duration::seconds(e.lease_secs.min(i64::MAX as u64) as i64),
            poll_interval: std::time::Duration::from_millis(e.poll_interval_ms.max(1)),
            retention: (e.outbox_retention_hours > 0)
                .then(|| chrono::Duration::hours(e.outbox_retention_hours.min(1 << 30) as i64)),
            clock: croupier_core::Clock::system(),
        }
    }

    pub fn api(&self) -> ApiConfig {
        ApiConfig {
            currencies: self.currencies.clone(),
            faucet: self.faucet.clone(),
            auth: self.auth.clone(),
            http: self.http.clone(),
            games: self.games.clone(),
            missions: self.missions.clone(),
            ws: self.ws.clone(),
            recommendations: self.recommendations.clone(),
            web: self.web.clone(),
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
    fn roles_parse_from_text_or_list_and_print_back() {
        let r: Roles = "worker, relay".parse().unwrap();
        assert_eq!(
            r,
            Roles {
                api: false,
                worker: true,
                relay: true
            }
        );
        assert_eq!(r.to_string(), "worker,relay");
        assert!("api,croupier".parse::<Roles>().is_err());
        assert!("".parse::<Roles>().is_err());
        let cfg: Config = toml::from_str(r#"roles = ["api"]"#).unwrap();
        assert_eq!(cfg.roles.to_string(), "api");
        let cfg: Config = toml::from_str(r#"roles = "relay,api,worker""#).unwrap();
        assert_eq!(cfg.roles, Roles::default());
    }

    #[test]
    fn without_nats_worker_and_relay_come_together() {
        let with = |roles: &str, nats: Option<&str>| Config {
            roles: roles.parse().unwrap(),
            nats_url: nats.map(str::to_owned),
            ..Config::default()
        };
        assert!(with("api,worker,relay", None).validate().is_ok());
        assert!(with("worker,relay", None).validate().is_ok());
        assert!(with("api", None).validate().is_ok());
        let err = with("api,worker", None).validate().unwrap_err();
        assert!(
            err.starts_with("roles: api,worker without nats_url"),
            "{err}"
        );
        assert!(with("relay", None).validate().is_err());
        assert!(with("worker", Some("nats://127.0.0.1:4222"))
            .validate()
            .is_ok());
        assert!(with("relay", Some("http://x")).validate().is_err());
        let mut cfg = Config::default();
        cfg.nats.stream_prefix = "Bad.Prefix".into();
        assert!(cfg
            .validate()
            .unwrap_err()
            .starts_with("nats.stream_prefix"));
        let mut cfg = Config::default();
        cfg.nats.duplicate_window_secs = cfg.events.lease_secs;
        assert!(cfg.validate().is_err());
        let mut cfg = Config::default();
        cfg.recommendations.window_days = 0;
        assert!(cfg
            .validate()
            .unwrap_err()
            .starts_with("recommendations.window_days"));
        // Resilience knobs: values that would misbehave at run time.
        let err = |f: fn(&mut Config)| {
            let mut cfg = Config::default();
            f(&mut cfg);
            cfg.validate().err().unwrap_or_default()
        };
        assert!(err(|c| c.http.request_timeout_ms = 50).starts_with("http.request_timeout_ms"));
        assert_eq!(err(|c| c.http.request_timeout_ms = 0), "");
        assert!(err(
            |c| c.http.rate_limits.bets = croupier_api::config::RateRule::new(2_000_001, 2)
        )
        .starts_with("http.rate_limits.bets.limit"));
        assert_eq!(
            err(|c| c.http.rate_limits.bets = croupier_api::config::RateRule::new(2_000_000, 2)),
            ""
        );
        assert!(err(
            |c| c.telemetry.otlp_endpoint = Some("https://collector:4318/v1/traces".into())
        )
        .starts_with("telemetry.otlp_endpoint"));
        assert_eq!(
            err(|c| c.telemetry.otlp_endpoint = Some("http://127.0.0.1:4318/v1/traces".into())),
            ""
        );
    }

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
    fn an_inbox_record_outlasts_every_redelivery_of_its_event() {
        let check = |inbox: u64, outbox: u64, nats: Option<u64>| {
            let mut cfg = Config::default();
            cfg.events.inbox_retention_hours = inbox;
            cfg.events.outbox_retention_hours = outbox;
            if let Some(age) = nats {
                cfg.nats_url = Some("nats://127.0.0.1:4222".into());
                cfg.nats.max_age_hours = age;
            }
            cfg.validate()
        };
        assert!(check(336, 168, None).is_ok());
        assert!(check(168, 168, Some(168)).is_ok());
        assert!(check(0, 0, Some(0)).is_ok(), "0 keeps every record");
        for (inbox, outbox, nats) in [
            (100, 168, None),
            (200, 0, None),
            (200, 168, Some(0)),
            (200, 168, Some(300)),
        ] {
            let err = check(inbox, outbox, nats).unwrap_err();
            assert!(err.starts_with("events.inbox_retention_hours"), "{err}");
        }
        let mut cfg = Config::default();
        cfg.events.housekeeping_interval_secs = 0;
        assert!(cfg
            .validate()
            .unwrap_err()
            .starts_with("events.housekeeping_interval_secs"));
    }

    #[test]
    fn export_settings_are_checked() {
        let cfg = Config::default();
        let o = cfg.export_options().unwrap().expect("on by default");
        assert!(o.base_url.ends_with("data/export"), "{}", o.base_url);
        let with = |f: fn(&mut ExportConfig)| {
            let mut cfg = Config::default();
            f(&mut cfg.export);
            cfg
        };
        assert!(with(|x| x.enabled = false)
            .export_options()
            .unwrap()
            .is_none());
        let scaled = Config {
            nats_url: Some("nats://127.0.0.1:4222".into()),
            ..Config::default()
        };
        assert!(scaled.export_options().unwrap().is_none());
        for (cfg, key) in [
            (
                with(|x| x.max_rows_per_file = 0),
                "export.max_rows_per_file",
            ),
            (
                with(|x| x.manifest_max_files = 0),
                "export.manifest_max_files",
            ),
            (
                with(|x| x.manifest_interval_ms = 3_600_001),
                "export.manifest_interval_ms",
            ),
            (with(|x| x.url = Some("gs://b/p".into())), "export.url"),
            (
                with(|x| x.s3_endpoint = Some("minio:9000".into())),
                "export.s3_endpoint",
            ),
        ] {
            let e = cfg.validate().unwrap_err();
            assert!(e.starts_with(key), "{e}");
        }
        assert!(with(|x| x.url = Some("s3://bucket/p".into()))
            .validate()
            .is_ok());
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
        assert!(with("rediss://cache:6380", 250).validate().is_ok(), "TLS");
        let scheme = with("http://cache", 250).validate().unwrap_err();
        assert!(scheme.starts_with("redis_url:"), "{scheme}");
        let timeout = with("redis://cache", 0).validate().unwrap_err();
        assert!(timeout.starts_with("redis.timeout_ms:"), "{timeout}");
    }
}

/// `metrics_listen`: an address, or `off` / `""` for none.
mod optional_addr {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::net::SocketAddr;

    pub fn serialize<S: Serializer>(v: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(a) => s.collect_str(a),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim() {
            "" | "off" => Ok(None),
            a => a.parse().map(Some).map_err(|_| {
                serde::de::Error::custom(format!("{a:?} is not an ADDR:PORT, `off` or empty"))
            }),
        }
    }
}
