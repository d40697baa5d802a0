//! Monte-Carlo checks through the real byte stream: for a low-variance configuration
//! of each game, the 99.9 % interval must be narrow enough (half-width < 0.5 %) to
//! detect a 1 % bias, must contain the exact theoretical RTP, and must exclude the
//! theoretical RTP shifted by 1 % either way.

use croupier_fair::rtp::simulate_params;
use croupier_fair::{Game, GameParams, Simulation, DEFAULT_EDGE_BPS};
use serde_json::{json, Value};

fn run(game: Game, params: Value, rounds: u64) -> Simulation {
    let params = GameParams::from_json(game, &params).unwrap();
    let mut last = 0;
    let sim = simulate_params(&params, DEFAULT_EDGE_BPS, rounds, 20_240_601, &mut |done| {
        assert!(done >= last, "progress must not go backwards");
        last = done;
    })
    .unwrap();
    assert_eq!(last, rounds, "progress reports completion");
    assert_eq!(sim.rounds, rounds);
    assert_eq!(
        sim.theoretical,
        params.theoretical_rtp(DEFAULT_EDGE_BPS).unwrap()
    );
    eprintln!("{game}: {sim:?} half-width {:.4}", sim.half_width());
    assert!(
        sim.half_width() < 0.005,
        "{game}: interval too wide to see a 1 % bias: {sim:?}"
    );
    assert!(
        sim.contains(sim.theoretical),
        "{game}: theoretical RTP outside the interval: {sim:?}"
    );
    assert!(
        !sim.contains(sim.theoretical * 0.99),
        "{game}: a 1 % lower RTP would not be detected"
    );
    assert!(
        !sim.contains(sim.theoretical * 1.01),
        "{game}: a 1 % higher RTP would not be detected"
    );
    sim
}

#[test]
fn dice_49_5_percent() {
    run(
        Game::Dice,
        json!({"target": 50.5, "direction": "over"}),
        500_000,
    );
}

#[test]
fn limbo_2x() {
    run(Game::Limbo, json!({"target": 2.0}), 500_000);
}

#[test]
fn roulette_red() {
    run(
        Game::Roulette,
        json!({"bets": [{"type": "red", "amount": 100}]}),
        500_000,
    );
}

#[test]
fn flip_one_heads() {
    run(
        Game::Flip,
        json!({"count": 1, "choices": ["heads"]}),
        500_000,
    );
}

#[test]
fn plinko_8_low() {
    run(Game::Plinko, json!({"rows": 8, "risk": "low"}), 200_000);
}

#[test]
fn keno_classic_one_pick() {
    run(
        Game::Keno,
        json!({"picks": [7], "risk": "classic"}),
        1_400_000,
    );
}

#[test]
fn mines_one_mine_one_reveal() {
    run(Game::Mines, json!({"mines": 1, "reveals": 1}), 100_000);
}
