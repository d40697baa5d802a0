//! Events end to end over HTTP: bets placed through the API reach the
//! `stats` consumer exactly once, embedded (in-process bus) and scaled
//! (NATS JetStream, `CROUPIER_TEST_NATS_URL`), and the roles split an
//! instance's work.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Counters and win record as `/v1/me/stats` shows them, from bets given in
/// the order they were placed (the player's sequence).
#[derive(Default, Debug, PartialEq, Clone)]
struct Totals {
    bets: i64,
    wins: i64,
    losses: i64,
    pushes: i64,
    wagered: i64,
    paid_out: i64,
    current_win_streak: i64,
    longest_win_streak: i64,
    /// Bet and amount.
    biggest_win: Option<(Value, i64)>,
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
            self.current_win_streak += 1;
            self.longest_win_streak = self.longest_win_streak.max(self.current_win_streak);
            // Ties: the earliest.
            if self
                .biggest_win
                .as_ref()
                .is_none_or(|(_, a)| payout - stake > *a)
            {
                self.biggest_win = Some((bet.clone(), payout - stake));
            }
            self.wagered += stake;
            self.paid_out += payout;
            return;
        }
        self.current_win_streak = 0;
        if payout == stake {
            self.pushes += 1;
        } else {
            self.losses += 1;
        }
        self.wagered += stake;
        self.paid_out += payout;
    }

    fn json(&self) -> Value {
        let biggest = self.biggest_win.as_ref().map(|(b, amount)| {
            json!({ "bet_id": b["bet_id"], "amount": amount, "multiplier": b["multiplier"], "at": b["created_at"] })
        });
        json!({
            "bets": self.bets, "wins": self.wins, "losses": self.losses, "pushes": self.pushes,
            "wagered": self.wagered, "paid_out": self.paid_out, "net": self.paid_out - self.wagered,
            "biggest_win": biggest, "current_win_streak": self.current_win_streak,
            "longest_win_streak": self.longest_win_streak,
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
    // Across games: the currency's win record.
    let mut total = Totals::default();
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
        total.add(&r.body);
    }
    let games: Vec<Value> = per_game
        .iter()
        .map(|(game, t)| {
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
    // Nothing more arrives later: every event is published (none can come
    // round again) and the count has not moved.
    events_settle(&app).await;
    assert_eq!(app.get("/v1/me/stats", &token).await.body, expected);

    let (_, other) = app.player("idle").await;
    let r = app.get("/v1/me/stats", &other).await;
    assert_eq!(r.body, json!({ "currencies": [] }));
    let r = app
        .call(Method::GET, "/v1/me/stats", None, None, None)
        .await;
    assert_problem(&r, 401, "unauthorized");
}

async fn game_stats(app: &TestApp, game: &str) -> Value {
    let r = app
        .call(
            Method::GET,
            &format!("/v1/games/{game}/stats"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// The 24 h window's CHIP entry of a game's public statistics.
fn chip_24h(stats: &Value) -> Value {
    assert_eq!(stats["windows"][0]["window"], "24h", "{stats}");
    let cur = &stats["windows"][0]["currencies"];
    cur.as_array()
        .unwrap()
        .first()
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_stats_and_win_records_follow_bets_over_http() {
    let app = spawn_with(|c| c.http.game_stats_cache_secs = 0).await;
    // Public, and empty before any bet.
    let before = game_stats(&app, "dice").await;
    let windows: Vec<_> = before["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["window"].clone())
        .collect();
    assert_eq!(windows, vec![json!("24h"), json!("7d"), json!("30d")]);
    assert!(
        before["windows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["currencies"] == json!([])),
        "{before}"
    );
    let rtp = before["theoretical_rtp"].as_f64().unwrap();
    assert!((0.95..1.0).contains(&rtp), "{before}");
    let r = app
        .call(Method::GET, "/v1/games/blackjack/stats", None, None, None)
        .await;
    assert_problem(&r, 404, "unknown_game");
    assert!(
        r.body["detail"].as_str().unwrap().contains("blackjack"),
        "{:?}",
        r.body
    );

    // 16 bets, alternating dice and plinko: streaks and the biggest win per
    // game and across both, as computed from the bets in order.
    let (token, expected) = play(&app, "recorded", 16).await;
    assert_eq!(stats_reach(&app, &token, &expected).await, expected);
    let chip = &expected["currencies"][0];
    for t in std::iter::once(chip).chain(chip["games"].as_array().unwrap()) {
        assert!(
            t["current_win_streak"].is_i64() && t["longest_win_streak"].is_i64(),
            "{t}"
        );
        assert!(
            t["biggest_win"].is_null() || t["biggest_win"]["amount"].as_i64().unwrap() >= 0,
            "{t}"
        );
    }
    let dice = chip["games"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["game"] == "dice")
        .unwrap();
    let (wagered, paid_out) = (
        dice["wagered"].as_i64().unwrap(),
        dice["paid_out"].as_i64().unwrap(),
    );
    let want = json!({ "currency": "CHIP", "bets": 8, "wagered": wagered, "paid_out": paid_out,
        "rtp": paid_out as f64 / wagered as f64 });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut now = game_stats(&app, "dice").await;
    while chip_24h(&now) != want && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = game_stats(&app, "dice").await;
    }
    for w in now["windows"].as_array().unwrap() {
        assert_eq!(w["currencies"], json!([want]), "{now}");
    }
    assert_eq!(
        game_stats(&app, "keno").await["windows"][2]["currencies"],
        json!([])
    );
    app.running.stop().await.unwrap();

    // With a cache, a game's answer stays put for its lifetime.
    let cached = spawn_with(|c| c.http.game_stats_cache_secs = 3600).await;
    let first = game_stats(&cached, "dice").await;
    let (token, expected) = play(&cached, "cached", 4).await;
    assert_eq!(stats_reach(&cached, &token, &expected).await, expected);
    assert_eq!(game_stats(&cached, "dice").await, first);
    assert_eq!(chip_24h(&game_stats(&cached, "plinko").await)["bets"], 2);
    cached.running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bets_over_http_reach_stats_through_jetstream() {
    let Some(url) = backend_url("CROUPIER_TEST_NATS_URL") else {
        return;
    };
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
    let Some(nats) = backend_url("CROUPIER_TEST_NATS_URL") else {
        return;
    };
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
        for path in ["/livez", "/readyz"] {
            let r = ops.call(Method::GET, path, None, None, None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        }
        let r = ops
            .call(Method::GET, "/v1/me/stats", Some(&token), None, None)
            .await;
        assert_problem(&r, 404, "route_not_found");
    }
    let metrics = relay.metrics().await;
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
    events_settle(&app).await;
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
        "SELECT current_win_streak, longest_win_streak, IFNULL(best_amount, -1),
                IFNULL(best_nonce, -1), last_seed_pair_id, last_nonce,
                length(player_id || currency || game)
         FROM player_win_records ORDER BY player_id, currency, game",
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
    c.execute_batch("DELETE FROM player_stats WHERE game = 'plinko'; UPDATE game_stats_hourly SET bets = bets + 7;
                     DELETE FROM player_win_records WHERE game = ''; UPDATE player_win_records SET longest_win_streak = 99;")
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

// --- Live notifications over WebSocket (GET /v1/ws) ---

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_request(app: &TestApp) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    format!("{}/v1/ws", app.base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap()
}

/// Opens a socket with `Authorization: Bearer <token>`.
async fn open_ws(app: &TestApp, token: &str) -> Ws {
    let mut req = ws_request(app);
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

/// The next server message: a JSON notification, or the close frame
/// (`{"close": code}`); pings are skipped. Fails after `within`.
async fn next_ws(ws: &mut Ws, within: Duration) -> Value {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a websocket message in time")
            .expect("the socket is open")
            .expect("a valid frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(frame) => {
                return json!({ "close": frame.map(|f| u16::from(f.code)) });
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_pushes_claims_bets_and_balances_and_closes_on_logout() {
    let app = spawn().await;
    let (_, token) = app.player("listener").await;
    let mut ws = open_ws(&app, &token).await;

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
    let claimed = r.body["balance"].as_i64().unwrap();
    let m = next_ws(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(m["type"], "balance.changed", "{m}");
    assert_eq!(m["data"]["cause"], "claim", "{m}");
    assert_eq!(m["data"]["currency"], "CHIP");
    assert_eq!(m["data"]["balance"], claimed);
    assert!(m["event_id"].is_string() && m["at"].is_string(), "{m}");

    let r = app
        .post(
            "/v1/games/dice/bets",
            Some(&token),
            json!({ "currency": "CHIP", "stake": 250, "params": { "target": 50.5, "direction": "over" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let bet = r.body;
    let settled = next_ws(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(settled["type"], "bet.settled", "{settled}");
    assert_eq!(settled["data"]["bet_id"], bet["bet_id"]);
    assert_eq!(settled["data"]["payout"], bet["payout"]);
    assert!(settled["data"].get("player_id").is_none(), "{settled}");
    let balance = next_ws(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(balance["type"], "balance.changed", "{balance}");
    assert_eq!(balance["data"]["cause"], "bet");
    assert_eq!(balance["data"]["balance"], bet["balance"]);
    assert_eq!(balance["event_id"], settled["event_id"]);

    // Another player's news never reaches this socket; a second socket of
    // the same player hears it too.
    let (_, other) = app.player("neighbour").await;
    let mut second = open_ws(&app, &token).await;
    let r = app
        .call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(&other),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post(
            "/v1/games/dice/bets",
            Some(&token),
            json!({ "currency": "CHIP", "stake": 100, "params": { "target": 50.5, "direction": "over" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    for socket in [&mut ws, &mut second] {
        let m = next_ws(socket, Duration::from_secs(10)).await;
        assert_eq!(m["type"], "bet.settled", "{m}");
        assert_eq!(m["data"]["bet_id"], r.body["bet_id"]);
        next_ws(socket, Duration::from_secs(10)).await;
    }
    assert_eq!(app.running.state.hub.connections(), 2);

    // Logout closes the player's sockets within a couple of seconds (1008).
    let r = app
        .call(Method::POST, "/v1/auth/logout", Some(&token), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let closed = next_ws(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(closed, json!({ "close": 1008 }));
    let closed = next_ws(&mut second, Duration::from_secs(3)).await;
    assert_eq!(closed, json!({ "close": 1008 }));

    // Shutdown closes the remaining sockets with 1001.
    let (_, t2) = app.player("stayer").await;
    let mut ws = open_ws(&app, &t2).await;
    app.running.stop().await.unwrap();
    let closed = next_ws(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(closed, json!({ "close": 1001 }));
}

#[tokio::test]
async fn ws_refuses_bad_tokens_non_upgrades_and_sockets_over_the_limit() {
    let app = spawn_with(|c| c.ws.max_connections_per_player = 1).await;
    let (_, token) = app.player("limited").await;
    let upgrade = |req: reqwest::RequestBuilder| {
        req.header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    };
    // No token, a malformed one, an unknown one: 401, no upgrade.
    let r = app.send(upgrade(app.request(Method::GET, "/v1/ws"))).await;
    assert_problem(&r, 401, "unauthorized");
    let r = app
        .send(upgrade(app.request(Method::GET, "/v1/ws")).bearer_auth("nope"))
        .await;
    assert_problem(&r, 401, "unauthorized");
    let r = app
        .send(upgrade(app.request(Method::GET, "/v1/ws")).bearer_auth("ab".repeat(32)))
        .await;
    assert_problem(&r, 401, "unauthorized");
    // A token in the query string is not a credential.
    let r = app
        .send(upgrade(
            app.request(Method::GET, &format!("/v1/ws?token={token}")),
        ))
        .await;
    assert_problem(&r, 401, "unauthorized");
    // Authenticated, but not a WebSocket request.
    let r = app.get("/v1/ws", &token).await;
    assert_problem(&r, 426, "websocket_required");

    // Browsers: the token as the subprotocol pair `bearer, <token>`.
    let mut req = ws_request(&app);
    req.headers_mut().insert(
        "sec-websocket-protocol",
        format!("bearer, {token}").parse().unwrap(),
    );
    let (_ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "bearer");

    // One socket per player here: the second is refused with 429.
    let r = app
        .send(upgrade(app.request(Method::GET, "/v1/ws")).bearer_auth(&token))
        .await;
    assert_problem(&r, 429, "too_many_sockets");
}

/// The export directory's data files (path relative to `root` → lines) and
/// manifests (path → JSON).
fn read_export(root: &std::path::Path) -> (BTreeMap<String, Vec<Value>>, BTreeMap<String, Value>) {
    use std::io::Read;
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut paths = vec![];
    walk(root, &mut paths);
    let (mut files, mut manifests) = (BTreeMap::new(), BTreeMap::new());
    for p in paths {
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(&p).unwrap();
        if rel.starts_with("manifests/") {
            manifests.insert(rel, serde_json::from_slice(&raw).unwrap());
        } else if rel.ends_with(".ndjson.gz") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .unwrap();
            let lines = text
                .lines()
                .map(|l| serde_json::from_str(l).expect("each line is JSON"))
                .collect();
            files.insert(rel, lines);
        } else if !rel.contains('#') {
            // `#` marks object_store's staging files (renamed when complete).
            panic!("unexpected object {rel}");
        }
    }
    (files, manifests)
}

#[tokio::test]
async fn events_are_exported_once_to_partitioned_files_listed_by_manifests() {
    let app = spawn().await;
    let (token, expected) = play(&app, "exported", 8).await;
    assert_eq!(stats_reach(&app, &token, &expected).await, expected);
    let store = app.running.state.store.clone();
    let root = app.config.data_dir.join("export");
    let events = store.outbox_after(0, 1000).await.unwrap();
    let types: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(
        types.len() >= 3,
        "register, claim and bet all emit: {types:?}"
    );
    let want: std::collections::BTreeSet<String> =
        events.iter().map(|e| e.event_id.to_string()).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (files, manifests) = loop {
        let (files, manifests) = read_export(&root);
        let listed: usize = manifests
            .values()
            .map(|m| m["entries"].as_array().unwrap().len())
            .sum();
        let rows: usize = files.values().map(Vec::len).sum();
        if (rows >= want.len() && listed == files.len()) || tokio::time::Instant::now() > deadline {
            break (files, manifests);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Every event exactly once, in the partition of its type and UTC day.
    let mut got = vec![];
    for (path, lines) in &files {
        for l in lines {
            let ty = l["event_type"].as_str().unwrap();
            let at: chrono::DateTime<chrono::Utc> =
                l["created_at"].as_str().unwrap().parse().unwrap();
            let dir = format!("events/event_type={ty}/dt={}/part-", at.date_naive());
            assert!(path.starts_with(&dir), "{path} holds a {ty} of {at}");
            let e = events
                .iter()
                .find(|e| e.event_id.to_string() == l["event_id"])
                .expect("an outbox event");
            assert_eq!(l["position"], e.position);
            assert_eq!(l["payload"], e.payload);
            got.push(l["event_id"].as_str().unwrap().to_owned());
        }
    }
    got.sort();
    assert_eq!(got, want.iter().cloned().collect::<Vec<_>>());
    // The manifests list exactly those files, with their sizes.
    let mut listed = vec![];
    for (path, m) in &manifests {
        assert!(path.ends_with("/manifest.json"), "{path}");
        for entry in m["entries"].as_array().unwrap() {
            let url = entry["url"].as_str().unwrap();
            let rel = url
                .strip_prefix(&format!("{}/", root.display()))
                .unwrap_or_else(|| panic!("{url} is under {}", root.display()));
            assert_eq!(entry["mandatory"], true);
            let len = std::fs::metadata(root.join(rel)).unwrap().len();
            assert_eq!(entry["meta"]["content_length"], len);
            assert_eq!(entry["meta"]["record_count"], files[rel].len());
            listed.push(rel.to_owned());
        }
    }
    listed.sort();
    assert_eq!(listed, files.keys().cloned().collect::<Vec<_>>());

    // Redelivery (twice, the whole outbox in one batch) writes nothing new.
    let consumers = croupier::events::consumers(&app.config, &store);
    let export = consumers.iter().find(|c| c.name() == "export").unwrap();
    export.handle(&events).await.unwrap();
    export.handle(&events).await.unwrap();
    let (again, manifests_again) = read_export(&root);
    assert_eq!(again, files);
    assert_eq!(manifests_again, manifests);
    app.running.stop().await.unwrap();
}
