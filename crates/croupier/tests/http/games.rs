//! The game catalog and its administration: the seven games without a token,
//! which routes need one, and admins changing edges, limits and availability.

use crate::helpers::*;
use croupier_core::Role;
use croupier_fair::Game;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn catalog_entry(app: &TestApp, game: &str) -> Value {
    catalog(app)
        .await
        .into_iter()
        .find(|e| e["id"] == game)
        .unwrap_or_else(|| panic!("{game} not listed"))
}

#[tokio::test]
async fn catalog_lists_the_seven_games_without_authentication() {
    let app = spawn_games().await;
    let list = catalog(&app).await;
    assert_eq!(list.len(), 7, "{list:?}");
    let ids: BTreeSet<&str> = list.iter().map(|e| text(&e["id"])).collect();
    assert_eq!(ids, GAMES.into_iter().collect());
    for e in &list {
        assert_eq!(
            keys(e),
            names(&[
                "id",
                "name",
                "enabled",
                "house_edge_bps",
                "theoretical_rtp",
                "reference_params",
                "params_schema",
                "limits",
                "multi_step"
            ]),
            "{e}"
        );
        let id = text(&e["id"]);
        assert!(!text(&e["name"]).is_empty());
        assert_eq!(e["enabled"], true);
        // Roulette's edge is the wheel's: 1/37.
        assert_eq!(
            e["house_edge_bps"],
            if id == "roulette" { 270 } else { 100 }
        );
        assert_eq!(e["multi_step"], id == "mines");
        assert_eq!(e["params_schema"]["type"], "object", "{e}");
        assert_eq!(
            e["limits"],
            json!([{ "currency": "CHIP", "min_stake": 1, "max_stake": 1_000_000, "max_payout": 100_000_000 }])
        );
        let game: Game = id.parse().unwrap();
        let rtp = e["theoretical_rtp"].as_f64().expect("numeric RTP");
        let expected = croupier_fair::theoretical_rtp(game, &e["reference_params"], 100).unwrap();
        assert!((rtp - expected).abs() < 1e-12, "{id}: {rtp} vs {expected}");
        assert!(rtp > 0.95 && rtp < 1.0, "{id}: {rtp}");
        if id == "roulette" {
            assert!((rtp - 36.0 / 37.0).abs() < 1e-12);
        }
    }
}

#[tokio::test]
async fn player_routes_need_a_token_and_public_ones_do_not() {
    let app = spawn_games().await;
    let protected = [
        (Method::GET, SEEDS),
        (Method::POST, ROTATE),
        (Method::POST, "/v1/games/dice/bets"),
        (Method::GET, "/v1/bets"),
        (Method::GET, "/v1/bets/recent"),
        (Method::GET, "/v1/bets/0190f1d5-1c4e-7000-8000-000000000000"),
        (Method::POST, ROUNDS),
        (Method::PATCH, "/v1/admin/games/dice"),
    ];
    for (method, path) in protected {
        let r = app
            .call(method.clone(), path, None, None, Some(json!({})))
            .await;
        assert_problem(&r, 401, "unauthorized");
        let r = app
            .call(method.clone(), path, Some("nope"), None, Some(json!({})))
            .await;
        assert_problem(&r, 401, "unauthorized");
    }
    let r = app.call(Method::GET, "/v1/games", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post(
            VERIFY,
            None,
            json!({ "game": "dice", "server_seed": "s", "client_seed": "c", "nonce": 0 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn admin_changes_edge_limits_and_availability() {
    let app = spawn_games().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (_, alice) = funded(&app, "alice").await;
    let (_, bob) = funded(&app, "bob").await;
    let patch = |token: &str, game: &str, body: Value| {
        let (token, path) = (token.to_owned(), format!("/v1/admin/games/{game}"));
        let app = &app;
        async move {
            app.call(Method::PATCH, &path, Some(&token), None, Some(body))
                .await
        }
    };
    // 90 % win chance: 99 / 90 = 1.10 at the default edge, 98 / 90 = 1.08 at 2 %.
    let ninety = json!({ "target": 10.0, "direction": "over" });
    let mut alice_won = None;
    for _ in 0..30 {
        let b = bet_ok(&app, &alice, "dice", 1_000, ninety.clone()).await;
        if b["win"] == true {
            alice_won = Some(b);
            break;
        }
    }
    let won = alice_won.expect("a 90 % bet wins within 30 tries");
    assert_eq!(won["multiplier"], json!(1.1));
    assert_eq!(won["payout"], 1_100);
    let alice_bets = rotate_and_verify_all(&app, &alice).await.len();
    assert!(alice_bets >= 1);

    // Players can't administer games; bad changes are refused and change nothing.
    let before = catalog(&app).await;
    assert_problem(
        &patch(&alice, "dice", json!({ "enabled": false })).await,
        403,
        "forbidden",
    );
    assert_problem(
        &patch(&admin, "poker", json!({ "enabled": false })).await,
        404,
        "unknown_game",
    );
    for game in ["roulette", "plinko", "keno"] {
        let r = patch(&admin, game, json!({ "house_edge_bps": 200 })).await;
        assert_field(&r, 422, "fixed_house_edge", "house_edge_bps");
    }
    for edge in [json!(0), json!(1_001)] {
        let r = patch(&admin, "dice", json!({ "house_edge_bps": edge })).await;
        assert_field(&r, 422, "invalid_house_edge", "house_edge_bps");
    }
    let r = patch(&admin, "dice", json!({ "house_edge_bps": -1 })).await;
    assert_field(&r, 422, "invalid_field", "house_edge_bps");
    let limit = |min: i64, max: i64, cap: i64| json!({ "currency": "CHIP", "min_stake": min, "max_stake": max, "max_payout": cap });
    for limits in [
        json!([limit(0, 10, 100)]),
        json!([limit(10, 5, 100)]),
        json!([limit(1, 10, 0)]),
        json!([limit(1, 10, 100), limit(1, 10, 100)]),
        json!([{ "currency": "NOPE", "min_stake": 1, "max_stake": 10, "max_payout": 100 }]),
    ] {
        let r = patch(&admin, "dice", json!({ "limits": limits })).await;
        assert_field(&r, 422, "invalid_limits", "limits");
    }
    let r = patch(&admin, "dice", json!({ "rtp": 1 })).await;
    assert_field(&r, 422, "unknown_field", "rtp");
    assert_eq!(catalog(&app).await, before);

    // A 2 % edge on dice.
    let r = patch(&admin, "dice", json!({ "house_edge_bps": 200 })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let entry = catalog_entry(&app, "dice").await;
    assert_eq!(r.body, entry, "the answer is the new catalog entry");
    assert_eq!(entry["house_edge_bps"], 200);
    assert_eq!(entry["enabled"], true);
    let rtp = croupier_fair::theoretical_rtp(Game::Dice, &entry["reference_params"], 200).unwrap();
    assert!((entry["theoretical_rtp"].as_f64().unwrap() - rtp).abs() < 1e-12);
    assert!(
        rtp < before.iter().find(|e| e["id"] == "dice").unwrap()["theoretical_rtp"]
            .as_f64()
            .unwrap()
    );
    assert_eq!(catalog_entry(&app, "limbo").await["house_edge_bps"], 100);
    let mut bob_bets = 0;
    let mut bob_won = None;
    for _ in 0..30 {
        let b = bet_ok(&app, &bob, "dice", 1_000, ninety.clone()).await;
        bob_bets += 1;
        if b["win"] == true {
            bob_won = Some(b);
            break;
        }
    }
    let won = bob_won.expect("a 90 % bet wins within 30 tries");
    assert_eq!(won["multiplier"], json!(1.08), "floor2(98 / 90)");
    assert_eq!(won["payout"], 1_080);
    // At 2 %, a 98 % chance would pay 1.00: no longer a bet.
    let r = bet(
        &app,
        &bob,
        "dice",
        100,
        json!({ "target": 2.0, "direction": "over" }),
    )
    .await;
    assert_field(&r, 422, "invalid_params", "params.target");

    // Disabling refuses bets without touching money or nonces; re-enabling restores them.
    let r = patch(&admin, "dice", json!({ "enabled": false })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["house_edge_bps"], 200, "other settings are kept");
    assert_eq!(catalog_entry(&app, "dice").await["enabled"], false);
    let balance = app.balance(&bob, "CHIP").await;
    let nonce = next_nonce(&app, &bob).await;
    let r = bet(&app, &bob, "dice", 100, ninety.clone()).await;
    assert_problem(&r, 409, "game_disabled");
    let r = app
        .call(
            Method::POST,
            &bet_path("dice"),
            Some(&bob),
            Some("disabled-1"),
            Some(json!({ "currency": "CHIP", "stake": 100, "params": ninety })),
        )
        .await;
    assert_problem(&r, 409, "game_disabled");
    assert_untouched(&app, &bob, balance, nonce, "a disabled game").await;
    // A mines round opened before the game is disabled can still be closed.
    let open = open_round(&app, &bob, 100, 3).await;
    assert_eq!(open.status, StatusCode::CREATED, "{:?}", open.body);
    let r = patch(&admin, "mines", json!({ "enabled": false })).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["enabled"], false);
    assert_problem(&open_round(&app, &bob, 100, 3).await, 409, "game_disabled");
    let r = cash_out(&app, &bob, text(&open.body["round_id"])).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["state"], "cancelled");
    assert_untouched(&app, &bob, balance, nonce + 1, "a disabled mines").await;
    // Other games still play.
    bet_ok(&app, &bob, "limbo", 100, json!({ "target": 2 })).await;
    bob_bets += 1;

    let r = patch(&admin, "dice", json!({ "enabled": true })).await;
    assert_eq!(r.body["enabled"], true);
    assert_eq!(r.body["house_edge_bps"], 200);
    assert_eq!(catalog_entry(&app, "dice").await["enabled"], true);
    bet_ok(&app, &bob, "dice", 100, ninety.clone()).await;
    bob_bets += 1;

    // Limits: stake range and payout cap per currency.
    let r = patch(&admin, "dice", json!({ "limits": [limit(10, 500, 1_000)] })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["limits"], json!([limit(10, 500, 1_000)]));
    let balance = app.balance(&bob, "CHIP").await;
    let nonce = next_nonce(&app, &bob).await;
    for stake in [9, 501] {
        let r = bet(&app, &bob, "dice", stake, ninety.clone()).await;
        assert_field(&r, 422, "stake_out_of_range", "stake");
        assert_eq!(r.body["min_stake"], 10);
        assert_eq!(r.body["max_stake"], 500);
    }
    // 25 % at 2 %: 3.92 × 500 = 1,960 > 1,000.
    let r = bet(
        &app,
        &bob,
        "dice",
        500,
        json!({ "target": 75, "direction": "over" }),
    )
    .await;
    assert_field(&r, 422, "payout_over_cap", "stake");
    assert_eq!(r.body["max_payout"], 1_000);
    assert_untouched(&app, &bob, balance, nonce, "bets outside the limits").await;
    bet_ok(
        &app,
        &bob,
        "dice",
        500,
        json!({ "target": 50, "direction": "over" }),
    )
    .await;
    bob_bets += 1;

    assert_eq!(rotate_and_verify_all(&app, &bob).await.len(), bob_bets);
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit}");
}
