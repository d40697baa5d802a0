//! Theoretical RTP and Monte-Carlo simulation over the production code path.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{FairError, ParamError};
use crate::game::{Game, GameParams, Prepared};
use crate::stream::SeedKey;

/// Two-sided 99.9 % normal quantile.
pub const Z_999: f64 = 3.290_526_731_491_926;

/// Exact theoretical RTP of a bet (a fraction, 0.99 = 99 %).
pub fn theoretical_rtp(game: Game, params: &Value, edge_bps: u32) -> Result<f64, FairError> {
    Ok(GameParams::from_json(game, params)?.theoretical_rtp(edge_bps)?)
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Simulation {
    pub rounds: u64,
    /// Total paid / total staked.
    pub rtp: f64,
    /// 99.9 % normal confidence interval from the sample variance of per-round returns.
    pub ci_low: f64,
    pub ci_high: f64,
    pub theoretical: f64,
}

impl Simulation {
    pub fn half_width(&self) -> f64 {
        (self.ci_high - self.ci_low) / 2.0
    }

    pub fn contains(&self, rtp: f64) -> bool {
        (self.ci_low..=self.ci_high).contains(&rtp)
    }
}

/// [`simulate_params`] at the default 1 % edge from (game, JSON params).
pub fn simulate(
    game: Game,
    params: &Value,
    rounds: u64,
    seed: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Simulation, FairError> {
    let params = GameParams::from_json(game, params)?;
    simulate_params(&params, crate::DEFAULT_EDGE_BPS, rounds, seed, progress)
}

/// Plays `rounds` bets with nonces `0..rounds` on a server seed derived from `seed`,
/// through the same code as [`crate::play`]. Mines plays "reveal the planned tiles
/// in order, then cash out". `progress` receives the rounds done every 65,536 rounds
/// and at the end.
pub fn simulate_params(
    params: &GameParams,
    edge_bps: u32,
    rounds: u64,
    seed: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Simulation, FairError> {
    if rounds < 2 {
        return Err(
            ParamError::new("rounds", "at least 2 rounds are needed for an interval").into(),
        );
    }
    let theoretical = params.theoretical_rtp(edge_bps)?;
    let prepared = Prepared::new(params, edge_bps)?;
    // A server seed that looks like a real one (64 hex chars) but is reproducible.
    let server_seed = hex::encode(Sha256::digest(format!("croupier-fair simulation {seed}")));
    let client_seed = format!("simulation-{seed}");
    let key = SeedKey::new(&server_seed);

    // Welford's running mean and variance: stable over millions of rounds.
    let (mut mean, mut m2) = (0.0f64, 0.0f64);
    for nonce in 0..rounds {
        let mut floats = key.floats(&client_seed, nonce);
        let x = prepared.run(&mut floats, edge_bps).return_ratio();
        let n = (nonce + 1) as f64;
        let delta = x - mean;
        mean += delta / n;
        m2 += delta * (x - mean);
        if (nonce + 1) % 65_536 == 0 {
            progress(nonce + 1);
        }
    }
    progress(rounds);
    let variance = m2 / (rounds - 1) as f64;
    let half = Z_999 * (variance / rounds as f64).sqrt();
    Ok(Simulation {
        rounds,
        rtp: mean,
        ci_low: mean - half,
        ci_high: mean + half,
        theoretical,
    })
}
