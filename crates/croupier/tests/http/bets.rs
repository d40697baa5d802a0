//! Single-step bets: every game settled by its published rules, refusals that
//! change nothing, replays, the history, parallel bets; each re-verified.

use crate::helpers::*;
use croupier_core::Role;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Independent roulette rules: does a bet cover `pocket`, and what it pays.
fn roulette_covers(bet: &Value, p: u64) -> bool {
    const RED: [u64; 18] = [
        1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36,
    ];
    let n = bet["value"].as_u64().unwrap_or(0);
    match text(&bet["type"]) {
        "straight" => p == n,
        "split" => bet["value"].as_array().unwrap().iter().any(|v| v == p),
        "street" => p >= n && p <= n + 2,
        "corner" => [n, n + 1, n + 3, n + 4].contains(&p),
        "line" => p >= n && p <= n + 5,
        "red" => RED.contains(&p),
        "black" => p != 0 && !RED.contains(&p),
        "odd" => p % 2 == 1,
        "even" => p != 0 && p.is_multiple_of(2),
        "low" => (1..=18).contains(&p),
        "high" => (19..=36).contains(&p),
        "dozen" => p != 0 && (p - 1) / 12 + 1 == n,
        "column" => p != 0 && (p - 1) % 3 + 1 == n,
        other => panic!("unknown bet type {other}"),
    }
}

fn roulette_pays(kind: &str) -> i64 {
    match kind {
        "straight" => 36,
        "split" => 18,
        "street" => 12,
        "corner" => 9,
        "line" => 6,
        "dozen" | "column" => 3,
        _ => 2,
    }
}

/// Checks a bet's result against the published rules, independently of the engine.
#[track_caller]
fn assert_rules(b: &Value) {
    let stake = int(&b["stake"]);
    let payout = int(&b["payout"]);
    let p = &b["params"];
    let o = &b["outcome"];
    match text(&b["game"]) {
        "dice" => {
            let roll = hundredths(&o["roll"]);
            let target = hundredths(&p["target"]);
            assert!((0..=10_000).contains(&roll));
            let (win, chance) = if p["direction"] == "over" {
                (roll > target, 10_000 - target)
            } else {
                (roll < target, target)
            };
            assert_eq!(b["win"], win, "{b}");
            let m = if win { 990_000 / chance } else { 0 };
            assert_eq!(hundredths(&b["multiplier"]), m, "{b}");
            assert_eq!(payout, times(stake, m), "{b}");
        }
        "limbo" => {
            let result = hundredths(&o["multiplier"]);
            let target = hundredths(&p["target"]);
            assert!(result >= 100);
            let win = result >= target;
            assert_eq!(b["win"], win, "{b}");
            assert_eq!(payout, if win { times(stake, target) } else { 0 }, "{b}");
        }
        "roulette" => {
            let pocket = uint(&o["pocket"]);
            assert!(pocket <= 36);
            let expected: i64 = p["bets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| roulette_covers(x, pocket))
                .map(|x| int(&x["amount"]) * roulette_pays(text(&x["type"])))
                .sum();
            assert_eq!(payout, expected, "{b}");
            assert_eq!(b["win"], expected > stake, "{b}");
        }
        "flip" => {
            let flips = o["flips"].as_array().unwrap();
            assert_eq!(flips.len() as u64, uint(&p["count"]));
            let win = o["flips"] == p["choices"];
            assert_eq!(b["win"], win, "{b}");
            // 0.99 × 2^count, floored to two decimals.
            let m = 99 * (1i64 << uint(&p["count"]));
            assert_eq!(payout, if win { times(stake, m) } else { 0 }, "{b}");
        }
        "plinko" => {
            let slot = uint(&o["slot"]);
            assert!(slot <= uint(&p["rows"]));
            let rights = b["fairness"]["floats"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f.as_f64().unwrap() >= 0.5)
                .count() as u64;
            assert_eq!(slot, rights, "slot = number of rights: {b}");
            if p["rows"] == 8 && p["risk"] == "low" {
                let table = [560, 210, 110, 100, 50, 100, 110, 210, 560];
                assert_eq!(hundredths(&o["multiplier"]), table[slot as usize]);
            }
            assert_eq!(payout, times(stake, hundredths(&o["multiplier"])), "{b}");
        }
        "keno" => {
            let drawn: Vec<u64> = o["drawn"].as_array().unwrap().iter().map(uint).collect();
            assert_eq!(drawn.len(), 10);
            assert_eq!(drawn.iter().collect::<BTreeSet<_>>().len(), 10, "{b}");
            assert!(drawn.iter().all(|d| (1..=40).contains(d)), "{b}");
            let hits = p["picks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| drawn.contains(&uint(x)))
                .count();
            assert_eq!(o["hits"], hits, "{b}");
        }
        other => panic!("unexpected game {other}"),
    }
}

#[tokio::test]
async fn every_game_settles_through_http_by_the_published_rules() {
    let app = spawn_games().await;
    let (_, token) = funded(&app, "alice").await;
    let r = rotate(&app, &token, Some(json!({ "client_seed": "alice's seed" }))).await;
    assert_eq!(r.status, StatusCode::OK);
    let commitment = r.body["server_seed_hash"].clone();

    let roulette = json!({ "bets": [
        { "type": "straight", "value": 17, "amount": 10 },
        { "type": "split", "value": [17, 20], "amount": 20 },
        { "type": "street", "value": 4, "amount": 5 },
        { "type": "corner", "value": 8, "amount": 5 },
        { "type": "line", "value": 31, "amount": 5 },
        { "type": "red", "amount": 100 },
        { "type": "black", "amount": 15 },
        { "type": "odd", "amount": 15 },
        { "type": "even", "amount": 15 },
        { "type": "low", "amount": 15 },
        { "type": "high", "amount": 15 },
        { "type": "dozen", "value": 2, "amount": 50 },
        { "type": "column", "value": 3, "amount": 30 },
    ] });
    let roulette_stake: i64 = roulette["bets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| int(&b["amount"]))
        .sum();
    let plan = vec![
        (
            "dice",
            1_000,
            json!({ "target": 50.5, "direction": "over" }),
        ),
        (
            "dice",
            1_000,
            json!({ "target": 49.5, "direction": "under" }),
        ),
        (
            "dice",
            777,
            json!({ "target": 33.33, "direction": "under" }),
        ),
        ("limbo", 1_000, json!({ "target": 2.0 })),
        ("limbo", 500, json!({ "target": 1.5 })),
        ("roulette", roulette_stake, roulette.clone()),
        (
            "roulette",
            36,
            json!({ "bets": [{ "type": "straight", "value": 0, "amount": 36 }] }),
        ),
        (
            "flip",
            1_000,
            json!({ "count": 3, "choices": ["heads", "tails", "heads"] }),
        ),
        ("flip", 100, json!({ "count": 1, "choices": ["tails"] })),
        ("plinko", 1_000, json!({ "rows": 8, "risk": "low" })),
        ("plinko", 1_000, json!({ "rows": 16, "risk": "high" })),
        ("plinko", 250, json!({ "rows": 12, "risk": "medium" })),
        (
            "keno",
            1_000,
            json!({ "picks": [1, 5, 9, 13, 17, 21, 25, 29, 33, 37], "risk": "classic" }),
        ),
        ("keno", 300, json!({ "picks": [2, 40], "risk": "high" })),
    ];
    let mut balance = FAUCET;
    let mut placed = Vec::new();
    for (i, (game, stake, params)) in plan.into_iter().enumerate() {
        let b = bet_ok(&app, &token, game, stake, params).await;
        assert_eq!(
            b["fairness"]["nonce"], i as u64,
            "one nonce per bet, in order"
        );
        assert_eq!(b["fairness"]["server_seed_hash"], commitment);
        assert_eq!(b["fairness"]["client_seed"], "alice's seed");
        assert!(
            b["fairness"].get("server_seed").is_none(),
            "secret before rotation"
        );
        assert_rules(&b);
        balance += int(&b["payout"]) - stake;
        assert_eq!(b["balance"], balance, "{b}");
        placed.push(b);
    }
    assert_eq!(app.balance(&token, "CHIP").await, balance);
    assert_eq!(next_nonce(&app, &token).await, placed.len() as u64);

    let verified = rotate_and_verify_all(&app, &token).await;
    assert_eq!(verified.len(), placed.len());
    // The public verifier reproduces each bet from its own params.
    for b in &verified {
        let f = &b["fairness"];
        let r = app
            .post(
                VERIFY,
                None,
                json!({ "game": b["game"], "server_seed": f["server_seed"],
                        "client_seed": f["client_seed"], "nonce": f["nonce"], "params": b["params"] }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["server_seed_hash"], f["server_seed_hash"]);
        for (k, v) in r.body["outcome"].as_object().unwrap() {
            assert_eq!(&b["outcome"][k], v, "{k}: {b}");
            assert_eq!(&r.body[k], v);
        }
    }
    // Newest first, and nothing but the placed bets (without their seeds now revealed).
    let ids: Vec<&Value> = verified.iter().map(|b| &b["bet_id"]).collect();
    let want: Vec<&Value> = placed.iter().rev().map(|b| &b["bet_id"]).collect();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn boundary_bets_settle_and_out_of_range_ones_are_refused() {
    let app = spawn_games().await;
    let (_, token) = funded(&app, "alice").await;
    // Win chance 98 %: pays floor2(99 / 98) = 1.01; 0.01 %: pays 9900.
    let cases = [
        (json!({ "target": 2.0, "direction": "over" }), 101),
        (json!({ "target": 98.0, "direction": "under" }), 101),
        (json!({ "target": 99.99, "direction": "over" }), 990_000),
        (json!({ "target": 0.01, "direction": "under" }), 990_000),
    ];
    let mut count = 0;
    for (params, m) in cases {
        for _ in 0..3 {
            let b = bet_ok(&app, &token, "dice", 100, params.clone()).await;
            assert_rules(&b);
            if b["win"] == true {
                assert_eq!(hundredths(&b["multiplier"]), m, "{b}");
                assert_eq!(int(&b["payout"]), times(100, m));
            }
            count += 1;
        }
    }
    // Limbo's extremes; 1,000,000× needs a stake of at most 100 under the 10^8 cap.
    for _ in 0..3 {
        let b = bet_ok(&app, &token, "limbo", 1_000, json!({ "target": 1.01 })).await;
        assert_rules(&b);
        count += 1;
    }
    let b = bet_ok(&app, &token, "limbo", 100, json!({ "target": 1_000_000 })).await;
    assert_rules(&b);
    count += 1;
    let b = bet_ok(&app, &token, "limbo", 1, json!({ "target": 1_000_000.0 })).await;
    assert_rules(&b);
    count += 1;

    let balance = app.balance(&token, "CHIP").await;
    let nonce = next_nonce(&app, &token).await;
    let r = bet(&app, &token, "limbo", 101, json!({ "target": 1_000_000 })).await;
    assert_field(&r, 422, "payout_over_cap", "stake");
    assert_eq!(r.body["max_payout"], 100_000_000);
    // 0.01 % dice at stake 10,102 could pay 100,009,800.
    let r = bet(
        &app,
        &token,
        "dice",
        10_102,
        json!({ "target": 99.99, "direction": "over" }),
    )
    .await;
    assert_field(&r, 422, "payout_over_cap", "stake");
    let refused = [
        json!({ "target": 1.99, "direction": "over" }), // 98.01 %
        json!({ "target": 98.01, "direction": "under" }), // 98.01 %
        json!({ "target": 100, "direction": "over" }),  // 0 %
        json!({ "target": 0, "direction": "under" }),   // 0 %
        json!({ "target": 100.01, "direction": "under" }),
        json!({ "target": 50.555, "direction": "over" }),
    ];
    for params in refused {
        let r = bet(&app, &token, "dice", 100, params.clone()).await;
        assert_field(&r, 422, "invalid_params", "params.target");
    }
    for target in [json!(1.0), json!(1.009), json!(1_000_000.01), json!(0)] {
        let r = bet(&app, &token, "limbo", 100, json!({ "target": target })).await;
        assert_field(&r, 422, "invalid_params", "params.target");
    }
    assert_untouched(&app, &token, balance, nonce, "refused boundary bets").await;
    assert_eq!(rotate_and_verify_all(&app, &token).await.len(), count);
}

#[tokio::test]
async fn refused_bets_debit_nothing_and_consume_no_nonce() {
    let app = spawn_games().await;
    let (_, token) = funded(&app, "alice").await;
    let bad_params = [
        (
            "dice",
            json!({ "target": 50, "direction": "sideways" }),
            "params.direction",
        ),
        ("dice", json!({ "direction": "over" }), "params.target"),
        (
            "dice",
            json!({ "target": "50", "direction": "over" }),
            "params.target",
        ),
        (
            "dice",
            json!({ "target": 50, "direction": "over", "x": 1 }),
            "params.x",
        ),
        ("dice", json!("over 50"), "params"),
        ("limbo", json!({}), "params.target"),
        ("roulette", json!({ "bets": [] }), "params.bets"),
        (
            "roulette",
            json!({ "bets": [{ "type": "purple", "amount": 100 }] }),
            "params.bets[0].type",
        ),
        (
            "roulette",
            json!({ "bets": [{ "type": "straight", "value": 37, "amount": 100 }] }),
            "params.bets[0].value",
        ),
        (
            "roulette",
            json!({ "bets": [{ "type": "split", "value": [1, 5], "amount": 100 }] }),
            "params.bets[0].value",
        ),
        (
            "roulette",
            json!({ "bets": [{ "type": "red", "value": 1, "amount": 100 }] }),
            "params.bets[0].value",
        ),
        (
            "roulette",
            json!({ "bets": [{ "type": "dozen", "value": 4, "amount": 100 }] }),
            "params.bets[0].value",
        ),
        (
            "roulette",
            json!({ "bets": [{ "type": "red", "amount": 100 }, { "type": "black", "amount": 0 }] }),
            "params.bets[1].amount",
        ),
        (
            "flip",
            json!({ "count": 3, "choices": ["heads"] }),
            "params.choices",
        ),
        ("flip", json!({ "count": 1 }), "params.choices"),
        (
            "flip",
            json!({ "count": 1, "choices": ["edge"] }),
            "params.choices",
        ),
        (
            "flip",
            json!({ "count": 21, "choices": ["heads"] }),
            "params.count",
        ),
        ("flip", json!({ "count": 0, "choices": [] }), "params.count"),
        ("plinko", json!({ "rows": 7, "risk": "low" }), "params.rows"),
        (
            "plinko",
            json!({ "rows": 17, "risk": "low" }),
            "params.rows",
        ),
        (
            "plinko",
            json!({ "rows": 8, "risk": "extreme" }),
            "params.risk",
        ),
        (
            "keno",
            json!({ "picks": [], "risk": "low" }),
            "params.picks",
        ),
        (
            "keno",
            json!({ "picks": (1..=11).collect::<Vec<_>>(), "risk": "low" }),
            "params.picks",
        ),
        (
            "keno",
            json!({ "picks": [0], "risk": "low" }),
            "params.picks[0]",
        ),
        (
            "keno",
            json!({ "picks": [3, 41], "risk": "low" }),
            "params.picks[1]",
        ),
        (
            "keno",
            json!({ "picks": [5, 5], "risk": "low" }),
            "params.picks[1]",
        ),
        (
            "keno",
            json!({ "picks": [5], "risk": "wild" }),
            "params.risk",
        ),
    ];
    for (game, params, field) in bad_params {
        let r = bet(&app, &token, game, 100, params.clone()).await;
        assert_field(&r, 422, "invalid_params", field);
    }
    // Roulette's stake is the sum of its amounts.
    let r = bet(
        &app,
        &token,
        "roulette",
        100,
        json!({ "bets": [{ "type": "red", "amount": 100 }, { "type": "odd", "amount": 50 }] }),
    )
    .await;
    assert_field(&r, 422, "stake_mismatch", "stake");
    let ok_dice = json!({ "target": 50.5, "direction": "over" });
    for stake in [0, -5, 1_000_001] {
        let r = bet(&app, &token, "dice", stake, ok_dice.clone()).await;
        assert_field(&r, 422, "stake_out_of_range", "stake");
        assert_eq!(r.body["min_stake"], 1);
        assert_eq!(r.body["max_stake"], 1_000_000);
    }
    let r = bet(
        &app,
        &token,
        "plinko",
        1_000_000,
        json!({ "rows": 16, "risk": "high" }),
    )
    .await;
    assert_field(&r, 422, "payout_over_cap", "stake");
    let r = bet(&app, &token, "dice", FAUCET + 1, ok_dice.clone()).await;
    assert_problem(&r, 422, "insufficient_funds");
    let r = bet(&app, &token, "poker", 100, ok_dice.clone()).await;
    assert_problem(&r, 404, "unknown_game");
    let r = bet(&app, &token, "mines", 100, json!({ "mines": 3 })).await;
    assert_problem(&r, 422, "multi_step_game");
    for cur in ["NOPE", "chip", ""] {
        let r = app
            .post(
                &bet_path("dice"),
                Some(&token),
                json!({ "currency": cur, "stake": 100, "params": ok_dice }),
            )
            .await;
        assert_field(&r, 422, "unknown_currency", "currency");
    }
    let body_cases = [
        (
            json!({ "currency": "CHIP", "params": ok_dice }),
            "missing_field",
            "stake",
        ),
        (
            json!({ "currency": "CHIP", "stake": 100 }),
            "missing_field",
            "params",
        ),
        (
            json!({ "currency": "CHIP", "stake": 1.5, "params": ok_dice }),
            "invalid_field",
            "stake",
        ),
        (
            json!({ "currency": "CHIP", "stake": 100, "params": ok_dice, "nonce": 7 }),
            "unknown_field",
            "nonce",
        ),
    ];
    for (body, code, field) in body_cases {
        let r = app.post(&bet_path("dice"), Some(&token), body).await;
        assert_field(&r, 422, code, field);
    }
    assert_untouched(&app, &token, FAUCET, 0, "refused bets").await;
    assert_eq!(history(&app, &token, "", 100).await, Vec::<Value>::new());
    assert_eq!(app.all_transactions(&token, "CHIP", 100).await.len(), 1);

    // The first accepted bet takes nonce 0.
    let b = bet_ok(&app, &token, "dice", 100, ok_dice).await;
    assert_eq!(b["fairness"]["nonce"], 0);
    assert_eq!(rotate_and_verify_all(&app, &token).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bet_idempotency_key_replays_the_bet_once() {
    let app = spawn_games().await;
    let (_, token) = funded(&app, "alice").await;
    let (_, bob) = funded(&app, "bob").await;
    let body = json!({ "currency": "CHIP", "stake": 1_000, "params": { "target": 50.5, "direction": "over" } });
    let send = |token: &str, key: &str, path: String, body: Value| {
        let (token, key) = (token.to_owned(), key.to_owned());
        let app = &app;
        async move {
            app.call(Method::POST, &path, Some(&token), Some(&key), Some(body))
                .await
        }
    };
    let first = send(&token, "bet-1", bet_path("dice"), body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert!(!replayed(&first));
    assert_bet_shape(&first.body);
    for _ in 0..3 {
        let again = send(&token, "bet-1", bet_path("dice"), body.clone()).await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert!(replayed(&again), "{:?}", again.headers);
        assert!(again.content_type().starts_with("application/json"));
        assert_eq!(again.body, first.body);
    }
    let balance = int(&first.body["balance"]);
    assert_eq!(app.balance(&token, "CHIP").await, balance, "debited once");
    assert_eq!(next_nonce(&app, &token).await, 1);
    assert_eq!(history(&app, &token, "", 100).await.len(), 1);

    // The same key with another body or another game is a reuse.
    let mut other = body.clone();
    other["stake"] = json!(999);
    let r = send(&token, "bet-1", bet_path("dice"), other).await;
    assert_field(&r, 422, "idempotency_key_reused", "Idempotency-Key");
    let r = send(
        &token,
        "bet-1",
        bet_path("limbo"),
        json!({ "currency": "CHIP", "stake": 1_000, "params": { "target": 2 } }),
    )
    .await;
    assert_problem(&r, 422, "idempotency_key_reused");
    assert_untouched(&app, &token, balance, 1, "a reused key").await;

    // Keys are per player.
    let rb = send(&bob, "bet-1", bet_path("dice"), body.clone()).await;
    assert_eq!(rb.status, StatusCode::CREATED);
    assert!(!replayed(&rb));
    assert_ne!(rb.body["bet_id"], first.body["bet_id"]);

    // Twenty concurrent sends of one key: one bet, nineteen replays of it.
    let results =
        join_all((0..20).map(|_| send(&token, "bet-2", bet_path("dice"), body.clone()))).await;
    let originals: Vec<&Resp> = results.iter().filter(|r| !replayed(r)).collect();
    assert_eq!(originals.len(), 1, "{results:?}");
    for r in &results {
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body, originals[0].body);
    }
    assert_eq!(originals[0].body["fairness"]["nonce"], 1);
    assert_eq!(
        app.balance(&token, "CHIP").await,
        int(&originals[0].body["balance"])
    );
    assert_eq!(next_nonce(&app, &token).await, 2);
    assert_eq!(rotate_and_verify_all(&app, &token).await.len(), 2);
    assert_eq!(rotate_and_verify_all(&app, &bob).await.len(), 1);
}

#[tokio::test]
async fn bet_history_pages_newest_first_and_only_for_its_owner() {
    let app = spawn_games().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (_, token) = funded(&app, "alice").await;
    let (_, bob) = funded(&app, "bob").await;
    let r = app.get("/v1/bets", &token).await;
    assert_eq!(r.body, json!({ "items": [], "next_cursor": null }));
    assert_eq!(app.get("/v1/bets/recent", &token).await.body, json!([]));

    let mut placed = Vec::new();
    for i in 0..25u32 {
        let b = if i % 3 == 0 {
            bet_ok(&app, &token, "limbo", 10, json!({ "target": 1.5 })).await
        } else {
            bet_ok(
                &app,
                &token,
                "dice",
                10,
                json!({ "target": 50.5, "direction": "over" }),
            )
            .await
        };
        placed.push(b);
    }
    let newest_first: Vec<Value> = placed.iter().rev().cloned().collect();

    let r = app.get("/v1/bets", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        20,
        "default limit 20"
    );
    assert!(r.body["next_cursor"].is_string());
    for limit in [1, 7, 25, 100] {
        assert_eq!(
            history(&app, &token, "", limit).await,
            newest_first,
            "limit {limit}"
        );
    }
    let dice = history(&app, &token, "&game=dice", 4).await;
    let want: Vec<Value> = newest_first
        .iter()
        .filter(|b| b["game"] == "dice")
        .cloned()
        .collect();
    assert_eq!(dice, want);
    assert!(history(&app, &token, "&game=roulette", 10).await.is_empty());
    let r = app.get("/v1/bets/recent", &token).await;
    assert_eq!(r.body, json!(newest_first[..10]));

    for limit in ["0", "101", "x", "-1", ""] {
        let r = app.get(&format!("/v1/bets?limit={limit}"), &token).await;
        assert_field(&r, 422, "invalid_limit", "limit");
    }
    let r = app.get("/v1/bets?game=poker", &token).await;
    assert_field(&r, 422, "unknown_game", "game");
    for cursor in ["abc", "0", "1e3"] {
        let r = app.get(&format!("/v1/bets?cursor={cursor}"), &token).await;
        assert_field(&r, 422, "invalid_cursor", "cursor");
    }

    // Only the owner and admins see a bet.
    let id = text(&placed[0]["bet_id"]);
    let path = format!("/v1/bets/{id}");
    assert_eq!(app.get(&path, &token).await.body, placed[0]);
    assert_eq!(app.get(&path, &admin).await.body, placed[0]);
    assert_problem(&app.get(&path, &bob).await, 404, "bet_not_found");
    assert!(app.get("/v1/bets", &bob).await.body["items"] == json!([]));
    for unknown in [
        "0190f1d5-1c4e-7000-8000-000000000000",
        "nope",
        &"x".repeat(65),
    ] {
        assert_problem(
            &app.get(&format!("/v1/bets/{unknown}"), &token).await,
            404,
            "bet_not_found",
        );
    }

    // After rotation the server seed is part of the record.
    let verified = rotate_and_verify_all(&app, &token).await;
    assert_eq!(verified.len(), 25);
    let b = app.get(&path, &token).await.body;
    assert!(is_hex64(text(&b["fairness"]["server_seed"])));
    let mut without = b.clone();
    without["fairness"]
        .as_object_mut()
        .unwrap()
        .remove("server_seed");
    assert_eq!(without, placed[0], "only the seed was added");
}

/// Checks one player's bets as a whole: nonces 0..n on one pair, and balances
/// that chain in nonce order from `start` to the wallet's balance.
async fn assert_serialized(app: &TestApp, token: &str, start: i64, bets: &[Value]) {
    let mut by_nonce: Vec<&Value> = bets.iter().collect();
    by_nonce.sort_by_key(|b| uint(&b["fairness"]["nonce"]));
    let nonces: Vec<u64> = by_nonce
        .iter()
        .map(|b| uint(&b["fairness"]["nonce"]))
        .collect();
    assert_eq!(
        nonces,
        (0..bets.len() as u64).collect::<Vec<_>>(),
        "contiguous and unique"
    );
    let hashes: BTreeSet<&str> = bets
        .iter()
        .map(|b| text(&b["fairness"]["server_seed_hash"]))
        .collect();
    assert_eq!(hashes.len(), 1);
    let s = seeds(app, token).await;
    assert_eq!(s["nonce"], bets.len() as u64);
    assert_eq!(s["server_seed_hash"], *hashes.iter().next().unwrap());
    let mut balance = start;
    for b in &by_nonce {
        balance += int(&b["payout"]) - int(&b["stake"]);
        assert_eq!(b["balance"], balance, "balances follow nonce order: {b}");
    }
    let staked: i64 = bets.iter().map(|b| int(&b["stake"])).sum();
    let paid: i64 = bets.iter().map(|b| int(&b["payout"])).sum();
    assert_eq!(app.balance(token, "CHIP").await, start - staked + paid);
    assert_eq!(balance, start - staked + paid);
    assert_eq!(history(app, token, "", 100).await.len(), bets.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_bets_from_one_player_use_contiguous_nonces() {
    let app = spawn_games().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (_, token) = funded(&app, "alice").await;
    let results = join_all((0..200u32).map(|i| {
        let stake = 1 + (i as i64 % 50) * 7;
        let direction = if i % 2 == 0 { "over" } else { "under" };
        let params = json!({ "target": 10 + i % 80, "direction": direction });
        let (app, token) = (&app, &token);
        async move { bet(app, token, "dice", stake, params).await }
    }))
    .await;
    let bets: Vec<Value> = results
        .into_iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            r.body
        })
        .collect();
    assert_serialized(&app, &token, FAUCET, &bets).await;
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit}");
    assert_eq!(audit["problems"], json!([]));
    let chip = &audit["currencies"][0];
    assert_eq!(chip["postings_sum"], 0);
    assert_eq!(chip["wallets_total"], app.balance(&token, "CHIP").await);
    let verified = rotate_and_verify_all(&app, &token).await;
    assert_eq!(verified.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_bets_from_many_players_keep_every_ledger_exact() {
    let app = spawn_games().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let mut players = Vec::new();
    for i in 0..10 {
        players.push(funded(&app, &format!("player{i}")).await.1);
    }
    let plan = |i: usize| -> (&'static str, i64, Value) {
        let stake = 10 + (i as i64 % 9) * 13;
        match i % 6 {
            0 => (
                "dice",
                stake,
                json!({ "target": 50.5, "direction": "over" }),
            ),
            1 => ("limbo", stake, json!({ "target": 3.33 })),
            2 => (
                "roulette",
                stake + 20,
                json!({ "bets": [{ "type": "red", "amount": stake }, { "type": "straight", "value": i % 37, "amount": 20 }] }),
            ),
            3 => (
                "flip",
                stake,
                json!({ "count": 2, "choices": ["heads", "tails"] }),
            ),
            4 => (
                "plinko",
                stake,
                json!({ "rows": 8 + (i % 9) as u8, "risk": "medium" }),
            ),
            _ => (
                "keno",
                stake,
                json!({ "picks": [1, 2, 3, 4, 5, 6], "risk": "low" }),
            ),
        }
    };
    let jobs = players.iter().enumerate().flat_map(|(p, token)| {
        (0..30).map(move |i| {
            let (game, stake, params) = plan(i + p);
            (p, token, game, stake, params)
        })
    });
    let app_ref = &app;
    let results = join_all(jobs.map(|(p, token, game, stake, params)| async move {
        (p, bet(app_ref, token, game, stake, params).await)
    }))
    .await;
    let mut per_player: Vec<Vec<Value>> = vec![Vec::new(); players.len()];
    for (p, r) in results {
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        per_player[p].push(r.body);
    }
    let mut total = 0;
    for (token, bets) in players.iter().zip(&per_player) {
        assert_eq!(bets.len(), 30);
        assert_serialized(&app, token, FAUCET, bets).await;
        total += app.balance(token, "CHIP").await;
    }
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit}");
    assert_eq!(audit["problems"], json!([]));
    let chip = &audit["currencies"][0];
    assert_eq!(chip["postings_sum"], 0);
    assert_eq!(chip["wallets_total"], total);
    assert_eq!(
        chip["system_accounts"]["house"],
        FAUCET * 10 - total,
        "{chip}"
    );
    for token in &players {
        assert_eq!(rotate_and_verify_all(&app, token).await.len(), 30);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_bets_never_overdraw_and_refusals_use_no_nonce() {
    let app = spawn_games().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    assert_eq!(
        app.adjust(&admin, &id, 1_000, None).await.status,
        StatusCode::CREATED
    );
    // 30 bets of 100 against 1,000: at most 10 can be afforded unless one wins.
    let results = join_all((0..30).map(|_| {
        let (app, token) = (&app, &token);
        async move {
            bet(
                app,
                token,
                "dice",
                100,
                json!({ "target": 99.99, "direction": "over" }),
            )
            .await
        }
    }))
    .await;
    let mut accepted = Vec::new();
    for r in &results {
        if r.status == StatusCode::CREATED {
            accepted.push(r.body.clone());
        } else {
            assert_problem(r, 422, "insufficient_funds");
        }
    }
    assert!(accepted.len() >= 10, "the first ten are affordable");
    let refused = results.len() - accepted.len();
    assert_serialized(&app, &token, 1_000, &accepted).await;
    if refused > 0 {
        let lowest = accepted.iter().map(|b| int(&b["balance"])).min().unwrap();
        assert!(
            lowest < 100,
            "refused only when the balance was below the stake"
        );
    }
    let paid: i64 = accepted.iter().map(|b| int(&b["payout"])).sum();
    if paid == 0 {
        assert_eq!(accepted.len(), 10);
        assert_eq!(app.balance(&token, "CHIP").await, 0);
    }
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit}");
    assert_eq!(audit["currencies"][0]["postings_sum"], 0);
    assert_eq!(
        rotate_and_verify_all(&app, &token).await.len(),
        accepted.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotations_racing_bets_never_reuse_or_skip_a_nonce() {
    let app = spawn_games().await;
    let (_, token) = funded(&app, "alice").await;
    let results = join_all((0..126u32).map(|i| {
        let (app, token) = (&app, &token);
        async move {
            if i % 21 == 10 {
                (true, rotate(app, token, None).await)
            } else {
                let params = json!({ "target": 50.5, "direction": "over" });
                (false, bet(app, token, "dice", 10 + i as i64, params).await)
            }
        }
    }))
    .await;
    let mut bets = 0;
    for (rotation, r) in &results {
        let want = if *rotation {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        assert_eq!(r.status, want, "{:?}", r.body);
        bets += usize::from(!rotation);
    }
    assert_eq!(bets, 120);
    let verified = rotate_and_verify_all(&app, &token).await;
    assert_eq!(verified.len(), bets);
    // Each revealed pair was used by exactly nonces 0..its nonce.
    let previous = seeds(&app, &token).await["previous"].clone();
    let previous = previous.as_array().unwrap();
    assert!(previous.len() >= 6, "six rotations, plus the final one");
    let mut used = 0;
    for pair in previous {
        let mut nonces: Vec<u64> = verified
            .iter()
            .filter(|b| b["fairness"]["server_seed_hash"] == pair["server_seed_hash"])
            .map(|b| uint(&b["fairness"]["nonce"]))
            .collect();
        nonces.sort_unstable();
        assert_eq!(
            nonces,
            (0..uint(&pair["nonce"])).collect::<Vec<_>>(),
            "{pair}"
        );
        used += nonces.len();
    }
    assert_eq!(used, bets);
}
