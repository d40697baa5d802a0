//! Mines rounds: refusals, every ending (cash-out, mine, last safe tile,
//! cancel) paid by the revealed seeds, racing moves, and public verification.

use crate::helpers::*;
use croupier_core::Role;
use croupier_fair::{mine_positions, mines_multiplier};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn reveal(app: &TestApp, token: &str, round: &str, tile: Value) -> Resp {
    app.post(
        &format!("{ROUNDS}/{round}/reveal"),
        Some(token),
        json!({ "tile": tile }),
    )
    .await
}

fn mult(mines: u8, reveals: usize) -> croupier_fair::Multiplier {
    mines_multiplier(mines, reveals as u8, 100).expect("valid reveals")
}

/// The documented round object.
#[track_caller]
fn assert_round_shape(r: &Value, state: &str, mines: u8, stake: i64) {
    assert_eq!(r["state"], state, "{r}");
    assert_eq!(r["mines"], mines);
    assert_eq!(r["stake"], stake);
    assert_eq!(r["currency"], "CHIP");
    let revealed = r["revealed"].as_array().expect("revealed").len();
    let mut expected = names(&[
        "round_id",
        "state",
        "currency",
        "stake",
        "mines",
        "revealed",
        "multiplier",
        "fairness",
    ]);
    if state == "open" {
        expected.insert("next_multiplier".into());
        assert_eq!(
            r["next_multiplier"],
            json!(mult(mines, revealed + 1).as_f64()),
            "{r}"
        );
        assert_eq!(
            r["multiplier"],
            json!(mult(mines, revealed).as_f64()),
            "{r}"
        );
    }
    if state == "completed" {
        expected.insert("mine_positions".into());
        expected.insert("bet".into());
    }
    assert_eq!(keys(r), expected, "{r}");
    assert_eq!(
        keys(&r["fairness"]),
        names(&["server_seed_hash", "client_seed", "nonce"])
    );
}

/// What happened in one mines round.
struct Played {
    id: String,
    mines: u8,
    nonce: u64,
    safe: Vec<u8>,
    hit: Option<u8>,
    state: String,
}

/// Opens a round of `mines`, reveals `tiles` in order until one is a mine, then
/// cashes out if still open. Checks every step, the balance and the closed round.
async fn play_round(app: &TestApp, token: &str, stake: i64, mines: u8, tiles: &[u8]) -> Played {
    let before = app.balance(token, "CHIP").await;
    let s = seeds(app, token).await;
    let r = open_round(app, token, stake, mines).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_round_shape(&r.body, "open", mines, stake);
    assert_eq!(r.body["revealed"], json!([]));
    assert_eq!(r.body["multiplier"], json!(1.0));
    assert_eq!(
        r.body["fairness"],
        json!({ "server_seed_hash": s["server_seed_hash"], "client_seed": s["client_seed"], "nonce": s["nonce"] })
    );
    let id = text(&r.body["round_id"]).to_owned();
    assert_eq!(
        app.balance(token, "CHIP").await,
        before - stake,
        "debited at open"
    );
    assert_eq!(next_nonce(app, token).await, uint(&s["nonce"]) + 1);
    let mut played = Played {
        id: id.clone(),
        mines,
        nonce: uint(&s["nonce"]),
        safe: vec![],
        hit: None,
        state: "open".into(),
    };

    let mut last = r.body;
    for &t in tiles {
        let r = reveal(app, token, &id, json!(t)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        last = r.body;
        let positions: Vec<u8> =
            serde_json::from_value(last["mine_positions"].clone()).unwrap_or_default();
        if last["state"] == "completed" && positions.contains(&t) {
            // A mine: the round is over and pays nothing.
            assert_round_shape(&last, "completed", mines, stake);
            assert_eq!(positions.len(), mines as usize);
            assert_eq!(last["revealed"], json!(played.safe));
            let b = &last["bet"];
            assert_bet_shape(b);
            assert_eq!(b["bet_id"], id.as_str());
            assert_eq!(b["payout"], 0);
            assert_eq!(b["win"], false);
            assert_eq!(b["outcome"]["hit"], t);
            assert_eq!(int(&b["balance"]), before - stake);
            played.hit = Some(t);
            break;
        }
        played.safe.push(t);
        assert_eq!(last["revealed"], json!(played.safe), "{last}");
        if played.safe.len() == 25 - mines as usize {
            // The last safe tile cashes out by itself.
            assert_round_shape(&last, "completed", mines, stake);
            break;
        }
        assert_round_shape(&last, "open", mines, stake);
    }
    if last["state"] == "open" {
        // A revealed tile can't be revealed again.
        if let Some(&t) = played.safe.first() {
            let r = reveal(app, token, &id, json!(t)).await;
            assert_field(&r, 422, "tile_already_revealed", "tile");
        }
        let r = app.get(&format!("{ROUNDS}/{id}"), token).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, last, "GET returns the round");
        let r = cash_out(app, token, &id).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        last = r.body;
    }
    played.state = text(&last["state"]).to_owned();
    let expected_balance = match (played.state.as_str(), played.hit) {
        ("cancelled", _) => {
            assert!(played.safe.is_empty());
            assert_round_shape(&last, "cancelled", mines, stake);
            before
        }
        ("completed", Some(_)) => before - stake,
        ("completed", None) => {
            assert_round_shape(&last, "completed", mines, stake);
            let payout = mult(mines, played.safe.len()).payout(stake);
            let b = &last["bet"];
            assert_bet_shape(b);
            assert_eq!(b["bet_id"], id.as_str());
            assert_eq!(int(&b["payout"]), payout, "{b}");
            assert_eq!(
                hundredths(&b["multiplier"]),
                mult(mines, played.safe.len()).hundredths() as i64
            );
            assert_eq!(b["params"]["tiles"], json!(played.safe));
            let positions: Vec<u8> =
                serde_json::from_value(last["mine_positions"].clone()).expect("positions");
            assert_eq!(positions.len(), mines as usize);
            assert!(played.safe.iter().all(|t| !positions.contains(t)), "{last}");
            assert_eq!(int(&b["balance"]), before - stake + payout);
            before - stake + payout
        }
        other => panic!("unexpected end of round {other:?}: {last}"),
    };
    assert_eq!(app.balance(token, "CHIP").await, expected_balance);
    // A closed round takes no more moves and keeps its state. (A tile not yet
    // revealed: an already revealed one is refused as such before the state.)
    let fresh = (0..25u8).find(|t| !played.safe.contains(t)).unwrap();
    assert_problem(
        &reveal(app, token, &id, json!(fresh)).await,
        409,
        "round_closed",
    );
    assert_problem(&cash_out(app, token, &id).await, 409, "round_closed");
    let r = app.get(&format!("{ROUNDS}/{id}"), token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["state"], played.state.as_str());
    assert_eq!(app.balance(token, "CHIP").await, expected_balance);
    played
}

#[tokio::test]
async fn mines_round_refusals_change_nothing() {
    let app = spawn_games().await;
    let (_, token) = funded(&app, "alice").await;
    let (_, bob) = funded(&app, "bob").await;
    let cases = [
        (
            json!({ "currency": "CHIP", "stake": 1_000, "mines": 0 }),
            422,
            "invalid_params",
            Some("mines"),
        ),
        (
            json!({ "currency": "CHIP", "stake": 1_000, "mines": 25 }),
            422,
            "invalid_params",
            Some("mines"),
        ),
        (
            json!({ "currency": "CHIP", "stake": 1_000, "mines": 300 }),
            422,
            "invalid_params",
            Some("mines"),
        ),
        (
            json!({ "currency": "CHIP", "stake": 0, "mines": 3 }),
            422,
            "stake_out_of_range",
            Some("stake"),
        ),
        (
            json!({ "currency": "CHIP", "stake": 1_000_001, "mines": 3 }),
            422,
            "stake_out_of_range",
            Some("stake"),
        ),
        (
            json!({ "currency": "NOPE", "stake": 1_000, "mines": 3 }),
            422,
            "unknown_currency",
            Some("currency"),
        ),
        (
            json!({ "currency": "CHIP", "stake": 1_000, "mines": 3, "tiles": [1] }),
            422,
            "unknown_field",
            Some("tiles"),
        ),
        (
            json!({ "currency": "CHIP", "stake": FAUCET + 1, "mines": 3 }),
            422,
            "insufficient_funds",
            None,
        ),
    ];
    for (body, status, code, field) in cases {
        let r = app.post(ROUNDS, Some(&token), body).await;
        match field {
            Some(f) => assert_field(&r, status, code, f),
            None => assert_problem(&r, status, code),
        }
    }
    assert_untouched(&app, &token, FAUCET, 0, "refused rounds").await;

    let r = open_round(&app, &token, 1_000, 3).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let round = r.body.clone();
    let id = text(&round["round_id"]).to_owned();
    assert_eq!(round["fairness"]["nonce"], 0);
    assert_untouched(&app, &token, FAUCET - 1_000, 1, "opening").await;

    // One open round at a time, and no rotation while it is open.
    assert_problem(
        &open_round(&app, &token, 1_000, 3).await,
        409,
        "round_already_open",
    );
    assert_problem(&rotate(&app, &token, None).await, 409, "mines_round_open");
    assert_untouched(&app, &token, FAUCET - 1_000, 1, "refused open").await;

    // Bad tiles.
    // Every integer off the board gets one answer; what is not an integer another.
    for tile in [json!(25), json!(-1)] {
        let r = reveal(&app, &token, &id, tile).await;
        assert_field(&r, 422, "invalid_tile", "tile");
    }
    for tile in [json!(1.5), json!("3"), json!(null)] {
        let r = reveal(&app, &token, &id, tile).await;
        assert_problem(&r, 422, "invalid_field");
        assert_eq!(r.body["field"], "tile");
    }
    let r = app
        .post(&format!("{ROUNDS}/{id}/reveal"), Some(&token), json!({}))
        .await;
    assert_field(&r, 422, "missing_field", "tile");

    // Another player's round, or an unknown one, does not exist for them.
    for who in [&bob, &token] {
        let unknown = "0190f1d5-1c4e-7000-8000-000000000000";
        let target = if who == &bob { id.as_str() } else { unknown };
        assert_problem(
            &app.get(&format!("{ROUNDS}/{target}"), who).await,
            404,
            "round_not_found",
        );
        assert_problem(
            &reveal(&app, who, target, json!(3)).await,
            404,
            "round_not_found",
        );
        assert_problem(&cash_out(&app, who, target).await, 404, "round_not_found");
    }
    let r = app.get(&format!("{ROUNDS}/{id}"), &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, round, "nothing changed the round");
    assert_untouched(&app, &bob, FAUCET, 0, "bob's attempts").await;

    // Cashing out before any reveal cancels the round and refunds the stake.
    let r = cash_out(&app, &token, &id).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_round_shape(&r.body, "cancelled", 3, 1_000);
    assert_eq!(r.body["revealed"], json!([]));
    assert_eq!(app.balance(&token, "CHIP").await, FAUCET);
    assert_problem(&cash_out(&app, &token, &id).await, 409, "round_closed");
    assert_problem(
        &reveal(&app, &token, &id, json!(0)).await,
        409,
        "round_closed",
    );
    // A cancelled round is no bet; its nonce stays used.
    assert_problem(
        &app.get(&format!("/v1/bets/{id}"), &token).await,
        404,
        "bet_not_found",
    );
    assert_eq!(next_nonce(&app, &token).await, 1);
    assert!(rotate_and_verify_all(&app, &token).await.is_empty());
}

#[tokio::test]
async fn mines_rounds_pay_by_the_revealed_seeds() {
    let app = spawn_games().await;
    let (_, token) = funded(&app, "alice").await;
    let mut rounds: Vec<Played> = Vec::new();
    let (mut cashed, mut hit, mut auto) = (false, false, false);
    // Mine positions are secret until rotation, so play until each ending has
    // been seen: a cash-out after three safe reveals (1 mine: 88 %), a mine
    // (24 mines: 96 %) and the automatic cash-out on the last safe tile (24
    // mines: 4 %; missing it in 300 rounds has probability 5·10^-6). Stakes
    // of 100 let the claim (100,000) pay for all 300: at 1,000 the money ran
    // out after ~100 losing rounds, and 0.96^100 made the test fail 1 run in 60.
    for attempt in 0..300u32 {
        let p = if !cashed {
            play_round(&app, &token, 100, 1, &[0, 6, 12]).await
        } else {
            play_round(&app, &token, 100, 24, &[(attempt % 25) as u8]).await
        };
        cashed |= p.hit.is_none() && p.safe.len() == 3;
        hit |= p.hit.is_some();
        auto |= p.hit.is_none() && p.mines == 24;
        rounds.push(p);
        if cashed && hit && auto {
            break;
        }
    }
    assert!(cashed && hit && auto, "each ending seen within 300 rounds");
    let cancelled = play_round(&app, &token, 500, 5, &[]).await;
    assert_eq!(cancelled.state, "cancelled");
    rounds.push(cancelled);
    let nonces: Vec<u64> = rounds.iter().map(|p| p.nonce).collect();
    assert_eq!(nonces, (0..rounds.len() as u64).collect::<Vec<_>>());

    let bets = rotate_and_verify_all(&app, &token).await;
    let completed: Vec<&Played> = rounds.iter().filter(|p| p.state == "completed").collect();
    assert_eq!(bets.len(), completed.len());
    let seed = text(&bets[0]["fairness"]["server_seed"]).to_owned();
    let client = text(&bets[0]["fairness"]["client_seed"]).to_owned();
    for p in completed {
        let b = bets
            .iter()
            .find(|b| b["bet_id"] == p.id.as_str())
            .expect("a bet per completed round");
        assert_eq!(b["fairness"]["nonce"], p.nonce);
        let positions = mine_positions(&seed, &client, p.nonce, p.mines).unwrap();
        assert_eq!(b["outcome"]["mines"], json!(positions));
        assert!(
            p.safe.iter().all(|t| !positions.contains(t)),
            "safe reveals were not mines"
        );
        if let Some(t) = p.hit {
            assert!(positions.contains(&t), "the hit tile was a mine");
        }
        let r = app.get(&format!("{ROUNDS}/{}", p.id), &token).await;
        assert_eq!(r.body["mine_positions"], json!(positions));
        assert_eq!(r.body["bet"], *b, "the round quotes its bet");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_mines_opens_and_cash_outs_take_effect_once() {
    let app = spawn_games().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (_, token) = funded(&app, "alice").await;
    let mut balance = FAUCET;
    let mut opened = 0;
    let id = loop {
        assert!(
            opened < 10,
            "a 1-mine round survives one reveal 96 % of the time"
        );
        let results = join_all((0..10).map(|_| open_round(&app, &token, 1_000, 1))).await;
        let created: Vec<&Resp> = results
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .collect();
        assert_eq!(created.len(), 1, "{results:?}");
        for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
            assert_problem(r, 409, "round_already_open");
        }
        opened += 1;
        balance -= 1_000;
        assert_untouched(&app, &token, balance, opened, "racing opens").await;
        let id = text(&created[0].body["round_id"]).to_owned();
        let r = reveal(&app, &token, &id, json!(12)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if r.body["state"] == "open" {
            break id;
        }
        assert_eq!(r.body["bet"]["payout"], 0, "a mine: {:?}", r.body);
    };
    let results = join_all((0..10).map(|_| cash_out(&app, &token, &id))).await;
    let paid: Vec<&Resp> = results
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(paid.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.status != StatusCode::OK) {
        assert_problem(r, 409, "round_closed");
    }
    let payout = mult(1, 1).payout(1_000);
    assert_eq!(paid[0].body["state"], "completed");
    assert_eq!(paid[0].body["bet"]["payout"], payout);
    balance += payout;
    assert_untouched(&app, &token, balance, opened, "racing cash-outs").await;
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit}");
    assert_eq!(audit["currencies"][0]["postings_sum"], 0);
    assert_eq!(
        rotate_and_verify_all(&app, &token).await.len(),
        opened as usize
    );
}

#[tokio::test]
async fn mines_bets_verify_from_their_own_params() {
    let app = spawn_games().await;
    let (_, token) = funded(&app, "alice").await;
    play_round(&app, &token, 1_000, 24, &[0]).await;
    let bets = rotate_and_verify_all(&app, &token).await;
    let b = &bets[0];
    let f = &b["fairness"];
    let r = app
        .post(
            VERIFY,
            None,
            json!({ "game": "mines", "server_seed": f["server_seed"], "client_seed": f["client_seed"],
                    "nonce": f["nonce"], "params": b["params"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["mines"], b["outcome"]["mines"]);
}
