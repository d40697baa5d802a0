//! `croupier fair …`: offline verification and RTP tools. Each prints one JSON
//! object on stdout (external tools rely on the keys); errors go to stderr
//! with exit code 2.

use clap::Subcommand;
use croupier_fair::{Game, DEFAULT_EDGE_BPS};
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum FairCommand {
    /// Recompute a bet's outcome from its seeds, e.g. dice → {"roll": 28.07}.
    Verify {
        /// dice, limbo, roulette, flip, plinko, keno or mines.
        #[arg(long)]
        game: String,
        #[arg(long)]
        server_seed: String,
        #[arg(long)]
        client_seed: String,
        #[arg(long)]
        nonce: u64,
        /// Game parameters as JSON, e.g. '{"rows":8,"risk":"low"}' for plinko.
        #[arg(long, default_value = "{}")]
        params: String,
    },
    /// Crash point of one game of a hash chain → {"crash_point": 7.74}.
    Crash {
        #[arg(long)]
        game_hash: String,
        #[arg(long)]
        salt: String,
    },
    /// Simulate rounds through the real byte stream; prints the simulated RTP,
    /// its 99.9 % interval and the theoretical RTP. Progress goes to stderr.
    Rtp {
        #[arg(long)]
        game: String,
        /// Game parameters as JSON (the bet being simulated).
        #[arg(long, default_value = "{}")]
        params: String,
        #[arg(long, default_value_t = 1_000_000)]
        rounds: u64,
        /// Seed of the random server seed, for reproducible runs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

pub fn run(cmd: FairCommand) -> ExitCode {
    match execute(cmd) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn parse_params(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("--params is not valid JSON: {e}"))
}

fn execute(cmd: FairCommand) -> Result<Value, String> {
    match cmd {
        FairCommand::Verify {
            game,
            server_seed,
            client_seed,
            nonce,
            params,
        } => croupier_fair::verify_json(
            &game,
            &server_seed,
            &client_seed,
            nonce,
            &parse_params(&params)?,
        )
        .map_err(|e| e.to_string()),
        FairCommand::Crash { game_hash, salt } => Ok(croupier_fair::crash_json(&game_hash, &salt)),
        FairCommand::Rtp {
            game,
            params,
            rounds,
            seed,
        } => {
            if rounds == 0 || rounds > 10_000_000_000 {
                return Err("--rounds must be 1-10000000000".into());
            }
            let g: Game = game.parse().map_err(|_| format!("unknown game `{game}`"))?;
            let params = parse_params(&params)?;
            let bar = indicatif::ProgressBar::new(rounds);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bar:40} {pos}/{len} rounds ({per_sec}, eta {eta})",
                )
                .expect("valid template"),
            );
            let sim = croupier_fair::simulate(g, &params, rounds, seed, &mut |done| {
                bar.set_position(done)
            })
            .map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            Ok(json!({
                "game": g.as_str(),
                "params": params,
                "rounds": sim.rounds,
                "house_edge_bps": DEFAULT_EDGE_BPS,
                "simulated_rtp": sim.rtp,
                "interval_99_9": [sim.ci_low, sim.ci_high],
                "theoretical_rtp": sim.theoretical,
                "theoretical_within_interval": sim.ci_low <= sim.theoretical && sim.theoretical <= sim.ci_high,
            }))
        }
    }
}
