//! Events end to end over HTTP: bets placed through the API reach the
//! `stats` consumer exactly once, embedded (in-process bus) and scaled
//! (NATS JetStream, `CROUPIER_TEST_NATS_URL`), and the roles split an
//! instance's work.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// A NATS URL, or `None` (skip) on a machine without one; required in CI.
fn nats_url() -> Option<String> {
    match std::env::var("CROUPIER_TEST_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CROUPIER_TEST_REQUIRE_BACKENDS").is_some() {
                panic!("CROUPIER_TEST_NATS_URL must be set");
            }
            eprintln!("skipped: CROUPIER_TEST_NATS_URL not set");
            None
        }
    }
}

/// Counters as `/v1/me/stats` shows them.
#[derive(Default, Debug, PartialEq, Eq, Clone, Copy)]
struct Totals {
    bets: i64,
    wins: i64,
    losses: i64,
    pushes: i64,
    wagered: i64,
    paid_out: i64,
}

impl Totals {
    fn add(&mut self, bet: &Value) {
        let (stake, payout) = (
            bet["stake"].as_i64().unwrap(),
            bet["payout"].as_i64().unwrap(),
        );
        self.bets += 1;
        if bet["win"].as_bool().unwrap() {
            self.wins += 1;
        } else if payout == stake {
            self.pushes += 1;
        } else {
            self.losses += 1;
        }
        self.wagered += stake;
        self.paid_out += payout;
    }

    fn json(&self) -> Value {
        json!({
            "bets": self.bets, "wins": self.wins, "losses": self.losses, "pushes": self.pushes,
            "wagered": self.wagered, "paid_out": self.paid_out, "net": self.paid_out - self.wagered,
        })
    }
}

/// Funds a new player and places dice and plinko bets through HTTP; returns
/// the token and the `/v1/me/stats` body those bets must produce.
async fn play(app: &TestApp, name: &str, n: usize) -> (String, Value) {
    let (_, token) = app.player(name).await;
    let r = app
        .call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let mut per_game: BTreeMap<&str, Totals> = BTreeMap::new();
    for i in 0..n {
        // Plinko low risk has a 1.0× slot: pushes happen too.
        let (game, params) = if i % 2 == 0 {
            ("dice", json!({ "target": 50.5, "direction": "over" }))
        } else {
            ("plinko", json!({ "rows": 8, "risk": "low" }))
        };
        let r = app
            .post(
                &format!("/v1/games/{game}/bets"),
                Some(&token),
                json!({ "currency": "CHIP", "stake": 100 + i as i64, "params": params }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        per_game.entry(game).or_default().add(&r.body);
    }
    let mut total = Totals::default();
    let games: Vec<Value> = per_game
        .iter()
        .map(|(game, t)| {
            total.bets += t.bets;
            total.wins += t.wins;
            total.losses += t.losses;
            total.pushes += t.pushes;
            total.wagered += t.wagered;
            total.paid_out += t.paid_out;
            let mut g = t.json();
            g["game"] = json!(game);
            g
        })
        .collect();
    let mut chip = total.json();
    chip["currency"] = json!("CHIP");
    chip["games"] = json!(games);
    (token, json!({ "currencies": [chip] }))
}

/// Polls `/v1/me/stats` until it equals `expected` (bounded); returns the last body.
async fn stats_reach(app: &TestApp, token: &str, expected: &Value) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.get("/v1/me/stats", token).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if &r.body == expected || tokio::time::Instant::now() >= deadline {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bets_over_http_are_counted_exactly_once_in_my_stats() {
    // Default roles, no NATS: the relay hands events to the in-process consumers.
    let app = spawn().await;
    let (token, expected) = play(&app, "counted", 24).await;
    assert_eq!(expected["currencies"][0]["bets"], 24);
    assert_eq!(stats_reach(&app, &token, &expected).await, expected);
    // Nothing more arrives later (no double counting on a later relay round).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get("/v1/me/stats", &token).await.body, expected);

    let (_, other) = app.player("idle").await;
    let r = app.get("/v1/me/stats", &other).await;
    assert_eq!(r.body, json!({ "currencies": [] }));
    let r = app
        .call(Method::GET, "/v1/me/stats", None, None, None)
        .await;
    assert_problem(&r, 401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bets_over_http_reach_stats_through_jetstream() {
    let Some(url) = nats_url() else { return };
    let streams = TestStreams::new(&url);
    let app = spawn_with(|c| {
        c.nats_url = Some(url.clone());
        c.nats.stream_prefix = streams.prefix.clone();
    })
    .await;
    let (token, expected) = play(&app, "streamed", 20).await;
    assert_eq!(stats_reach(&app, &token, &expected).await, expected);
    app.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_worker_and_relay_instances_split_the_work_over_jetstream() {
    let Some(nats) = nats_url() else { return };
    let Ok(pg) = std::env::var("CROUPIER_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CROUPIER_TEST_REQUIRE_BACKENDS").is_none(),
            "CROUPIER_TEST_POSTGRES_URL must be set"
        );
        eprintln!("skipped: CROUPIER_TEST_POSTGRES_URL not set");
        return;
    };
    assert!(!pg.is_empty());
    let streams = TestStreams::new(&nats);
    let (_schema, db) = PgSchema::create().await;
    let instance = |roles: &'static str| {
        let (db, nats, prefix) = (db.clone(), nats.clone(), streams.prefix.clone());
        move |c: &mut croupier::config::Config| {
            c.database_url = Some(db);
            c.nats_url = Some(nats);
            c.nats.stream_prefix = prefix;
            c.roles = roles.parse().unwrap();
        }
    };
    let api = spawn_with(instance("api")).await;
    let (token, expected) = play(&api, "split", 16).await;
    // Only the API: events wait in the outbox.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        api.get("/v1/me/stats", &token).await.body,
        json!({ "currencies": [] })
    );

    let worker = spawn_with(instance("worker")).await;
    let relay = spawn_with(instance("relay")).await;
    assert_eq!(stats_reach(&api, &token, &expected).await, expected);

    // Instances without the api role serve the operations routes only.
    for ops in [&worker, &relay] {
        for path in ["/livez", "/readyz", "/metrics"] {
            let r = ops.call(Method::GET, path, None, None, None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        }
        let r = ops
            .call(Method::GET, "/v1/me/stats", Some(&token), None, None)
            .await;
        assert_problem(&r, 404, "route_not_found");
    }
    let metrics = relay.call(Method::GET, "/metrics", None, None, None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("croupier_outbox_backlog"), "{text}");
    assert!(text.contains("croupier_events_published_total"), "{text}");
    for app in [api, worker, relay] {
        app.running.stop().await.unwrap();
    }
}

#[test]
fn serve_refuses_a_relay_or_worker_alone_without_nats() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, env) in [(Some("relay"), None), (None, Some("api,worker"))] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"));
        cmd.current_dir(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("CROUPIER_NATS_URL")
            .env_remove("CROUPIER_ROLES");
        if let Some(roles) = flag {
            cmd.args(["--roles", roles]);
        }
        if let Some(roles) = env {
            cmd.env("CROUPIER_ROLES", roles);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        let roles = flag.or(env).unwrap();
        assert!(
            err.contains(&format!("roles: {roles} without nats_url")),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_redriven_over_http_by_admins_only() {
    let app = spawn().await;
    let (token, expected) = play(&app, "redriven", 6).await;
    assert_eq!(stats_reach(&app, &token, &expected).await, expected);
    let store = app.running.state.store.clone();
    let bet = store
        .outbox_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event_type == croupier_core::event_type::BET_SETTLED)
        .unwrap();
    let t = croupier_core::now();
    // An event stats already applied (a re-drive must not count it twice), one
    // whose payload stats cannot read, and one for a consumer this build lacks.
    let applied = store
        .dead_letter_put("stats", &bet, 3, "was down", t)
        .await
        .unwrap();
    let mut bad = bet.clone();
    bad.event_id = uuid::Uuid::now_v7();
    bad.payload = json!({ "oops": true });
    let broken = store
        .dead_letter_put("stats", &bad, 1, "bad", t)
        .await
        .unwrap();
    let orphan = store
        .dead_letter_put("retired", &bet, 1, "gone", t)
        .await
        .unwrap();

    let r = app.get("/v1/admin/dead-letters", &token).await;
    assert_problem(&r, 403, "forbidden");
    let (_, admin) = app
        .user_with_role("dlq-admin", croupier_core::Role::Admin)
        .await;
    let r = app.get("/v1/admin/dead-letters", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let ids: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![applied, broken, orphan]);
    let first = &r.body["items"][0];
    assert_eq!(first["consumer"], "stats");
    assert_eq!(first["event_id"], bet.event_id.to_string());
    assert_eq!(first["event_type"], "bet.settled");
    assert_eq!(first["payload"], bet.payload);
    assert_eq!(
        (first["attempts"].as_i64(), first["last_error"].as_str()),
        (Some(3), Some("was down"))
    );
    assert!(r.body["next_cursor"].is_null());
    let r = app
        .get("/v1/admin/dead-letters?consumer=stats&limit=1", &admin)
        .await;
    assert_eq!(r.body["items"][0]["id"], applied);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = app
        .get(
            &format!("/v1/admin/dead-letters?consumer=stats&limit=1&cursor={cursor}"),
            &admin,
        )
        .await;
    assert_eq!(r.body["items"][0]["id"], broken);
    assert!(r.body["next_cursor"].is_null(), "{:?}", r.body);
    let r = app
        .get("/v1/admin/dead-letters?consumer=no%20such", &admin)
        .await;
    assert_problem(&r, 422, "invalid_consumer");
    assert_eq!(r.body["field"], "consumer");
    let r = app.get("/v1/admin/dead-letters?limit=0", &admin).await;
    assert_problem(&r, 422, "invalid_limit");

    let redrive = |id: i64, token: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/v1/admin/dead-letters/{id}/redrive"),
                Some(&token),
                json!({}),
            )
            .await
        }
    };
    assert_problem(&redrive(applied, token.clone()).await, 403, "forbidden");
    let r = redrive(applied, admin.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["outcome"], "applied");
    assert!(store.dead_letter(applied).await.unwrap().is_none());
    // The inbox held it already: still counted once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.get("/v1/me/stats", &token).await.body, expected);
    let r = redrive(applied, admin.clone()).await;
    assert_problem(&r, 404, "dead_letter_not_found");
    assert_eq!(r.body["field"], "id");

    let r = redrive(broken, admin.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["outcome"], "failed");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("bad bet.settled"),
        "{:?}",
        r.body
    );
    let kept = store.dead_letter(broken).await.unwrap().unwrap();
    assert_eq!(kept.attempts, 2, "the failed re-drive counts");

    assert_problem(
        &redrive(orphan, admin.clone()).await,
        409,
        "unknown_consumer",
    );
    assert_eq!(store.dead_letter_count().await.unwrap(), 2);

    // Each re-drive an admin ran is in the audit log (read from the SQLite file).
    if app.config.database_url.is_some() {
        return;
    }
    let db = rusqlite::Connection::open(app.config.data_dir.join("croupier.db")).unwrap();
    let audited: Vec<(String, String)> = db
        .prepare(
            "SELECT target, json_extract(details, '$.outcome') FROM admin_audit_log
             WHERE action = 'dead_letter.redrive' ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        audited,
        vec![
            (applied.to_string(), "applied".to_owned()),
            (broken.to_string(), "failed".to_owned())
        ]
    );
}

/// Every row of the statistics tables, in key order.
fn stats_rows(db: &std::path::Path) -> Vec<Vec<i64>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut rows = Vec::new();
    for q in [
        "SELECT bets, wins, losses, pushes, wagered, paid_out, length(player_id || currency || game)
         FROM player_stats ORDER BY player_id, currency, game",
        "SELECT bets, wins, losses, pushes, wagered, paid_out, hour
         FROM game_stats_hourly ORDER BY game, hour, currency",
    ] {
        let mut s = c.prepare(q).unwrap();
        let found = s
            .query_map([], |r| (0..7).map(|i| r.get::<_, i64>(i)).collect())
            .unwrap()
            .collect::<Result<Vec<Vec<i64>>, _>>()
            .unwrap();
        rows.extend(found);
    }
    rows
}

fn croupier_cli(args: &[&str]) -> (bool, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
        .args(args)
        .env_remove("CROUPIER_DATABASE_URL")
        .env_remove("CROUPIER_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_replay_rebuilds_stats_equal_to_the_live_projection() {
    let app = spawn().await;
    if app.config.database_url.is_some() {
        return; // The CLI reads the data dir; the PostgreSQL path is the same code.
    }
    let (a, expected_a) = play(&app, "replayed-a", 9).await;
    let (b, expected_b) = play(&app, "replayed-b", 5).await;
    assert_eq!(stats_reach(&app, &a, &expected_a).await, expected_a);
    assert_eq!(stats_reach(&app, &b, &expected_b).await, expected_b);
    let data_dir = app.config.data_dir.clone();
    app.running.stop().await.unwrap();
    let db = data_dir.join("croupier.db");
    let live = stats_rows(&db);
    assert!(live.len() >= 4, "{live:?}");
    let dir = data_dir.to_str().unwrap();

    // Without a reset every event is already in the inbox: nothing changes.
    let (ok, out, err) = croupier_cli(&[
        "events",
        "replay",
        "--consumer",
        "stats",
        "--from",
        "0",
        "--data-dir",
        dir,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out["report"]["delivered"], 14, "{out}");
    assert_eq!(stats_rows(&db), live);

    // Lose the projection (as a bad deploy might), then rebuild it.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("DELETE FROM player_stats WHERE game = 'plinko'; UPDATE game_stats_hourly SET bets = bets + 7;")
        .unwrap();
    drop(c);
    assert_ne!(stats_rows(&db), live);
    let (ok, out, err) = croupier_cli(&[
        "events",
        "replay",
        "--consumer",
        "stats",
        "--from",
        "0",
        "--reset",
        "--data-dir",
        dir,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out["inbox_cleared"], 14, "{out}");
    assert_eq!(out["report"]["dead_lettered"], 0, "{out}");
    assert_eq!(
        stats_rows(&db),
        live,
        "rebuilt equal to the live projection"
    );

    // A partial reset cannot be exact for sums: refused, naming the flag.
    let (ok, _, err) = croupier_cli(&[
        "events",
        "replay",
        "--consumer",
        "stats",
        "--from",
        "3",
        "--reset",
        "--data-dir",
        dir,
    ]);
    assert!(!ok && err.contains("--reset"), "{err}");
    let (ok, _, err) = croupier_cli(&[
        "events",
        "replay",
        "--consumer",
        "nobody",
        "--from",
        "0",
        "--data-dir",
        dir,
    ]);
    assert!(!ok && err.contains("--consumer"), "{err}");

    // The recommendations projection rebuilds the same way.
    let recs = rec_rows(&db);
    assert!(
        recs.contains(&"co_play dice plinko 2".to_owned()),
        "{recs:?}"
    );
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("DELETE FROM rec_co_play; UPDATE rec_game_daily SET bets = bets + 3;")
        .unwrap();
    drop(c);
    assert_ne!(rec_rows(&db), recs);
    let (ok, out, err) = croupier_cli(&[
        "events",
        "replay",
        "--consumer",
        "recommendations",
        "--from",
        "0",
        "--reset",
        "--data-dir",
        dir,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out["inbox_cleared"], 14, "{out}");
    assert_eq!(rec_rows(&db), recs, "rebuilt equal to the live projection");
}

fn rec_rows(db: &std::path::Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut rows = Vec::new();
    for q in [
        "SELECT 'player ' || game || ' ' || bets || ' ' || last_played FROM rec_player_games
         ORDER BY player_id, game",
        "SELECT 'players ' || game || ' ' || players FROM rec_game_players ORDER BY game",
        "SELECT 'co_play ' || game_a || ' ' || game_b || ' ' || players FROM rec_co_play
         ORDER BY game_a, game_b",
        "SELECT 'daily ' || day || ' ' || game || ' ' || bets FROM rec_game_daily ORDER BY day, game",
    ] {
        let mut s = c.prepare(q).unwrap();
        let found = s
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap();
        rows.extend(found);
    }
    rows
}

/// Places one `game` bet for `token` (funded by a claim on its first call).
async fn bet_on(app: &TestApp, token: &str, game: &str) {
    let params = match game {
        "dice" => json!({ "target": 50.5, "direction": "over" }),
        "keno" => json!({ "picks": [2, 40], "risk": "low" }),
        other => panic!("no params for {other}"),
    };
    let r = app
        .post(
            &format!("/v1/games/{game}/bets"),
            Some(token),
            json!({ "currency": "CHIP", "stake": 10, "params": params }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

async fn funded_player(app: &TestApp, name: &str) -> String {
    let (_, token) = app.player(name).await;
    let r = app
        .call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_go_from_cold_start_to_co_play_over_http() {
    let app = spawn_with(|c| {
        // Read the model on every request: no waiting out the cache here.
        c.recommendations.cache_secs = 0;
        c.games.overrides.insert(
            "mines".into(),
            croupier_api::catalog::GameOverrideConfig {
                enabled: Some(false),
                ..Default::default()
            },
        );
    })
    .await;
    let (_, newcomer) = app.player("rec-new").await;
    let r = app.get("/v1/me/recommendations", &newcomer).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let games = r.body["games"].as_array().unwrap();
    // Every enabled game but mines, in catalog order, all cold_start.
    let names: Vec<&str> = games.iter().map(|g| g["game"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["dice", "limbo", "roulette", "flip", "plinko", "keno"]
    );
    assert!(games
        .iter()
        .all(|g| g["reason"] == "cold_start" && g["because"] == json!([])));

    // A and B play dice and keno, C plays dice: C is recommended keno.
    let (a, b, c) = (
        funded_player(&app, "rec-a").await,
        funded_player(&app, "rec-b").await,
        funded_player(&app, "rec-c").await,
    );
    for t in [&a, &b] {
        bet_on(&app, t, "dice").await;
        bet_on(&app, t, "keno").await;
    }
    bet_on(&app, &c, "dice").await;
    bet_on(&app, &c, "dice").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let top = loop {
        let r = app.get("/v1/me/recommendations?limit=3", &c).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let top = r.body["games"][0].clone();
        if top["reason"] == "co_play" || tokio::time::Instant::now() >= deadline {
            assert_eq!(r.body["games"].as_array().unwrap().len(), 3);
            break top;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(top["game"], "keno", "{top}");
    assert_eq!(top["reason"], "co_play", "{top}");
    assert_eq!(top["because"], json!(["dice"]), "{top}");
    // co(dice, keno) = 2, players(dice) = 3, players(keno) = 2.
    let score = top["score"].as_f64().unwrap();
    assert!((score - 2.0 / 6f64.sqrt()).abs() < 1e-3, "{top}");
    // Unplayed games without any bets yet follow in catalog order; the
    // played dice comes last (popular: it has bets, no co-play partner of C's).
    let r = app.get("/v1/me/recommendations?limit=20", &c).await;
    let games = r.body["games"].as_array().unwrap();
    let names: Vec<&str> = games.iter().map(|g| g["game"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["keno", "limbo", "roulette", "flip", "plinko", "dice"]
    );
    assert!(games[1..5].iter().all(|g| g["reason"] == "cold_start"));
    assert_eq!(games[5]["reason"], "popular", "{games:?}");
    assert_eq!(games[5]["score"], 1.0, "{games:?}");
    assert!(games.iter().all(|g| g["game"] != "mines"));

    for bad in ["0", "21", "ten", "-1"] {
        let r = app
            .get(&format!("/v1/me/recommendations?limit={bad}"), &c)
            .await;
        assert_problem(&r, 422, "invalid_limit");
        assert_eq!(r.body["field"], "limit", "{:?}", r.body);
    }
    let r = app
        .call(Method::GET, "/v1/me/recommendations", None, None, None)
        .await;
    assert_problem(&r, 401, "unauthorized");
}
