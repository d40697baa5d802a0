//! Parameter validation names the offending field; the public API round-trips.

use croupier_fair::{
    cashout_multiplier, mine_positions, mines_multiplier, play, theoretical_rtp, verify_json,
    FairError, Game, GameParams, Multiplier, DEFAULT_EDGE_BPS,
};
use serde_json::{json, Value};

fn field_of(game: Game, params: Value) -> String {
    match GameParams::from_json(game, &params) {
        Ok(p) => panic!("{game} {params} should be rejected, got {p:?}"),
        Err(e) => {
            assert!(
                e.to_string().contains(&e.field),
                "message names the field: {e}"
            );
            e.field
        }
    }
}

#[test]
fn dice_errors_name_the_field() {
    assert_eq!(
        field_of(Game::Dice, json!({"target": 50.555, "direction": "over"})),
        "target"
    );
    assert_eq!(
        field_of(Game::Dice, json!({"target": 1.99, "direction": "over"})),
        "target"
    ); // 98.01 %
    assert_eq!(
        field_of(Game::Dice, json!({"target": 98.01, "direction": "under"})),
        "target"
    );
    assert_eq!(
        field_of(Game::Dice, json!({"target": 0, "direction": "under"})),
        "target"
    );
    assert_eq!(
        field_of(Game::Dice, json!({"target": 100.01, "direction": "over"})),
        "target"
    );
    assert_eq!(
        field_of(Game::Dice, json!({"target": "fifty", "direction": "over"})),
        "target"
    );
    assert_eq!(field_of(Game::Dice, json!({"target": 50})), "direction");
    assert_eq!(
        field_of(Game::Dice, json!({"target": 50, "direction": "sideways"})),
        "direction"
    );
    assert_eq!(
        field_of(
            Game::Dice,
            json!({"target": 50, "direction": "over", "x": 1})
        ),
        "x"
    );
    assert_eq!(field_of(Game::Dice, json!([1, 2])), "params");
    // Boundaries are accepted.
    for (t, d) in [
        (2.0, "over"),
        (99.99, "over"),
        (0.01, "under"),
        (98.0, "under"),
    ] {
        GameParams::from_json(Game::Dice, &json!({"target": t, "direction": d})).unwrap();
    }
}

#[test]
fn limbo_errors_name_the_field() {
    assert_eq!(field_of(Game::Limbo, json!({"target": 1.0})), "target");
    assert_eq!(
        field_of(Game::Limbo, json!({"target": 1_000_000.01})),
        "target"
    );
    assert_eq!(field_of(Game::Limbo, json!({"target": 2.001})), "target");
    assert_eq!(field_of(Game::Limbo, json!({})), "target");
}

#[test]
fn roulette_errors_name_the_bet() {
    let bet = |b: Value| json!({ "bets": [{"type": "red", "amount": 1}, b] });
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "split", "value": [3, 4], "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "split", "value": 3, "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "straight", "value": 37, "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "straight", "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "street", "value": 2, "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "corner", "value": 33, "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "corner", "value": 3, "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "line", "value": 34, "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "dozen", "value": 4, "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "red", "value": 1, "amount": 1}))
        ),
        "bets[1].value"
    );
    assert_eq!(
        field_of(Game::Roulette, bet(json!({"type": "red", "amount": 0}))),
        "bets[1].amount"
    );
    assert_eq!(
        field_of(Game::Roulette, bet(json!({"type": "red", "amount": -5}))),
        "bets[1].amount"
    );
    assert_eq!(
        field_of(Game::Roulette, bet(json!({"type": "red", "amount": 1.5}))),
        "bets[1].amount"
    );
    assert_eq!(
        field_of(Game::Roulette, bet(json!({"type": "purple", "amount": 1}))),
        "bets[1].type"
    );
    assert_eq!(
        field_of(
            Game::Roulette,
            bet(json!({"type": "red", "amount": 1, "odds": 2}))
        ),
        "bets[1].odds"
    );
    assert_eq!(field_of(Game::Roulette, json!({"bets": []})), "bets");
    let many: Vec<Value> = (0..65)
        .map(|_| json!({"type": "red", "amount": 1}))
        .collect();
    assert_eq!(field_of(Game::Roulette, json!({ "bets": many })), "bets");
    let max: Vec<Value> = (0..64)
        .map(|_| json!({"type": "red", "amount": 1}))
        .collect();
    GameParams::from_json(Game::Roulette, &json!({ "bets": max })).unwrap();
}

#[test]
fn flip_plinko_keno_mines_errors_name_the_field() {
    assert_eq!(
        field_of(Game::Flip, json!({"count": 21, "choices": []})),
        "count"
    );
    assert_eq!(
        field_of(Game::Flip, json!({"count": 0, "choices": []})),
        "count"
    );
    assert_eq!(
        field_of(Game::Flip, json!({"count": 2, "choices": ["heads"]})),
        "choices"
    );
    assert_eq!(field_of(Game::Flip, json!({"count": 1})), "choices");
    assert_eq!(
        field_of(Game::Flip, json!({"count": 1, "choices": ["edge"]})),
        "choices"
    );

    assert_eq!(
        field_of(Game::Plinko, json!({"rows": 17, "risk": "low"})),
        "rows"
    );
    assert_eq!(
        field_of(Game::Plinko, json!({"rows": 7, "risk": "low"})),
        "rows"
    );
    assert_eq!(
        field_of(Game::Plinko, json!({"rows": 8, "risk": "extreme"})),
        "risk"
    );

    assert_eq!(
        field_of(Game::Keno, json!({"picks": [], "risk": "low"})),
        "picks"
    );
    assert_eq!(
        field_of(
            Game::Keno,
            json!({"picks": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "risk": "low"})
        ),
        "picks"
    );
    assert_eq!(
        field_of(Game::Keno, json!({"picks": [1, 1], "risk": "low"})),
        "picks[1]"
    );
    assert_eq!(
        field_of(Game::Keno, json!({"picks": [5, 41], "risk": "low"})),
        "picks[1]"
    );
    assert_eq!(
        field_of(Game::Keno, json!({"picks": [0], "risk": "low"})),
        "picks[0]"
    );
    assert_eq!(field_of(Game::Keno, json!({"picks": [1]})), "risk");

    assert_eq!(
        field_of(Game::Mines, json!({"mines": 25, "reveals": 1})),
        "mines"
    );
    assert_eq!(
        field_of(Game::Mines, json!({"mines": 0, "reveals": 1})),
        "mines"
    );
    assert_eq!(field_of(Game::Mines, json!({"mines": 3})), "tiles");
    assert_eq!(
        field_of(Game::Mines, json!({"mines": 3, "reveals": 0})),
        "reveals"
    );
    assert_eq!(
        field_of(Game::Mines, json!({"mines": 24, "reveals": 2})),
        "reveals"
    );
    assert_eq!(
        field_of(Game::Mines, json!({"mines": 3, "tiles": [1, 1]})),
        "tiles[1]"
    );
    assert_eq!(
        field_of(Game::Mines, json!({"mines": 3, "tiles": [25]})),
        "tiles[0]"
    );
    assert_eq!(
        field_of(
            Game::Mines,
            json!({"mines": 3, "tiles": [1, 2], "reveals": 3})
        ),
        "reveals"
    );
}

#[test]
fn edge_is_validated_and_applied() {
    let p =
        GameParams::from_json(Game::Dice, &json!({"target": 50.5, "direction": "over"})).unwrap();
    match play(&p, "s", "c", 0, 1_001) {
        Err(FairError::Param(e)) => assert_eq!(e.field, "edge_bps"),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.theoretical_rtp(1_001).unwrap_err().field, "edge_bps");
    // 2 % edge: 49.5 % chance pays floor2(98 / 49.5) = 1.97.
    let s = play(&p, "server seed", "client seed", 1, 200).unwrap();
    assert_eq!(s.multiplier, Multiplier::from_hundredths(197));
    // A 98 % chance at 2 % edge would pay 1.00: rejected, naming the target.
    let high =
        GameParams::from_json(Game::Dice, &json!({"target": 98.0, "direction": "under"})).unwrap();
    match play(&high, "s", "c", 0, 200) {
        Err(FairError::Param(e)) => assert_eq!(e.field, "target"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn game_names_round_trip() {
    for g in Game::ALL {
        assert_eq!(g.as_str().parse::<Game>().unwrap(), g);
        assert_eq!(serde_json::to_value(g).unwrap(), json!(g.as_str()));
    }
    assert_eq!(
        "crash".parse::<Game>(),
        Err(FairError::UnknownGame("crash".into()))
    );
    assert!(matches!(
        verify_json("baccarat", "s", "c", 0, &json!({})),
        Err(FairError::UnknownGame(_))
    ));
    assert!(matches!(
        theoretical_rtp(Game::Plinko, &json!({"rows": 99, "risk": "low"}), 100),
        Err(FairError::Param(_))
    ));
}

#[test]
fn game_params_serde_round_trip() {
    let cases = [
        (Game::Dice, json!({"target": 50.5, "direction": "over"})),
        (Game::Limbo, json!({"target": 2.0})),
        (
            Game::Roulette,
            json!({"bets": [{"type": "split", "value": [1, 2], "amount": 5}, {"type": "red", "amount": 7}]}),
        ),
        (
            Game::Flip,
            json!({"count": 2, "choices": ["heads", "tails"]}),
        ),
        (Game::Plinko, json!({"rows": 12, "risk": "medium"})),
        (Game::Keno, json!({"picks": [3, 9], "risk": "classic"})),
        (Game::Mines, json!({"mines": 3, "tiles": [0, 24]})),
    ];
    for (game, params) in cases {
        let p = GameParams::from_json(game, &params).unwrap();
        assert_eq!(p.game(), game);
        let tagged = serde_json::to_value(&p).unwrap();
        assert_eq!(tagged, json!({"game": game.as_str(), "params": params}));
        assert_eq!(serde_json::from_value::<GameParams>(tagged).unwrap(), p);
        // The serde path also rejects unknown fields.
        let mut bad = params.clone();
        bad["nope"] = json!(1);
        assert!(serde_json::from_value::<GameParams>(
            json!({"game": game.as_str(), "params": bad})
        )
        .is_err());
    }
}

#[test]
fn play_settles_every_game() {
    let cases = [
        (
            Game::Dice,
            json!({"target": 50.5, "direction": "over"}),
            "roll",
        ),
        (Game::Limbo, json!({"target": 1.3}), "multiplier"),
        (
            Game::Roulette,
            json!({"bets": [{"type": "column", "value": 3, "amount": 10}]}),
            "pocket",
        ),
        (
            Game::Flip,
            json!({"count": 1, "choices": ["heads"]}),
            "flips",
        ),
        (Game::Plinko, json!({"rows": 8, "risk": "low"}), "slot"),
        (
            Game::Keno,
            json!({"picks": [30, 26, 1], "risk": "classic"}),
            "drawn",
        ),
        (Game::Mines, json!({"mines": 3, "reveals": 2}), "mines"),
    ];
    for (game, params, key) in cases {
        let p = GameParams::from_json(game, &params).unwrap();
        let s = play(&p, "server seed", "client seed", 1, DEFAULT_EDGE_BPS).unwrap();
        assert!(s.outcome.get(key).is_some(), "{game}: {}", s.outcome);
        let stake = p.fixed_stake().unwrap_or(1_000);
        assert_eq!(s.win, s.payout(stake) > stake, "{game}");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["multiplier"], json!(s.multiplier.as_f64()));
        assert!(json.get("rule").is_none());
    }
    // Known results for ("server seed", "client seed", 1): roll 74.67, limbo 1.32,
    // pocket 27 (column 3), first flip heads, plinko slot 7, keno draws 30 and 26 first,
    // mines at 18, 15, 5.
    let settle = |g, v: Value| {
        play(
            &GameParams::from_json(g, &v).unwrap(),
            "server seed",
            "client seed",
            1,
            100,
        )
        .unwrap()
    };
    let s = settle(Game::Limbo, json!({"target": 1.32}));
    assert!(s.win && s.multiplier.hundredths() == 132);
    assert!(!settle(Game::Limbo, json!({"target": 1.33})).win);
    let s = settle(
        Game::Roulette,
        json!({"bets": [{"type": "column", "value": 3, "amount": 10}, {"type": "red", "amount": 10}]}),
    );
    assert_eq!(s.payout(20), 30 + 20); // 27 is red and in column 3
    assert_eq!(s.multiplier.hundredths(), 250);
    let s = settle(Game::Plinko, json!({"rows": 8, "risk": "low"}));
    assert_eq!(s.outcome, json!({"slot": 7, "multiplier": 2.1}));
    assert_eq!(s.payout(100), 210);
    let s = settle(Game::Keno, json!({"picks": [30, 26, 1], "risk": "classic"}));
    assert_eq!(s.outcome["hits"], 2);
    assert_eq!(s.multiplier.hundredths(), 493);
    let s = settle(Game::Mines, json!({"mines": 3, "tiles": [0, 1, 2]}));
    assert!(s.win && s.multiplier == croupier_fair::mines_multiplier(3, 3, 100).unwrap());
    let s = settle(Game::Mines, json!({"mines": 3, "tiles": [0, 15]}));
    assert!(!s.win && s.payout(1_000) == 0);
}

#[test]
fn mines_cash_out_needs_a_reveal() {
    assert_eq!(cashout_multiplier(3, 0, 100).unwrap_err().field, "reveals");
    assert_eq!(
        cashout_multiplier(3, 1, 100).unwrap(),
        Multiplier::from_hundredths(112)
    ); // 0.99·25/22 = 1.125 exactly, floored
    assert_eq!(cashout_multiplier(3, 23, 100).unwrap_err().field, "reveals");
}

#[test]
fn verify_accepts_full_bet_params_and_rejects_bad_ones() {
    let v = |g: &str, p: Value| verify_json(g, "server seed", "client seed", 2, &p);
    assert_eq!(
        v("dice", json!({"target": 50.5, "direction": "over"})).unwrap(),
        json!({"roll": 53.86})
    );
    assert_eq!(
        v("limbo", json!({"target": 3})).unwrap(),
        json!({"multiplier": 1.83})
    );
    assert_eq!(
        v("roulette", json!({"bets": [{"type": "red", "amount": 1}]})).unwrap(),
        json!({"pocket": 19})
    );
    assert!(
        v("keno", json!({"picks": [1, 2], "risk": "high"})).unwrap()["drawn"]
            .as_array()
            .unwrap()
            .len()
            == 10
    );
    let mines = v("mines", json!({"mines": 24})).unwrap();
    assert_eq!(mines["mines"].as_array().unwrap().len(), 24);
    for (g, p, field) in [
        ("plinko", json!({"rows": 8}), "risk"),
        ("plinko", json!({}), "rows"),
        ("mines", json!({}), "mines"),
        ("flip", json!({"count": 21}), "count"),
        ("dice", json!({"target": "x"}), "target"),
        ("dice", json!({"bogus": 1}), "bogus"),
    ] {
        match v(g, p) {
            Err(FairError::Param(e)) => assert_eq!(e.field, field),
            other => panic!("{g}: {other:?}"),
        }
    }
}

#[test]
fn a_live_mines_round_hits_exactly_the_drawn_mines() {
    use croupier_fair::games::mines::MineField;
    let field = MineField::draw("server", "client", 7, 3).unwrap();
    assert_eq!(
        field.positions,
        mine_positions("server", "client", 7, 3).unwrap()
    );
    assert_eq!(field.floats.len(), 3);
    for tile in 0..25u8 {
        assert_eq!(
            field.is_mine(tile),
            field.positions.contains(&tile),
            "tile {tile}"
        );
    }
    assert_eq!((0..25u8).filter(|t| field.is_mine(*t)).count(), 3);
    assert_eq!(
        MineField::draw("server", "client", 7, 0).unwrap_err().field,
        "mines"
    );
}

#[test]
fn a_mines_cash_out_pays_the_multiplier_up_to_the_cap() {
    use croupier_fair::games::mines::{cash_out, CashOut};
    let m = mines_multiplier(3, 2, 100).unwrap();
    let uncapped = cash_out(3, 2, 1_000, 100, i64::MAX).unwrap();
    assert_eq!(
        uncapped,
        CashOut {
            payout: m.payout(1_000),
            multiplier: m.hundredths(),
            win: true
        }
    );
    // Capped: the payout stops at the cap and the multiplier says what it paid.
    let capped = cash_out(3, 2, 1_000, 100, 1_100).unwrap();
    assert_eq!(
        capped,
        CashOut {
            payout: 1_100,
            multiplier: 110,
            win: true
        }
    );
    let at_stake = cash_out(3, 2, 1_000, 100, 1_000).unwrap();
    assert!(!at_stake.win);
    assert_eq!(
        cash_out(3, 0, 1_000, 100, i64::MAX).unwrap_err().field,
        "reveals"
    );
}
