//! croupier-chaos: runs the fault scenarios and writes the reliability report.
//!
//! ```sh
//! cargo build --release -p croupier -p croupier-chaos
//! target/release/croupier-chaos run --all --out docs/reliability
//! target/release/croupier-chaos run --scenario db-cut --scenario kill-api --rate 100
//! ```
//!
//! Build both packages in one command: `cargo run -p croupier-chaos` alone
//! unifies dependency features differently and rebuilds much of the tree.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use croupier_chaos::engines::Engines;
use croupier_chaos::load::Load;
use croupier_chaos::report::{Report, ScenarioReport};
use croupier_chaos::scenario::{Harness, Scenario, Settings, Timing, ALL};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const PRE: u64 = 8;
const POST: u64 = 12;
const OUTAGE: u64 = 20;
const DB_OUTAGE: u64 = 10;
const DOWN: u64 = 5;

#[derive(Parser)]
#[command(
    version,
    about = "Fault injection on the local Croupier cluster, with invariant checks"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the scenarios.
    List,
    /// Run scenarios (each on a fresh cluster and database) and report.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Every scenario, in the listed order.
    #[arg(long, conflicts_with = "scenario")]
    all: bool,
    /// A scenario to run (repeatable).
    #[arg(long, value_enum)]
    scenario: Vec<Scenario>,
    /// Bets offered per second.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Players the bets are spread over.
    #[arg(long, default_value_t = 30)]
    players: usize,
    /// Seconds of load before the fault.
    #[arg(long, default_value_t = PRE)]
    pre: u64,
    /// Seconds of load after the fault ended.
    #[arg(long, default_value_t = POST)]
    post: u64,
    /// Seconds Redis or NATS stays stopped.
    #[arg(long, default_value_t = OUTAGE)]
    outage: u64,
    /// Seconds the DB link stays cut or slowed.
    #[arg(long, default_value_t = DB_OUTAGE)]
    db_outage: u64,
    /// Seconds a SIGKILLed instance stays down before it is started again.
    #[arg(long, default_value_t = DOWN)]
    down: u64,
    /// Seconds one attempt may take (client timeout).
    #[arg(long, default_value_t = 8)]
    timeout: u64,
    /// Seconds a failed bet is retried with its key after its first attempt.
    #[arg(long, default_value_t = 60)]
    retry_for: u64,
    /// Seconds to wait after the load for the stats projection to catch up.
    #[arg(long, default_value_t = 60)]
    catch_up: u64,
    /// The croupier binary (default: $CARGO_TARGET_DIR or target, /release/croupier).
    #[arg(long)]
    croupier: Option<PathBuf>,
    /// Write the report to OUT.md and OUT.json (e.g. docs/reliability).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Cluster logs, one directory per scenario.
    #[arg(long, default_value = "target/chaos")]
    logs: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Cmd::List => {
            let t = Timing {
                pre: Duration::from_secs(PRE),
                post: Duration::from_secs(POST),
                outage: Duration::from_secs(OUTAGE),
                db_outage: Duration::from_secs(DB_OUTAGE),
                down: Duration::from_secs(DOWN),
            };
            for s in ALL {
                println!("{:22} {}", s.name(), s.fault(&t));
            }
            return ExitCode::SUCCESS;
        }
        Cmd::Run(a) => a,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        tokio::select! {
            r = run(args) => r,
            _ = tokio::signal::ctrl_c() => bail!("interrupted; everything started was stopped"),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn timing(a: &RunArgs) -> Timing {
    Timing {
        pre: Duration::from_secs(a.pre),
        post: Duration::from_secs(a.post),
        outage: Duration::from_secs(a.outage),
        db_outage: Duration::from_secs(a.db_outage),
        down: Duration::from_secs(a.down),
    }
}

/// Runs the scenarios; true when every one met its expectations.
async fn run(a: RunArgs) -> Result<bool> {
    let scenarios: Vec<Scenario> = if a.all {
        ALL.to_vec()
    } else {
        a.scenario.clone()
    };
    if scenarios.is_empty() {
        bail!("nothing to run: --all or --scenario NAME (see `croupier-chaos list`)");
    }
    if let Some(tool) = Engines::missing_tools() {
        bail!("{tool} is not installed (see crates/croupier-chaos/README.md)");
    }
    let croupier = a.croupier.clone().unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
        target.join("release/croupier")
    });
    if !croupier.is_file() {
        bail!(
            "{} is missing: cargo build --release -p croupier (or --croupier PATH)",
            croupier.display()
        );
    }
    let settings = Settings {
        croupier: std::fs::canonicalize(&croupier)?,
        players: a.players,
        load: Load {
            rate: a.rate,
            timeout: Duration::from_secs(a.timeout),
            retry_for: Duration::from_secs(a.retry_for),
            max_outstanding: (a.rate as usize * 70).max(100),
            max_run: Duration::from_secs(600),
        },
        timing: timing(&a),
        catch_up: Duration::from_secs(a.catch_up),
        logs: std::path::absolute(&a.logs)?,
    };
    let command = format!(
        "cargo build --release -p croupier -p croupier-chaos && target/release/croupier-chaos {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );

    eprintln!("chaos: starting private PostgreSQL, Redis and NATS");
    let mut harness = Harness::start().await?;
    let mut reports = Vec::new();
    for sc in scenarios {
        eprintln!("chaos: {} ({})", sc.name(), sc.fault(&settings.timing));
        let r = match harness.run(sc, &settings).await {
            Ok(r) => r,
            Err(e) => ScenarioReport::failed(sc, &settings, format!("{e:#}")),
        };
        eprintln!("chaos: {}", serde_json::to_string(&r)?);
        reports.push(r);
    }
    drop(harness);
    let passed = reports.iter().all(ScenarioReport::passed);
    let report = Report::new(command, &settings, reports);
    let md = report.markdown();
    if let Some(out) = &a.out {
        std::fs::write(out.with_extension("md"), &md)?;
        std::fs::write(
            out.with_extension("json"),
            serde_json::to_string_pretty(&report)? + "\n",
        )?;
        eprintln!("chaos: wrote {}.{{md,json}}", out.display());
    } else {
        println!("{md}");
    }
    Ok(passed)
}
