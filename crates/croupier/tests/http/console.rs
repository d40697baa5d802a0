//! What the operator console reads: players, one player, the audit log, the
//! overview.

use crate::helpers::*;
use croupier_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Polls `GET path` until `ready` holds (consumers apply events shortly after
/// the bet); fails after 20 s.
async fn until(app: &TestApp, token: &str, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.get(path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        if ready(&r.body) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never got there: {:?}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn support_finds_a_player_sees_them_whole_and_reads_what_admins_did() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (_, support) = app.user_with_role("helpdesk", Role::Support).await;
    let (alice, alice_token) = app.player("alice").await;
    let (bob, _) = app.player("bob").await;
    app.call(
        Method::POST,
        "/v1/wallets/CHIP/claims",
        Some(&alice_token),
        None,
        None,
    )
    .await;
    let bet = app
        .post(
            "/v1/games/dice/bets",
            Some(&alice_token),
            json!({ "currency": "CHIP", "stake": 100, "params": { "target": 50.0, "direction": "over" } }),
        )
        .await;
    assert_eq!(bet.status, StatusCode::CREATED, "{:?}", bet.body);
    assert_eq!(
        app.adjust(&admin, &alice, 500, None).await.status,
        StatusCode::CREATED
    );
    let r = app
        .send(
            app.request(Method::PUT, &format!("/v1/admin/players/{bob}/block"))
                .bearer_auth(&admin)
                .json(&json!({ "reason": "chargebacks" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let found = app.get("/v1/admin/players?query=ALI", &support).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    assert_eq!(found.body["items"][0]["player_id"], alice);
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
    let blocked = app.get("/v1/admin/players?status=blocked", &support).await;
    assert_eq!(blocked.body["items"][0]["username"], "bob");
    let page = app.get("/v1/admin/players?limit=2", &support).await;
    let next = page.body["next_cursor"]
        .as_str()
        .expect("4 players, 2 a page");
    let rest = app
        .get(
            &format!("/v1/admin/players?limit=2&cursor={next}"),
            &support,
        )
        .await;
    assert_eq!(
        rest.body["items"].as_array().unwrap().len(),
        2,
        "{:?}",
        rest.body
    );
    assert_problem(
        &app.get("/v1/admin/players?status=gone", &support).await,
        422,
        "invalid_status",
    );

    let detail = app
        .get(&format!("/v1/admin/players/{alice}"), &support)
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{:?}", detail.body);
    let d = &detail.body;
    assert_eq!(d["username"], "alice");
    assert!(d["blocked"].is_null());
    assert_eq!(d["live_sessions"], 1);
    assert_eq!(d["recent_bets"][0]["bet_id"], bet.body["bet_id"]);
    let chips = d["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["currency"] == "CHIP")
        .unwrap();
    assert_eq!(chips["balance"], app.balance(&alice_token, "CHIP").await);
    assert!(d["missions"].is_array());
    let bob_detail = app.get(&format!("/v1/admin/players/{bob}"), &support).await;
    assert_eq!(bob_detail.body["blocked"]["reason"], "chargebacks");
    assert_eq!(bob_detail.body["live_sessions"], 0, "blocking revoked them");
    assert_problem(
        &app.get(
            "/v1/admin/players/0190f1d5-1c4e-7000-8000-000000000000",
            &support,
        )
        .await,
        404,
        "player_not_found",
    );

    let log = app.get("/v1/admin/audit", &support).await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "player.block", "newest first: {actions:?}");
    assert!(actions.len() >= 2, "{actions:?}");
    assert_eq!(log.body["items"][0]["actor_username"], "root");
    let blocks = app
        .get("/v1/admin/audit?action=player.block", &support)
        .await;
    assert_eq!(blocks.body["items"].as_array().unwrap().len(), 1);
    assert_problem(
        &app.get("/v1/admin/audit?actor=nope", &support).await,
        422,
        "invalid_actor",
    );

    let overview = until(&app, &support, "/v1/admin/overview?window=24h", |o| {
        o["games"].as_array().is_some_and(|g| !g.is_empty()) && o["active_players"] == 1
    })
    .await;
    let dice = &overview["games"][0];
    assert_eq!(
        (dice["game"].as_str(), dice["bets"].as_i64()),
        (Some("dice"), Some(1))
    );
    assert_eq!(dice["wagered"], 100);
    assert_eq!(dice["ggr"], 100 - dice["paid_out"].as_i64().unwrap());
    assert_eq!(overview["registrations"], 4);
    assert_problem(
        &app.get("/v1/admin/overview?window=1y", &support).await,
        422,
        "invalid_window",
    );
}
