//! `croupier`: the platform's one binary.

use anyhow::Context;
use clap::builder::NonEmptyStringValueParser;
use clap::{Parser, Subcommand};
use croupier::config::{Config, LogFormat};
use croupier_core::{NewPlayer, PlayerId, Role};
use figment::value::{Dict, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: each password hash takes argon2's
/// 19 MiB, on whichever blocking thread runs it, and glibc kept those blocks
/// in per-thread arenas for good (about 1 GB of RSS after 10,000 logins);
/// mimalloc returns them, and is faster on the bet path's small allocations
/// (bench/README.md, "Memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "croupier",
    version,
    about = "Croupier: a provably fair gaming platform backend."
)]
struct Cli {
    /// TOML configuration file (also CROUPIER_CONFIG). See `croupier config`.
    #[arg(long, global = true, env = "CROUPIER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct DataDir {
    /// Directory of the embedded database (also CROUPIER_DATA_DIR; default ./data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Use PostgreSQL instead of the embedded database: postgres://… (also
    /// CROUPIER_DATABASE_URL or CROUPIER_DATABASE_URL_FILE).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform: migrate, then serve HTTP until SIGTERM/Ctrl-C.
    Serve {
        /// Listen address (also CROUPIER_LISTEN; default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
        /// Share rate limits and session revocations between instances through
        /// Redis: redis://… (also CROUPIER_REDIS_URL or CROUPIER_REDIS_URL_FILE).
        #[arg(long, value_name = "URL")]
        redis_url: Option<String>,
        /// What to run, comma-separated: api (HTTP API), worker (event
        /// consumers), relay (outbox relay). Also CROUPIER_ROLES; default all three.
        #[arg(long, value_name = "ROLES")]
        roles: Option<String>,
        /// Relay events through NATS JetStream: nats://… (also
        /// CROUPIER_NATS_URL or CROUPIER_NATS_URL_FILE). Default: in-process.
        #[arg(long, value_name = "URL")]
        nats_url: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        data: DataDir,
    },
    /// Back the embedded store up while it runs: a consistent, checked copy
    /// in a new file croupier-<UTC time>.db. PostgreSQL: pg_dump or PITR
    /// (docs/operations/runbook.md).
    Backup {
        /// A directory, or s3://bucket/prefix (credentials, region and
        /// endpoint from the AWS_* variables).
        #[arg(long, value_name = "DIR|s3://…", value_parser = NonEmptyStringValueParser::new())]
        to: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Make a backup file the embedded store of an empty data directory
    /// (checked, migrated; an existing store is never overwritten).
    Restore {
        /// The backup: a file, or s3://bucket/key.
        #[arg(long, value_name = "FILE|s3://…", value_parser = NonEmptyStringValueParser::new())]
        from: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Check a restored store (embedded or PostgreSQL): SQLite's own checks,
    /// the ledger audit, the nonce audit. Prints a JSON report, exits 1 on any
    /// problem.
    VerifyRestore {
        #[command(flatten)]
        data: DataDir,
    },
    /// Print the documented default configuration as TOML.
    Config {
        /// Instead, check the configuration this instance would run with
        /// (--config file, then CROUPIER_* variables): exit 0 if valid, 2
        /// naming the bad key otherwise.
        #[arg(long)]
        check: bool,
    },
    /// Operator tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Ledger tools.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Event tools.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Exit 0 if the URL answers 2xx within the timeout, 1 otherwise: the
    /// container HEALTHCHECK, which needs no shell tools in the image.
    Healthcheck {
        /// What to GET (http:// only). Default: this configuration's local
        /// /readyz (a wildcard `listen` is reached on loopback).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Longest wait for the answer, connection included.
        #[arg(long, value_name = "MS", default_value_t = 2000,
              value_parser = clap::value_parser!(u64).range(1..=60_000))]
        timeout_ms: u64,
    },
    /// Provably fair tools: verify outcomes offline, compute RTP.
    Fair {
        #[command(subcommand)]
        command: croupier::fair_cli::FairCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user with a role (e.g. the first admin). Prints it as JSON.
    CreateUser {
        #[arg(long)]
        username: String,
        /// File holding the password (a trailing newline is ignored).
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
        /// admin, support or player.
        #[arg(long, value_parser = ["admin", "support", "player"])]
        role: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Check the ledger's invariants; prints a JSON report, exits 1 on any
    /// problem. The store must exist: a missing one is an error, not a clean ledger.
    Audit {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Feed outbox events after a position to one consumer's handler; prints a
    /// JSON report. Events the consumer already applied are skipped (its
    /// inbox), so this fills gaps; with --reset (only with --from 0) the
    /// projection and inbox are emptied first, so it is rebuilt from the
    /// outbox. Only events still in the outbox are replayed: published events
    /// are pruned after events.outbox_retention_hours (0 keeps them).
    Replay {
        /// The consumer, e.g. stats.
        #[arg(long)]
        consumer: String,
        /// Outbox position: events after it are replayed (0: all).
        #[arg(long, value_name = "POSITION")]
        from: i64,
        /// Empty the consumer's projection and inbox first (needs --from 0).
        #[arg(long)]
        reset: bool,
        #[command(flatten)]
        data: DataDir,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut overrides = Dict::new();
    let storage = match &cli.command {
        Command::Serve { data, .. }
        | Command::Migrate { data }
        | Command::Admin {
            command: AdminCommand::CreateUser { data, .. },
        }
        | Command::Ledger {
            command: LedgerCommand::Audit { data },
        }
        | Command::Events {
            command: EventsCommand::Replay { data, .. },
        }
        | Command::Backup { data, .. }
        | Command::Restore { data, .. }
        | Command::VerifyRestore { data } => Some(data),
        Command::Config { .. } | Command::Fair { .. } | Command::Healthcheck { .. } => None,
    };
    if let Some(d) = storage.and_then(|s| s.data_dir.as_ref()) {
        overrides.insert("data_dir".into(), Value::from(d.display().to_string()));
    }
    if let Some(url) = storage.and_then(|s| s.database_url.as_ref()) {
        overrides.insert("database_url".into(), Value::from(url.clone()));
    }
    if let Command::Serve {
        listen,
        roles,
        nats_url,
        ..
    } = &cli.command
    {
        for (key, value) in [("listen", listen), ("roles", roles), ("nats_url", nats_url)] {
            if let Some(v) = value {
                overrides.insert(key.into(), Value::from(v.clone()));
            }
        }
    }
    if let Command::Serve {
        redis_url: Some(url),
        ..
    } = &cli.command
    {
        overrides.insert("redis_url".into(), Value::from(url.clone()));
    }
    // These need no configuration, storage or logging.
    match cli.command {
        Command::Config { check: false } => {
            print!("{}", croupier::config::DEFAULT_TOML);
            return ExitCode::SUCCESS;
        }
        Command::Fair { command } => return croupier::fair_cli::run(command),
        _ => {}
    }
    let cfg = match Config::load(cli.config.as_deref(), overrides) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: invalid configuration: {e}");
            // Docker reserves a health check's exit code 2.
            let healthcheck = matches!(cli.command, Command::Healthcheck { .. });
            return ExitCode::from(if healthcheck { 1 } else { 2 });
        }
    };
    if let Command::Config { check: true } = cli.command {
        println!("configuration ok");
        return ExitCode::SUCCESS;
    }
    if let Command::Healthcheck { url, timeout_ms } = &cli.command {
        let url = url
            .clone()
            .unwrap_or_else(|| croupier::healthcheck::default_url(cfg.listen));
        return croupier::healthcheck::run(&url, std::time::Duration::from_millis(*timeout_ms));
    }
    init_logging(&cfg);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(cli.command, cfg)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command, cfg: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { .. } => croupier::server::serve(cfg).await?,
        Command::Backup { to, .. } => return croupier::backup_cli::backup(&cfg, &to).await,
        Command::Restore { from, .. } => return croupier::backup_cli::restore(&cfg, &from).await,
        Command::VerifyRestore { .. } => return croupier::backup_cli::verify_restore(&cfg).await,
        Command::Migrate { .. } => migrate(&cfg).await?,
        Command::Config { .. } | Command::Fair { .. } | Command::Healthcheck { .. } => {
            unreachable!("handled before logging starts")
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    username,
                    password_file,
                    role,
                    ..
                },
        } => create_user(&cfg, username, &password_file, &role).await?,
        Command::Events {
            command:
                EventsCommand::Replay {
                    consumer,
                    from,
                    reset,
                    ..
                },
        } => return replay(&cfg, &consumer, from, reset).await,
        Command::Ledger {
            command: LedgerCommand::Audit { .. },
        } => {
            let store = croupier::server::open_existing_store(&cfg).await?;
            let report = store.audit().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.ok {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `croupier migrate`: the configured store's schema, brought up to date.
async fn migrate(cfg: &Config) -> anyhow::Result<()> {
    match &cfg.database_url {
        Some(url) => {
            croupier_store_postgres::PostgresStore::migrate(url)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::json!({ "migrated": "postgres" }));
        }
        None => {
            std::fs::create_dir_all(&cfg.data_dir)?;
            let v = croupier_store_sqlite::SqliteStore::migrate(&cfg.database_path())?;
            println!("{}", serde_json::json!({ "schema_version": v }));
        }
    }
    Ok(())
}

/// `croupier admin create-user`: the same checks as registration, any role.
async fn create_user(
    cfg: &Config,
    username: String,
    password_file: &std::path::Path,
    role: &str,
) -> anyhow::Result<()> {
    let password = std::fs::read_to_string(password_file)
        .with_context(|| format!("cannot read {}", password_file.display()))?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    let problem = |e: croupier_api::error::ApiError| {
        anyhow::anyhow!(
            "{}: {}",
            e.problem.field.unwrap_or_default(),
            e.problem.detail.unwrap_or(e.problem.title)
        )
    };
    croupier_api::auth::validate_username(&username).map_err(problem)?;
    croupier_api::auth::validate_password("password", &password).map_err(problem)?;
    let store = croupier::server::open_store(cfg).await?;
    let hash = croupier_api::auth::hash_password(cfg.auth.argon2, password)
        .await
        .map_err(problem)?;
    let role = Role::parse(role).expect("clap validated the role");
    let player = store
        .create_player(NewPlayer {
            id: PlayerId::new(),
            username,
            password_hash: hash,
            roles: vec![role],
            created_at: croupier_core::now(),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{}",
        serde_json::json!({
            "player_id": player.id, "username": player.username, "roles": [role.as_str()],
        })
    );
    Ok(())
}

/// `croupier events replay`: a consumer run again over the outbox from a
/// position, its projection first cleared with `--reset`.
async fn replay(cfg: &Config, consumer: &str, from: i64, reset: bool) -> anyhow::Result<ExitCode> {
    if from < 0 {
        anyhow::bail!("--from: an outbox position, 0 or more");
    }
    if reset && from != 0 {
        // Statistics are sums: the effect of events after a position
        // cannot be taken out of them alone, only rebuilt whole.
        anyhow::bail!("--reset rebuilds the whole projection: use it with --from 0");
    }
    let store = croupier::server::open_existing_store(cfg).await?;
    let consumers = croupier::events::consumers(cfg, &store);
    let Some(c) = consumers.iter().find(|c| c.name() == consumer) else {
        let names: Vec<_> = consumers.iter().map(|c| c.name().to_owned()).collect();
        anyhow::bail!("--consumer: no consumer {consumer:?} (this build has {names:?})");
    };
    let mut cleared = 0;
    if reset {
        cleared = match c.name() {
            croupier_events::StatsConsumer::NAME => store.reset_stats(c.name()).await,
            croupier_events::RecommendationsConsumer::NAME => {
                store.reset_recommendations(c.name()).await
            }
            _ => anyhow::bail!("--reset: not supported for consumer {consumer:?}"),
        }
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let report = croupier_events::replay(&*store, &*store, c.as_ref(), from, cfg.events.batch)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{}",
        serde_json::json!({
            "consumer": consumer, "from": from, "reset": reset,
            "inbox_cleared": cleared, "report": report,
        })
    );
    Ok(if report.dead_lettered > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
