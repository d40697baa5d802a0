//! Property tests: stream ranges, draws, HMAC equivalence and money arithmetic.

use croupier_fair::games::roulette::MAX_TOTAL_AMOUNT;
use croupier_fair::games::{keno, mines};
use croupier_fair::stream::{block, Floats};
use croupier_fair::{play, Game, GameParams, Multiplier, DEFAULT_EDGE_BPS};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::json;
use sha2::Sha256;

fn unit_floats(n: usize) -> impl Strategy<Value = Vec<f64>> {
    // Floats exactly as the stream makes them: u32 / 2^32, including the extremes.
    prop::collection::vec(prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()], n)
        .prop_map(|v| v.into_iter().map(|x| x as f64 / 4_294_967_296.0).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn floats_are_in_unit_interval(server in "[ -~]{0,100}", client in "[ -~]{1,64}", nonce in any::<u64>()) {
        for f in Floats::new(&server, &client, nonce).take(24) {
            prop_assert!((0.0..1.0).contains(&f));
        }
    }

    #[test]
    fn block_equals_hmac_crate(server in "[ -~]{0,200}", client in "[ -~]{0,150}", nonce in any::<u64>(), round in 0u64..1000) {
        let mut mac = Hmac::<Sha256>::new_from_slice(server.as_bytes()).unwrap();
        mac.update(format!("{client}:{nonce}:{round}").as_bytes());
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        prop_assert_eq!(block(&server, &client, nonce, round), expected);
    }

    #[test]
    fn keno_draw_is_ten_distinct_squares(floats in unit_floats(10)) {
        let drawn = keno::draw_from(&floats.clone().try_into().unwrap());
        let mut sorted = drawn.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), 10);
        prop_assert!(drawn.iter().all(|d| (1..=40).contains(d)));
    }

    #[test]
    fn mines_are_distinct_tiles(floats in unit_floats(24), count in 1u8..=24) {
        let tiles = mines::positions_from(&floats, count);
        prop_assert_eq!(tiles.len(), count as usize);
        let mut sorted = tiles.clone();
        sorted.sort_unstable();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), count as usize);
        prop_assert!(tiles.iter().all(|&t| t < 25));
    }

    #[test]
    fn seeded_draws_are_distinct(server in "[0-9a-f]{64}", nonce in any::<u64>(), count in 1u8..=24) {
        let tiles = croupier_fair::mine_positions(&server, "client", nonce, count).unwrap();
        let mut s = tiles.clone();
        s.sort_unstable();
        s.dedup();
        prop_assert_eq!(s.len(), count as usize);
        let drawn = keno::draw(&mut Floats::new(&server, "client", nonce));
        let mut d = drawn.to_vec();
        d.sort_unstable();
        d.dedup();
        prop_assert_eq!(d.len(), 10);
    }

    #[test]
    fn payout_is_exact_floor_and_never_overflows(stake in 0i64..=1_000_000_000_000, h in 0u64..=100_000_000) {
        let p = Multiplier::from_hundredths(h).payout(stake);
        let exact = stake as i128 * h as i128; // stake · multiplier · 100
        prop_assert!(p >= 0);
        prop_assert!(p as i128 * 100 <= exact, "payout exceeds stake · multiplier");
        prop_assert!(p as i128 * 100 > exact - 100, "payout is more than one unit short");
    }

    #[test]
    fn negative_or_zero_stake_pays_nothing(stake in i64::MIN..=0, h in any::<u64>()) {
        prop_assert_eq!(Multiplier::from_hundredths(h).payout(stake), 0);
    }

    #[test]
    fn roulette_payout_is_exact_sum(
        bets in prop::collection::vec((0u8..=36, 1i64..=1_000_000_000), 1..=64),
        nonce in any::<u64>(),
    ) {
        let json_bets: Vec<_> = bets.iter().map(|&(n, a)| json!({"type": "straight", "value": n, "amount": a})).collect();
        let params = GameParams::from_json(Game::Roulette, &json!({ "bets": json_bets })).unwrap();
        let s = play(&params, "seed", "client", nonce, DEFAULT_EDGE_BPS).unwrap();
        let pocket = s.outcome["pocket"].as_u64().unwrap() as u8;
        let expected: i64 = bets.iter().filter(|b| b.0 == pocket).map(|b| b.1 * 36).sum();
        let total = params.fixed_stake().unwrap();
        prop_assert_eq!(total, bets.iter().map(|b| b.1).sum::<i64>());
        prop_assert_eq!(s.payout(total), expected);
        prop_assert!(s.payout(total) <= total * 36);
        prop_assert_eq!(s.win, expected > total);
        // A different stake scales proportionally and stays within bounds.
        let half = s.payout(total / 2);
        prop_assert!(half >= 0 && half <= expected);
    }

    #[test]
    fn settlement_payout_bounded_by_multiplier(game_idx in 0usize..7, nonce in any::<u64>(), stake in 0i64..=1_000_000_000_000) {
        let (game, params) = [
            (Game::Dice, json!({"target": 12.34, "direction": "under"})),
            (Game::Limbo, json!({"target": 1.5})),
            (Game::Roulette, json!({"bets": [{"type": "red", "amount": 500}]})),
            (Game::Flip, json!({"count": 2, "choices": ["heads", "tails"]})),
            (Game::Plinko, json!({"rows": 16, "risk": "high"})),
            (Game::Keno, json!({"picks": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "risk": "high"})),
            (Game::Mines, json!({"mines": 5, "tiles": [3, 7, 11]})),
        ][game_idx].clone();
        let params = GameParams::from_json(game, &params).unwrap();
        let s = play(&params, "server", "client", nonce, DEFAULT_EDGE_BPS).unwrap();
        let stake = params.fixed_stake().unwrap_or(stake);
        let p = s.payout(stake);
        prop_assert!(p >= 0);
        // Roulette red pays exactly 2.00 or nothing, so the bound is exact for every game here.
        prop_assert!(p as i128 * 100 <= stake as i128 * s.multiplier.hundredths() as i128);
        if s.multiplier == Multiplier::ZERO {
            prop_assert_eq!(p, 0);
            prop_assert!(!s.win);
        }
        let expected_floats = [1, 1, 1, 2, 16, 10, 5][game_idx];
        prop_assert_eq!(s.floats_used.len(), expected_floats);
        prop_assert_eq!(&s.floats_used[..], &Floats::new("server", "client", nonce).take(expected_floats).collect::<Vec<_>>()[..]);
    }
}

#[test]
fn roulette_total_cap_keeps_payouts_in_range() {
    let big = json!({"bets": [{"type": "straight", "value": 1, "amount": MAX_TOTAL_AMOUNT}]});
    let params = GameParams::from_json(Game::Roulette, &big).unwrap();
    for nonce in 0..200 {
        let s = play(&params, "s", "c", nonce, DEFAULT_EDGE_BPS).unwrap();
        assert!(s.payout(MAX_TOTAL_AMOUNT) >= 0);
    }
    let too_big = json!({"bets": [
        {"type": "red", "amount": MAX_TOTAL_AMOUNT},
        {"type": "black", "amount": 1}
    ]});
    let err = GameParams::from_json(Game::Roulette, &too_big).unwrap_err();
    assert_eq!(err.field, "bets");
}
