//! `GameParams::max_payout`: never below what `play(…).payout(stake)` returns (safe),
//! reached by some real round (tight), exact values per game, errors exactly where
//! `play` fails, and no overflow or panic for stakes up to 10^12.

use croupier_fair::games::roulette::{self, BetKind, MAX_TOTAL_AMOUNT};
use croupier_fair::games::{keno, plinko};
use croupier_fair::{
    mines_multiplier, play, Game, GameParams, KenoRisk, MinesParams, Multiplier, PlinkoRisk,
    DEFAULT_EDGE_BPS, MAX_EDGE_BPS,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const SEEDS: [(&str, &str); 3] = [
    ("max payout server seed", "client"),
    (
        "d1b5e6f0a9c84b7e2f3a6c5d4e7b8a9f0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
        "lucky-7",
    ),
    ("", "an empty server seed is still a key"),
];

/// Stakes chosen to exercise flooring (odd, tiny) and magnitude (10^12).
const STAKES: [i64; 13] = [
    1,
    2,
    3,
    7,
    10,
    99,
    100,
    101,
    999,
    12_345,
    1_000_000,
    987_654_321,
    1_000_000_000_000,
];
const EDGES: [u32; 3] = [0, DEFAULT_EDGE_BPS, MAX_EDGE_BPS];

fn params(game: Game, value: Value) -> GameParams {
    GameParams::from_json(game, &value).unwrap_or_else(|e| panic!("{game} {value}: {e}"))
}

/// The stakes to test a bet with: [`STAKES`] plus roulette's own total and neighbours.
fn stakes_for(p: &GameParams) -> Vec<i64> {
    let mut stakes = STAKES.to_vec();
    if let Some(total) = p.fixed_stake() {
        stakes.extend([total - 1, total, total + 1, total * 3 / 2]);
        stakes.retain(|&s| s > 0);
    }
    stakes
}

/// Plays `nonces` rounds per seed pair (stopping early once every stake's bound was
/// hit if `stop_when_tight`), asserting `payout(stake) ≤ max_payout(stake)` for every
/// round and stake. Returns, per stake, whether some round paid exactly the bound.
fn sweep(p: &GameParams, edge: u32, nonces: u64, stop_when_tight: bool) -> Vec<(i64, bool)> {
    let stakes = stakes_for(p);
    let bounds: Vec<i64> = stakes
        .iter()
        .map(|&s| p.max_payout(s, edge).unwrap())
        .collect();
    let mut attained = vec![false; stakes.len()];
    'seeds: for (server, client) in SEEDS {
        for nonce in 0..nonces {
            let s = play(p, server, client, nonce, edge).unwrap();
            for (i, (&stake, &bound)) in stakes.iter().zip(&bounds).enumerate() {
                let paid = s.payout(stake);
                assert!(
                    paid <= bound,
                    "{p:?} edge {edge} stake {stake} nonce {nonce} ({server:?}, {client:?}): \
                     paid {paid} > max_payout {bound} (outcome {})",
                    s.outcome
                );
                attained[i] |= paid == bound;
            }
            if stop_when_tight && attained.iter().all(|&a| a) {
                break 'seeds;
            }
        }
    }
    stakes.into_iter().zip(attained).collect()
}

/// [`sweep`] and require the bound to be reached, for every stake, within `nonces`.
fn assert_tight(p: &GameParams, edge: u32, nonces: u64) {
    for (stake, hit) in sweep(p, edge, nonces, true) {
        assert!(
            hit,
            "{p:?} edge {edge} stake {stake}: max_payout {} never paid in {nonces} nonces × {} seeds",
            p.max_payout(stake, edge).unwrap(),
            SEEDS.len()
        );
    }
}

/// `max_payout` fails exactly where `play` fails, with the same error.
fn same_acceptance(p: &GameParams, edge: u32) -> bool {
    let bound = p.max_payout(1_000, edge);
    let played = play(p, "s", "c", 0, edge);
    match (&bound, &played) {
        (Ok(_), Ok(_)) => true,
        (Err(b), Err(croupier_fair::FairError::Param(e))) => {
            assert_eq!(b, e, "{p:?} edge {edge}");
            false
        }
        _ => panic!("{p:?} edge {edge}: max_payout {bound:?} but play {played:?}"),
    }
}

fn mines_only(mines: u8) -> GameParams {
    GameParams::Mines(MinesParams {
        mines,
        tiles: None,
        reveals: None,
    })
}

// ---------------------------------------------------------------- exact values ---

#[test]
fn exact_values() {
    let cases: [(Game, Value, u32, i64, i64); 14] = [
        // dice 49.5 % at 1 %: floor2(99 / 49.5) = 2.00
        (
            Game::Dice,
            json!({"target": 50.5, "direction": "over"}),
            100,
            1_000,
            2_000,
        ),
        // dice 0.01 % at 1 %: 9900.00×, floored per stake
        (
            Game::Dice,
            json!({"target": 0.01, "direction": "under"}),
            100,
            3,
            29_700,
        ),
        // dice 33 % at 0: floor2(100/33) = 3.03; 7 × 3.03 = 21.21 -> 21
        (
            Game::Dice,
            json!({"target": 33, "direction": "under"}),
            0,
            7,
            21,
        ),
        (Game::Limbo, json!({"target": 1.01}), 1_000, 99, 99),
        (
            Game::Limbo,
            json!({"target": 1000000}),
            100,
            1_000_000_000_000,
            1_000_000_000_000_000_000,
        ),
        // roulette red at its own total, and scaled
        (
            Game::Roulette,
            json!({"bets": [{"type": "red", "amount": 500}]}),
            100,
            500,
            1_000,
        ),
        (
            Game::Roulette,
            json!({"bets": [{"type": "red", "amount": 500}]}),
            100,
            333,
            666,
        ),
        // straight 3 (red) + red: pocket 3 pays 36·100 + 2·100
        (
            Game::Roulette,
            json!({"bets": [{"type": "straight", "value": 3, "amount": 100}, {"type": "red", "amount": 100}]}),
            100,
            200,
            3_800,
        ),
        // straight 0 + red: never both, best is zero's 3600
        (
            Game::Roulette,
            json!({"bets": [{"type": "straight", "value": 0, "amount": 100}, {"type": "red", "amount": 100}]}),
            100,
            200,
            3_600,
        ),
        // flip: 3 flips at 1 % = 7.92; 20 flips capped at 1,000,000.00
        (
            Game::Flip,
            json!({"count": 3, "choices": ["heads", "tails", "heads"]}),
            100,
            100,
            792,
        ),
        (
            Game::Flip,
            json!({"count": 20, "choices": vec!["heads"; 20]}),
            100,
            3,
            3_000_000,
        ),
        (Game::Plinko, json!({"rows": 8, "risk": "low"}), 100, 10, 56),
        (
            Game::Keno,
            json!({"picks": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "risk": "classic"}),
            100,
            100,
            100_000,
        ),
        // mines with a plan: still the full clear, 1 mine = floor2(0.99 · 25) = 24.75
        (
            Game::Mines,
            json!({"mines": 1, "reveals": 1}),
            100,
            100,
            2_475,
        ),
    ];
    for (game, value, edge, stake, expected) in cases {
        let p = params(game, value.clone());
        assert_eq!(
            p.max_payout(stake, edge).unwrap(),
            expected,
            "{game} {value} edge {edge} stake {stake}"
        );
    }
    // Mines without a plan, as an interactive round starts.
    assert_eq!(mines_only(1).max_payout(100, 100).unwrap(), 2_475);
    assert_eq!(mines_only(24).max_payout(100, 100).unwrap(), 2_475);
    assert_eq!(
        mines_only(12).max_payout(7, 100).unwrap(),
        Multiplier::MAX_PAYOUT.payout(7),
        "the deepest mines clears are capped"
    );
    // A non-positive stake can win nothing.
    let dice = params(Game::Dice, json!({"target": 50.5, "direction": "over"}));
    assert_eq!(dice.max_payout(0, 100).unwrap(), 0);
    assert_eq!(dice.max_payout(-5, 100).unwrap(), 0);
}

#[test]
fn tables_and_formulas_match_the_game_modules() {
    for rows in plinko::MIN_ROWS..=plinko::MAX_ROWS {
        for risk in PlinkoRisk::ALL {
            let p = params(Game::Plinko, json!({"rows": rows, "risk": risk}));
            let top = (0..=rows as usize)
                .map(|slot| plinko::multiplier(rows, risk, slot))
                .max()
                .unwrap();
            for stake in STAKES {
                assert_eq!(p.max_payout(stake, 100).unwrap(), top.payout(stake));
            }
        }
    }
    for risk in KenoRisk::ALL {
        for picks in 1..=keno::MAX_PICKS {
            let squares: Vec<u8> = (1..=picks as u8).collect();
            let p = params(Game::Keno, json!({"picks": squares, "risk": risk}));
            let top = (0..=picks)
                .map(|hits| keno::multiplier(risk, picks, hits))
                .max()
                .unwrap();
            for stake in STAKES {
                assert_eq!(p.max_payout(stake, 100).unwrap(), top.payout(stake));
            }
        }
    }
    for edge in EDGES {
        for m in 1..25u8 {
            let full = mines_multiplier(m, 25 - m, edge).unwrap();
            for k in 1..=25 - m {
                assert!(mines_multiplier(m, k, edge).unwrap() <= full);
                let p = params(Game::Mines, json!({"mines": m, "reveals": k}));
                assert_eq!(p.max_payout(12_345, edge).unwrap(), full.payout(12_345));
            }
            assert_eq!(
                mines_only(m).max_payout(12_345, edge).unwrap(),
                full.payout(12_345)
            );
        }
    }
}

#[test]
fn rejected_exactly_where_play_fails() {
    let dice = params(Game::Dice, json!({"target": 50.5, "direction": "over"}));
    assert_eq!(
        dice.max_payout(100, MAX_EDGE_BPS + 1).unwrap_err().field,
        "edge_bps"
    );
    assert!(!same_acceptance(&dice, MAX_EDGE_BPS + 1));
    // 97 % chance pays 1.00 at a 3 % edge: play refuses it, so does max_payout.
    let high = params(Game::Dice, json!({"target": 3, "direction": "over"}));
    assert!(same_acceptance(&high, 100));
    assert!(!same_acceptance(&high, 300));
    assert_eq!(high.max_payout(100, 300).unwrap_err().field, "target");
    // Flip without choices is not a bet.
    let flip = GameParams::Flip(croupier_fair::FlipParams {
        count: 2,
        choices: None,
    });
    assert!(!same_acceptance(&flip, 100));
    // Mines: `{mines}` alone is accepted (interactive round) although play needs a plan...
    assert!(mines_only(3).max_payout(100, 100).is_ok());
    assert!(play(&mines_only(3), "s", "c", 0, 100).is_err());
    // ...but invalid mines, plans and edges are not.
    assert_eq!(
        mines_only(0).max_payout(100, 100).unwrap_err().field,
        "mines"
    );
    assert_eq!(
        mines_only(25).max_payout(100, 100).unwrap_err().field,
        "mines"
    );
    assert_eq!(
        mines_only(3).max_payout(100, 1_001).unwrap_err().field,
        "edge_bps"
    );
    let twice = GameParams::Mines(MinesParams {
        mines: 3,
        tiles: Some(vec![4, 4]),
        reveals: None,
    });
    assert_eq!(twice.max_payout(100, 100).unwrap_err().field, "tiles[1]");
    let too_many = GameParams::Mines(MinesParams {
        mines: 3,
        tiles: None,
        reveals: Some(23),
    });
    assert_eq!(too_many.max_payout(100, 100).unwrap_err().field, "reveals");
    let empty = GameParams::Roulette(croupier_fair::RouletteParams { bets: vec![] });
    assert!(!same_acceptance(&empty, 100));
}

// ------------------------------------------------- safe over a parameter sweep ---

#[test]
fn dice_never_exceeds_and_is_reached() {
    // Win chances in hundredths of a percent, both directions, every edge.
    for chance in [
        1u64, 2, 37, 100, 1_000, 3_333, 4_950, 5_000, 7_500, 9_700, 9_800,
    ] {
        for (direction, target) in [("over", 10_000 - chance), ("under", chance)] {
            let p = params(
                Game::Dice,
                json!({"target": target as f64 / 100.0, "direction": direction}),
            );
            for edge in EDGES {
                if !same_acceptance(&p, edge) {
                    continue; // e.g. 98 % at a 10 % edge pays ≤ 1.00: rejected by both
                }
                let hits = sweep(&p, edge, 120, false);
                if chance >= 1_000 {
                    assert!(
                        hits.iter().all(|&(_, h)| h),
                        "dice {direction} {target} edge {edge}: bound never paid: {hits:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn limbo_never_exceeds_and_is_reached() {
    for target in [1.01, 1.02, 1.5, 2.0, 9.99, 100.0, 12_345.67, 1_000_000.0] {
        let p = params(Game::Limbo, json!({ "target": target }));
        for edge in EDGES {
            assert!(same_acceptance(&p, edge));
            if target <= 2.0 {
                assert_tight(&p, edge, 100);
            } else {
                sweep(&p, edge, 100, false);
            }
        }
    }
}

fn roulette_bet_sets() -> Vec<Value> {
    vec![
        json!({"bets": [{"type": "straight", "value": 17, "amount": 100}]}),
        json!({"bets": [{"type": "straight", "value": 0, "amount": 1}]}),
        json!({"bets": [{"type": "red", "amount": 500}]}),
        json!({"bets": [{"type": "black", "amount": 333}, {"type": "odd", "amount": 7}]}),
        json!({"bets": [
            {"type": "straight", "value": 0, "amount": 10},
            {"type": "split", "value": [17, 20], "amount": 7},
            {"type": "street", "value": 16, "amount": 3},
            {"type": "corner", "value": 16, "amount": 5},
            {"type": "line", "value": 13, "amount": 11},
            {"type": "dozen", "value": 2, "amount": 33},
            {"type": "column", "value": 2, "amount": 13},
            {"type": "red", "amount": 100},
            {"type": "low", "amount": 1}
        ]}),
        // Every number straight up: every pocket pays 36 × its amount.
        json!({"bets": (0..=36).map(|n| json!({"type": "straight", "value": n, "amount": n + 1})).collect::<Vec<_>>()}),
        json!({"bets": [{"type": "straight", "value": 36, "amount": MAX_TOTAL_AMOUNT}]}),
    ]
}

#[test]
fn roulette_never_exceeds_and_is_reached() {
    for value in roulette_bet_sets() {
        let p = params(Game::Roulette, value);
        for edge in EDGES {
            assert!(same_acceptance(&p, edge));
        }
        // 37 pockets: 300 nonces per seed see a given pocket with probability > 0.9999.
        assert_tight(&p, DEFAULT_EDGE_BPS, 300);
    }
}

/// Stronger than "reached once": over enough rounds to see every pocket, the largest
/// payout actually paid equals `max_payout` for every stake (the bound is the true
/// maximum over the wheel, proportional scaling included).
#[test]
fn roulette_bound_is_the_maximum_over_the_wheel() {
    for value in roulette_bet_sets() {
        let p = params(Game::Roulette, value);
        let stakes = stakes_for(&p);
        let mut best = vec![0i64; stakes.len()];
        let mut seen = 0u64;
        for nonce in 0.. {
            let s = play(&p, SEEDS[0].0, SEEDS[0].1, nonce, DEFAULT_EDGE_BPS).unwrap();
            seen |= 1 << s.outcome["pocket"].as_u64().unwrap();
            for (b, &stake) in best.iter_mut().zip(&stakes) {
                *b = (*b).max(s.payout(stake));
            }
            if seen.count_ones() == u32::from(roulette::POCKETS) {
                break;
            }
            assert!(nonce < 2_000, "not every pocket seen");
        }
        for (&stake, &b) in stakes.iter().zip(&best) {
            assert_eq!(
                p.max_payout(stake, DEFAULT_EDGE_BPS).unwrap(),
                b,
                "{p:?} stake {stake}"
            );
        }
    }
}

#[test]
fn flip_never_exceeds_and_is_reached() {
    for count in 1..=20u8 {
        let choices: Vec<&str> = (0..count)
            .map(|i| if i % 3 == 1 { "tails" } else { "heads" })
            .collect();
        let p = params(Game::Flip, json!({"count": count, "choices": choices}));
        for edge in EDGES {
            assert!(same_acceptance(&p, edge));
            if count <= 3 {
                assert_tight(&p, edge, 200);
            } else {
                sweep(&p, edge, 40, false);
            }
        }
    }
}

#[test]
fn plinko_never_exceeds_and_edge_slot_is_reached() {
    for rows in plinko::MIN_ROWS..=plinko::MAX_ROWS {
        for risk in PlinkoRisk::ALL {
            let p = params(Game::Plinko, json!({"rows": rows, "risk": risk}));
            if rows == 8 {
                // The top prize is an edge slot: probability 2/256 per round.
                assert_tight(&p, DEFAULT_EDGE_BPS, 1_500);
            } else {
                sweep(&p, DEFAULT_EDGE_BPS, 60, false);
            }
        }
    }
}

#[test]
fn keno_never_exceeds_and_top_hit_is_reached() {
    for risk in KenoRisk::ALL {
        for picks in 1..=keno::MAX_PICKS as u8 {
            // Spread the picks over the board.
            let squares: Vec<u8> = (0..picks).map(|i| 1 + (i * 7) % 40).collect();
            let p = params(Game::Keno, json!({"picks": squares, "risk": risk}));
            match picks {
                // 1 pick: P(hit) = 1/4; 2 picks: P(both) = 3/52.
                1 | 2 => assert_tight(&p, DEFAULT_EDGE_BPS, 300),
                _ => {
                    sweep(&p, DEFAULT_EDGE_BPS, 40, false);
                }
            }
        }
    }
}

#[test]
fn mines_never_exceeds_and_full_clear_is_reached() {
    for edge in EDGES {
        for m in 1..25u8 {
            let safe = 25 - m;
            let mut plans = vec![
                json!({"mines": m, "reveals": 1}),
                json!({"mines": m, "reveals": safe}),
            ];
            // A scattered order, of every length up to all safe tiles.
            let scattered: Vec<u8> = (0..25u8).map(|i| (i * 7 + 3) % 25).collect();
            plans.push(json!({"mines": m, "tiles": scattered[..safe.div_ceil(2) as usize]}));
            plans.push(json!({"mines": m, "tiles": scattered[..safe as usize]}));
            for plan in plans {
                let p = params(Game::Mines, plan);
                assert!(same_acceptance(&p, edge));
                for stake in STAKES {
                    assert_eq!(
                        p.max_payout(stake, edge).unwrap(),
                        mines_only(m).max_payout(stake, edge).unwrap(),
                        "the bound does not depend on the plan"
                    );
                }
                sweep(&p, edge, 15, false);
            }
        }
    }
    // A full clear is reached: 1 mine (1/25) in order or scattered, 24 mines with
    // their single safe tile (1/25), 2 mines clearing 23 tiles (1/300).
    let scattered: Vec<u8> = (0..25u8).map(|i| (i * 7 + 3) % 25).collect();
    for plan in [
        json!({"mines": 1, "reveals": 24}),
        json!({"mines": 1, "tiles": scattered[..24]}),
        json!({"mines": 24, "reveals": 1}),
        json!({"mines": 24, "tiles": [12]}),
        json!({"mines": 2, "reveals": 23}),
    ] {
        let p = params(Game::Mines, plan);
        for edge in EDGES {
            assert_tight(&p, edge, 2_000);
        }
    }
}

// ------------------------------------------------------------------- proptest ---

/// Any valid bet of any game (plus mines without a plan, as an interactive round).
fn any_params() -> impl Strategy<Value = GameParams> {
    let dice = (0u64..=10_000, any::<bool>()).prop_map(|(t, over)| {
        json!({"target": t as f64 / 100.0, "direction": if over { "over" } else { "under" }})
    });
    let limbo = (101u64..=100_000_000).prop_map(|t| json!({"target": t as f64 / 100.0}));
    let flip = prop::collection::vec(any::<bool>(), 1..=20).prop_map(|c| {
        let choices: Vec<&str> = c
            .iter()
            .map(|&h| if h { "heads" } else { "tails" })
            .collect();
        json!({"count": choices.len(), "choices": choices})
    });
    let plinko = (plinko::MIN_ROWS..=plinko::MAX_ROWS, 0usize..3)
        .prop_map(|(rows, r)| json!({"rows": rows, "risk": PlinkoRisk::ALL[r]}));
    let keno = (
        prop::sample::subsequence((1..=40u8).collect::<Vec<_>>(), 1..=10).prop_shuffle(),
        0usize..4,
    )
        .prop_map(|(picks, r)| json!({"picks": picks, "risk": KenoRisk::ALL[r]}));
    let mines = (1u8..=24).prop_flat_map(|m| {
        let safe = (25 - m) as usize;
        prop_oneof![
            Just(json!({"mines": m})),
            (1..=safe).prop_map(move |r| json!({"mines": m, "reveals": r})),
            prop::sample::subsequence((0..25u8).collect::<Vec<_>>(), 1..=safe)
                .prop_shuffle()
                .prop_map(move |t| json!({"mines": m, "tiles": t})),
        ]
    });
    let roulette = prop_oneof![
        prop::collection::vec((any_roulette_bet(), 1i64..=1_000_000_000_000), 1..=64),
        // One huge bet: 36 × total is just within i64.
        any_roulette_bet().prop_map(|b| vec![(b, MAX_TOTAL_AMOUNT)]),
    ]
    .prop_map(|bets| {
        let bets: Vec<Value> = bets
            .into_iter()
            .map(|((kind, value), amount)| match value {
                Some(v) => json!({"type": kind, "value": v, "amount": amount}),
                None => json!({"type": kind, "amount": amount}),
            })
            .collect();
        json!({ "bets": bets })
    });
    prop_oneof![
        dice.prop_map(|v| (Game::Dice, v)),
        limbo.prop_map(|v| (Game::Limbo, v)),
        roulette.prop_map(|v| (Game::Roulette, v)),
        flip.prop_map(|v| (Game::Flip, v)),
        plinko.prop_map(|v| (Game::Plinko, v)),
        keno.prop_map(|v| (Game::Keno, v)),
        mines.prop_map(|v| (Game::Mines, v)),
    ]
    .prop_filter_map("invalid params", |(game, v)| match game {
        // serde: mines without a plan is a valid round shape but not a valid bet.
        Game::Mines => serde_json::from_value::<MinesParams>(v)
            .ok()
            .map(GameParams::Mines),
        _ => GameParams::from_json(game, &v).ok(),
    })
}

/// A valid roulette bet of any type: (kind, value).
fn any_roulette_bet() -> impl Strategy<Value = (BetKind, Option<Value>)> {
    let splits: Vec<[u8; 2]> = (0..=36u8)
        .flat_map(|a| (a + 1..=36).map(move |b| [a, b]))
        .filter(|&[a, b]| roulette::adjacent(a, b))
        .collect();
    prop_oneof![
        (0u8..=36).prop_map(|n| (BetKind::Straight, Some(json!(n)))),
        prop::sample::select(splits).prop_map(|s| (BetKind::Split, Some(json!(s)))),
        (0u8..12).prop_map(|r| (BetKind::Street, Some(json!(1 + 3 * r)))),
        (1u8..=32)
            .prop_filter("column 3", |n| n % 3 != 0)
            .prop_map(|n| (BetKind::Corner, Some(json!(n)))),
        (0u8..11).prop_map(|r| (BetKind::Line, Some(json!(1 + 3 * r)))),
        (1u8..=3).prop_map(|n| (BetKind::Dozen, Some(json!(n)))),
        (1u8..=3).prop_map(|n| (BetKind::Column, Some(json!(n)))),
        prop::sample::select(vec![
            BetKind::Red,
            BetKind::Black,
            BetKind::Odd,
            BetKind::Even,
            BetKind::Low,
            BetKind::High
        ])
        .prop_map(|k| (k, None)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn max_payout_never_overflows_or_panics(
        p in any_params(),
        stake in prop_oneof![Just(1_000_000_000_000i64), Just(1i64), 1i64..=1_000_000_000_000],
        edge in 0u32..=MAX_EDGE_BPS,
        nonce in any::<u64>(),
    ) {
        let plan_less = matches!(&p, GameParams::Mines(m) if m.tiles.is_none() && m.reveals.is_none());
        let played = play(&p, "proptest", "client", nonce, edge);
        let bound = match p.max_payout(stake, edge) {
            Ok(b) => b,
            Err(e) => {
                // Only dice rejects an edge/chance pair, exactly as play does.
                prop_assert!(matches!(p, GameParams::Dice(_)), "{:?}: {}", p, e);
                prop_assert!(played.is_err());
                return Ok(());
            }
        };
        prop_assert!(bound >= 0);
        // No bet pays more than 1,000,000× (roulette at most 36×): no saturation here.
        prop_assert!(bound as i128 <= stake as i128 * 1_000_000);
        prop_assert!(bound < i64::MAX);
        // Monotone in the stake.
        prop_assert!(p.max_payout(stake - 1, edge).unwrap() <= bound);
        // Roulette at its own (possibly huge) total stays in range too.
        if let Some(total) = p.fixed_stake() {
            let at_total = p.max_payout(total, edge).unwrap();
            prop_assert!(at_total >= 0 && at_total as i128 <= total as i128 * 36);
        }
        // Safe for this round.
        match played {
            Ok(s) => prop_assert!(s.payout(stake) <= bound),
            Err(e) => prop_assert!(plan_less, "{:?}: play failed ({}) but max_payout did not", p, e),
        }
    }
}
