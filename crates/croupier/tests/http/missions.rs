//! Missions over HTTP: wins reach `/v1/me/missions`, the reward is paid once
//! through the ledger, the audit stays clean; the admin API's rules and
//! validation. Runs on SQLite, and on PostgreSQL with
//! `CROUPIER_TEST_HTTP_BACKEND=postgres`.

use crate::helpers::*;
use croupier_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// Claims the faucet; returns the balance after.
async fn fund(app: &TestApp, token: &str) -> i64 {
    let r = app
        .call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["balance"].as_i64().unwrap()
}

/// Bets on 98 % dice until `wins` more wins; returns Σ (payout − stake).
/// Outcomes are provably fair, so they cannot be forced, only made likely.
async fn win(app: &TestApp, token: &str, wins: usize) -> i64 {
    let (mut won, mut net) = (0, 0);
    for _ in 0..wins * 10 {
        if won == wins {
            return net;
        }
        let r = app
            .post(
                "/v1/games/dice/bets",
                Some(token),
                json!({ "currency": "CHIP", "stake": 100,
                        "params": { "target": 98, "direction": "under" } }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        net += r.body["payout"].as_i64().unwrap() - r.body["stake"].as_i64().unwrap();
        if r.body["win"].as_bool().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, wins, "too few wins at 98 %");
    net
}

/// `/v1/me/missions`' entry for `id`.
async fn mission(app: &TestApp, token: &str, id: &str) -> Option<Value> {
    let r = app.get("/v1/me/missions", token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .expect("a list")
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
}

/// Polls until `id`'s progress reaches `progress` (bounded); returns the entry.
async fn mission_reaches(app: &TestApp, token: &str, id: &str, progress: i64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = mission(app, token, id).await.expect("mission listed");
        let done = m["progress"].as_i64().unwrap() >= progress
            && (m["completed"] == true || progress < m["target"].as_i64().unwrap());
        if done || tokio::time::Instant::now() >= deadline {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rewards(txns: &[Value]) -> Vec<Value> {
    txns.iter()
        .filter(|t| t["kind"] == "mission_reward")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn win_5_pays_its_reward_once_through_the_ledger() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("boss", Role::Admin).await;
    let (_, token) = app.player("winner").await;
    let start = mission(&app, &token, "win-5").await.expect("win-5 ships");
    assert_eq!(
        (
            &start["progress"],
            &start["target"],
            &start["completed"],
            &start["reward"]
        ),
        (
            &json!(0),
            &json!(5),
            &json!(false),
            &json!({ "currency": "CHIP", "amount": 10000 })
        )
    );
    assert_eq!(start["period"], "day");

    let funded = fund(&app, &token).await;
    let net = win(&app, &token, 5).await;
    let m = mission_reaches(&app, &token, "win-5", 5).await;
    assert_eq!(m["completed"], true, "{m}");
    assert!(m["progress"].as_i64().unwrap() >= 5, "{m}");
    assert_eq!(app.balance(&token, "CHIP").await, funded + net + 10_000);
    let paid = rewards(&app.all_transactions(&token, "CHIP", 100).await);
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(paid[0]["amount"], 10_000);
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit}");
    assert_eq!(
        audit["currencies"][0]["system_accounts"]["rewards"], -10_000,
        "{audit}"
    );

    // More wins the same day: progress grows, the reward is not paid again.
    let before = m["progress"].as_i64().unwrap();
    let more = win(&app, &token, 3).await;
    let m = mission_reaches(&app, &token, "win-5", before + 3).await;
    assert_eq!(m["progress"].as_i64().unwrap(), before + 3, "{m}");
    // Every event handled (a wrong second grant would have landed by now).
    events_settle(&app).await;
    assert_eq!(
        app.balance(&token, "CHIP").await,
        funded + net + more + 10_000
    );
    assert_eq!(
        rewards(&app.all_transactions(&token, "CHIP", 100).await).len(),
        1
    );
    assert_eq!(app.audit(&admin).await["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_missions_are_validated_override_config_and_apply() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("boss", Role::Admin).await;
    let (_, token) = app.player("plain").await;
    let put = |id: &str, body: Value, tok: &str| {
        let (path, tok) = (format!("/v1/admin/missions/{id}"), tok.to_owned());
        let app = &app;
        async move {
            app.call(Method::PUT, &path, Some(&tok), None, Some(body))
                .await
        }
    };
    let good = json!({ "kind": "wins", "target": 2, "period": "week",
                       "reward": { "currency": "CHIP", "amount": 500 } });

    // Players may not.
    assert_problem(&put("x", good.clone(), &token).await, 403, "forbidden");
    assert_problem(
        &app.get("/v1/admin/missions", &token).await,
        403,
        "forbidden",
    );

    // Each bad field is named.
    for (id, patch, field, code) in [
        ("Bad Id", json!({}), "id", "invalid_mission"),
        ("ok", json!({ "kind": "losses" }), "kind", "invalid_mission"),
        (
            "ok",
            json!({ "period": "month" }),
            "period",
            "invalid_mission",
        ),
        ("ok", json!({ "target": 0 }), "target", "invalid_mission"),
        ("ok", json!({ "game": "poker" }), "game", "invalid_mission"),
        (
            "ok",
            json!({ "kind": "wagered" }),
            "currency",
            "invalid_mission",
        ),
        (
            "ok",
            json!({ "kind": "wagered", "currency": "GOLD" }),
            "currency",
            "unknown_currency",
        ),
        (
            "ok",
            json!({ "reward": { "currency": "CHIP", "amount": 0 } }),
            "reward.amount",
            "invalid_mission",
        ),
        (
            "ok",
            json!({ "reward": { "currency": "GOLD", "amount": 1 } }),
            "reward.currency",
            "unknown_currency",
        ),
    ] {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = put(id, body, &admin).await;
        assert_problem(&r, 422, code);
        assert_eq!(r.body["field"], field, "{:?}", r.body);
    }
    let r = put("ok", json!({ "kind": "wins" }), &admin).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);

    // Create, list (config's win-5 too), switch win-5 off, delete.
    let r = put("win-2-week", good.clone(), &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["source"], "admin");
    let off = json!({ "kind": "wins", "target": 5, "period": "day", "enabled": false,
                          "reward": { "currency": "CHIP", "amount": 10000 } });
    assert_eq!(put("win-5", off, &admin).await.status, StatusCode::OK);
    let list = app.get("/v1/admin/missions", &admin).await;
    assert_eq!(list.status, StatusCode::OK);
    let ids: Vec<_> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["enabled"].as_bool().unwrap(),
                m["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            ("win-2-week".into(), true, "admin".into()),
            ("win-5".into(), false, "admin".into()),
        ]
    );
    // A disabled mission is not shown to players, and earns nothing.
    let mine = app.get("/v1/me/missions", &token).await.body;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["id"], "win-2-week");
    assert_eq!(mine[0]["period"], "week");

    // The admin rule applies to bets: two wins in the week pay 500.
    let funded = fund(&app, &token).await;
    let net = win(&app, &token, 2).await;
    let m = mission_reaches(&app, &token, "win-2-week", 2).await;
    assert_eq!(m["completed"], true, "{m}");
    assert_eq!(app.balance(&token, "CHIP").await, funded + net + 500);
    assert_eq!(mission(&app, &token, "win-5").await, None);

    // Deleting the override brings back the config's win-5.
    let del = |id: &str| {
        let path = format!("/v1/admin/missions/{id}");
        let (app, admin) = (&app, admin.clone());
        async move {
            app.call(Method::DELETE, &path, Some(&admin), None, None)
                .await
        }
    };
    assert_eq!(del("win-5").await.status, StatusCode::NO_CONTENT);
    assert_problem(&del("win-5").await, 404, "mission_not_found");
    let restored = mission(&app, &token, "win-5").await.expect("back");
    assert_eq!(restored["target"], 5);
    assert_eq!(app.audit(&admin).await["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bet_events_delivered_again_change_nothing() {
    use croupier_events::{Consumer, MissionsConsumer};
    let app = spawn().await;
    let (_, admin) = app.user_with_role("boss", Role::Admin).await;
    let (_, token) = app.player("twice").await;
    fund(&app, &token).await;
    win(&app, &token, 5).await;
    let done = mission_reaches(&app, &token, "win-5", 5).await;
    assert_eq!(done["completed"], true, "{done}");
    let balance = app.balance(&token, "CHIP").await;

    // Every bet.settled the relay delivered, delivered again: as one batch,
    // then one by one, to a second consumer instance (as after a worker crash).
    let store = app.running.state.store.clone();
    let bets: Vec<_> = store
        .outbox_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "bet.settled")
        .collect();
    assert!(bets.len() >= 5);
    let again = MissionsConsumer::new(store, app.config.missions.clone());
    again.handle(&bets).await.unwrap();
    for e in &bets {
        again.handle(std::slice::from_ref(e)).await.unwrap();
    }
    let after = mission(&app, &token, "win-5").await.unwrap();
    assert_eq!(after["progress"], done["progress"]);
    assert_eq!(app.balance(&token, "CHIP").await, balance);
    assert_eq!(
        rewards(&app.all_transactions(&token, "CHIP", 100).await).len(),
        1
    );
    assert_eq!(app.audit(&admin).await["ok"], true);
}

/// Every event names the instance that wrote it and the trace that caused
/// it: a request's `traceparent` reaches its `bet.settled`, and the reward a
/// consumer pays for those bets continues the same trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_their_producer_and_the_trace_that_caused_them() {
    let app = spawn().await;
    let (_, token) = app.player("traced").await;
    fund(&app, &token).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = format!("00-{trace}-00f067aa0ba902b7-01");
    let mut won = 0;
    for _ in 0..60 {
        if won == 5 {
            break;
        }
        let r = app
            .send(
                app.request(Method::POST, "/v1/games/dice/bets")
                    .bearer_auth(&token)
                    .header("traceparent", &parent)
                    .json(&json!({ "currency": "CHIP", "stake": 100,
                                   "params": { "target": 98, "direction": "under" } })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        // The response continues the caller's trace with a span of its own.
        let echoed = r.headers["traceparent"].to_str().unwrap();
        assert!(echoed.starts_with(&format!("00-{trace}-")), "{echoed}");
        assert_ne!(echoed, parent);
        if r.body["win"].as_bool().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 5, "too few wins at 98 %");
    mission_reaches(&app, &token, "win-5", 5).await;
    // A request without a traceparent starts a trace of its own.
    let r = app.get("/v1/me", &token).await;
    let own = r.headers["traceparent"].to_str().unwrap();
    assert!(!own.contains(trace), "{own}");

    let store = app.running.state.store.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events = store.outbox_after(0, 10_000).await.unwrap();
        let granted = events.iter().any(|e| e.event_type == "reward.granted");
        if granted || tokio::time::Instant::now() >= deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let of = |t: &'static str| events.iter().filter(move |e| e.event_type == t);
    assert!(of("bet.settled").count() >= 5);
    for e in of("bet.settled")
        .chain(of("mission.completed"))
        .chain(of("reward.granted"))
    {
        assert_eq!(e.producer, croupier_core::trace::instance(), "{e:?}");
        let tp = e.traceparent.as_deref().expect("traced");
        assert_eq!(croupier_core::trace::trace_id(tp), Some(trace), "{e:?}");
    }
    assert_eq!(of("reward.granted").count(), 1);
    // The faucet claim was its own request: its own trace.
    let claim = of("wallet.claimed").next().expect("claimed");
    let tp = claim.traceparent.as_deref().expect("traced");
    assert_ne!(croupier_core::trace::trace_id(tp), Some(trace));
}

/// Admins block a player: the player's sessions end at once, logging in
/// answers 403 (only with the right password), wins earn no mission; and
/// unblock them again. Validation and authorization name their problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_block_and_unblock_players_over_http() {
    let app = spawn().await;
    let (admin_id, admin) = app.user_with_role("warden", Role::Admin).await;
    let (id, token) = app.player("rascal").await;
    let (_, other) = app.player("bystander").await;
    fund(&app, &token).await;
    let path = format!("/v1/admin/players/{id}/block");
    let put = |path: String, token: String, body: Value| {
        let app = &app;
        async move {
            app.send(
                app.request(Method::PUT, &path)
                    .bearer_auth(token)
                    .json(&body),
            )
            .await
        }
    };
    let delete = |path: String, token: String| {
        let app = &app;
        async move {
            app.send(app.request(Method::DELETE, &path).bearer_auth(token))
                .await
        }
    };

    let r = put(path.clone(), other.clone(), json!({ "reason": "spite" })).await;
    assert_problem(&r, 403, "forbidden");
    let r = put(path.clone(), admin.clone(), json!({ "reason": "  " })).await;
    assert_problem(&r, 422, "invalid_reason");
    let r = put(
        format!("/v1/admin/players/{admin_id}/block"),
        admin.clone(),
        json!({ "reason": "oops" }),
    )
    .await;
    assert_problem(&r, 422, "cannot_block_self");
    let r = put(
        format!("/v1/admin/players/{}/block", uuid::Uuid::new_v4()),
        admin.clone(),
        json!({ "reason": "ghost" }),
    )
    .await;
    assert_problem(&r, 404, "player_not_found");

    let r = put(
        path.clone(),
        admin.clone(),
        json!({ "reason": "bonus abuse" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "player_id": id, "blocked": true, "changed": true })
    );
    let r = put(path.clone(), admin.clone(), json!({ "reason": "again" })).await;
    assert_eq!(r.body["changed"], false, "{:?}", r.body);
    // The open session is gone; logging in is refused, but only to the
    // right password (a wrong one learns nothing).
    assert_eq!(
        app.get("/v1/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_problem(&app.login("rascal", PASSWORD).await, 403, "player_blocked");
    assert_problem(
        &app.login("rascal", "not the password").await,
        401,
        "invalid_credentials",
    );
    // Other players are untouched.
    assert_eq!(app.get("/v1/me", &other).await.status, StatusCode::OK);

    let r = delete(path.clone(), admin.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "player_id": id, "blocked": false, "changed": true })
    );
    let l = app.login("rascal", PASSWORD).await;
    assert_eq!(l.status, StatusCode::OK, "{:?}", l.body);
    // Both changes are in the audit trail's events.
    let events = app
        .running
        .state
        .store
        .outbox_after(0, 10_000)
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type.starts_with("player.") && e.payload["player_id"] == id)
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["player.registered", "player.blocked", "player.unblocked"]
    );
}
