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
