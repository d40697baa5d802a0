//! Provable fairness: seed pairs and their rotation, the public verifier (the
//! CLI's answers, rate-limited), and limbo's fixed edge that keeps it verifiable.

use crate::helpers::*;
use croupier_core::Role;
use croupier_fair::server_seed_hash;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn seed_pair_is_created_on_first_use_and_rotation_reveals_it() {
    let app = spawn_games().await;
    let (_, token) = app.player("alice").await;
    let s1 = seeds(&app, &token).await;
    assert_eq!(
        keys(&s1),
        names(&[
            "server_seed_hash",
            "client_seed",
            "nonce",
            "active",
            "previous"
        ])
    );
    assert!(is_hex64(text(&s1["server_seed_hash"])), "{s1}");
    let client = text(&s1["client_seed"]);
    assert!((1..=64).contains(&client.len()));
    assert_eq!(s1["nonce"], 0);
    assert_eq!(
        s1["active"],
        json!({ "server_seed_hash": s1["server_seed_hash"], "client_seed": client, "nonce": 0 })
    );
    assert_eq!(s1["previous"], json!([]));
    assert_eq!(seeds(&app, &token).await, s1, "created once, then stable");

    // Rotation with a chosen client seed reveals the committed server seed.
    let r = rotate(
        &app,
        &token,
        Some(json!({ "client_seed": "my lucky seed" })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        keys(&r.body),
        names(&[
            "server_seed_hash",
            "client_seed",
            "nonce",
            "active",
            "revealed"
        ])
    );
    assert_eq!(r.body["client_seed"], "my lucky seed");
    assert_eq!(r.body["nonce"], 0);
    assert_ne!(r.body["server_seed_hash"], s1["server_seed_hash"]);
    assert_eq!(
        r.body["active"],
        json!({ "server_seed_hash": r.body["server_seed_hash"], "client_seed": "my lucky seed", "nonce": 0 })
    );
    let revealed = &r.body["revealed"];
    assert_eq!(
        keys(revealed),
        names(&[
            "server_seed",
            "server_seed_hash",
            "client_seed",
            "nonce",
            "revealed_at"
        ])
    );
    let seed = text(&revealed["server_seed"]);
    assert!(is_hex64(seed), "a 256-bit seed in lowercase hex: {seed}");
    assert_eq!(revealed["server_seed_hash"], s1["server_seed_hash"]);
    assert_eq!(server_seed_hash(seed), text(&s1["server_seed_hash"]));
    assert_eq!(revealed["client_seed"], client);
    assert_eq!(revealed["nonce"], 0);
    assert_timestamp(&revealed["revealed_at"]);
    // The commitment is plain SHA-256 of the seed's ASCII (FIPS 180-2 "abc" vector).
    assert_eq!(
        server_seed_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let s2 = seeds(&app, &token).await;
    assert_eq!(s2["active"], r.body["active"]);
    assert_eq!(s2["previous"], json!([revealed]));

    // Without a body the new client seed is random; previous lists newest first.
    let r2 = rotate(&app, &token, None).await;
    assert_eq!(r2.status, StatusCode::OK, "{:?}", r2.body);
    let c2 = text(&r2.body["client_seed"]);
    assert!((1..=64).contains(&c2.len()) && c2.bytes().all(|b| (0x20..0x7f).contains(&b)));
    assert_eq!(
        r2.body["revealed"]["server_seed_hash"],
        r.body["server_seed_hash"]
    );
    assert_eq!(r2.body["revealed"]["client_seed"], "my lucky seed");
    let s3 = seeds(&app, &token).await;
    assert_eq!(s3["previous"], json!([r2.body["revealed"], revealed]));

    // Bad client seeds are refused and change nothing.
    for bad in [
        json!(""),
        json!("x".repeat(65)),
        json!("héllo"),
        json!("tab\there"),
        json!("new\nline"),
    ] {
        let r = rotate(&app, &token, Some(json!({ "client_seed": bad }))).await;
        assert_field(&r, 422, "invalid_client_seed", "client_seed");
    }
    let r = rotate(&app, &token, Some(json!({ "client_seed": 5 }))).await;
    assert_field(&r, 422, "invalid_field", "client_seed");
    let r = rotate(&app, &token, Some(json!({ "seed": "x" }))).await;
    assert_field(&r, 422, "unknown_field", "seed");
    assert_eq!(seeds(&app, &token).await, s3);

    // 64 printable characters, spaces and symbols included, are fine.
    let longest = format!("~ !{}", "a".repeat(60));
    let r = rotate(&app, &token, Some(json!({ "client_seed": longest }))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["client_seed"], longest.as_str());
}

#[tokio::test]
async fn verify_endpoint_matches_the_cli() {
    let app = spawn_games().await;
    let r = app
        .post(
            VERIFY,
            None,
            json!({ "game": "dice", "server_seed": "server seed", "client_seed": "client seed", "nonce": 1, "params": {} }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "roll": 74.67, "server_seed_hash": server_seed_hash("server seed"), "outcome": { "roll": 74.67 } })
    );
    let cases = [
        ("dice", 1, json!({})),
        ("limbo", 3, json!({ "target": 2 })),
        ("roulette", 2, json!({})),
        ("flip", 1, json!({ "count": 5 })),
        ("plinko", 2, json!({ "rows": 8, "risk": "low" })),
        ("plinko", 9, json!({ "rows": 16, "risk": "high" })),
        ("keno", 1, json!({})),
        ("mines", 1, json!({ "mines": 3 })),
    ];
    for (game, nonce, params) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_croupier"))
            .args([
                "fair",
                "verify",
                "--game",
                game,
                "--server-seed",
                "server seed",
            ])
            .args([
                "--client-seed",
                "client seed",
                "--nonce",
                &nonce.to_string(),
            ])
            .args(["--params", &params.to_string()])
            .output()
            .expect("croupier runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cli: Value = serde_json::from_slice(&out.stdout).expect("CLI prints JSON");
        let r = app
            .post(
                VERIFY,
                None,
                json!({ "game": game, "server_seed": "server seed", "client_seed": "client seed", "nonce": nonce, "params": params }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let mut http = r.body.as_object().unwrap().clone();
        assert_eq!(
            http.remove("server_seed_hash"),
            Some(json!(server_seed_hash("server seed")))
        );
        assert_eq!(http.remove("outcome"), Some(cli.clone()), "{game}");
        assert_eq!(Value::Object(http), cli, "{game}");
    }
    // Params may be omitted where the outcome doesn't depend on them.
    let r = app
        .post(VERIFY, None, json!({ "game": "roulette", "server_seed": "server seed", "client_seed": "client seed", "nonce": 2 }))
        .await;
    assert_eq!(r.body["pocket"], 19);

    let base = json!({ "game": "dice", "server_seed": "s", "client_seed": "c", "nonce": 0 });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let r = app.post(VERIFY, None, with("game", json!("poker"))).await;
    assert_field(&r, 422, "unknown_game", "game");
    let r = app.post(VERIFY, None, with("game", json!("plinko"))).await;
    assert_field(&r, 422, "invalid_params", "params.rows");
    let r = app
        .post(
            VERIFY,
            None,
            with("params", json!({ "target": 50, "direction": "up" })),
        )
        .await;
    assert_field(&r, 422, "invalid_params", "params.direction");
    for bad in [json!(""), json!("x".repeat(65)), json!("é")] {
        let r = app.post(VERIFY, None, with("client_seed", bad)).await;
        assert_field(&r, 422, "invalid_client_seed", "client_seed");
    }
    let r = app.post(VERIFY, None, with("nonce", json!(-1))).await;
    assert_field(&r, 422, "invalid_field", "nonce");
    let r = app
        .post(
            VERIFY,
            None,
            json!({ "game": "dice", "server_seed": "s", "client_seed": "c" }),
        )
        .await;
    assert_field(&r, 422, "missing_field", "nonce");
}

#[tokio::test]
async fn verify_endpoint_is_rate_limited_per_ip() {
    let app = spawn_games_with(|c| c.games.verify_per_minute = 3).await;
    let body = json!({ "game": "dice", "server_seed": "server seed", "client_seed": "client seed", "nonce": 1 });
    for _ in 0..3 {
        let r = app.post(VERIFY, None, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["roll"], 74.67);
    }
    let r = app.post(VERIFY, None, body.clone()).await;
    assert_problem(&r, 429, "rate_limited");
    let wait: u64 = header(&r, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // The catalog is not part of that budget.
    assert_eq!(catalog(&app).await.len(), 7);
}

/// Limbo's outcome formula includes the published 0.99, so its edge is fixed:
/// an admin cannot change it, and every limbo bet verifies with the standard
/// verifier.
#[tokio::test]
async fn limbo_edge_is_fixed_so_bets_stay_verifiable() {
    let app = spawn_games().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (_, token) = funded(&app, "alice").await;
    let r = app
        .call(
            Method::PATCH,
            "/v1/admin/games/limbo",
            Some(&admin),
            None,
            Some(json!({ "house_edge_bps": 500 })),
        )
        .await;
    assert_field(&r, 422, "fixed_house_edge", "house_edge_bps");
    for _ in 0..5 {
        bet_ok(&app, &token, "limbo", 10, json!({ "target": 2 })).await;
    }
    for b in rotate_and_verify_all(&app, &token).await {
        let f = &b["fairness"];
        let r = app
            .post(
                VERIFY,
                None,
                json!({ "game": "limbo", "server_seed": f["server_seed"], "client_seed": f["client_seed"],
                        "nonce": f["nonce"], "params": b["params"] }),
            )
            .await;
        assert_eq!(r.body["multiplier"], b["outcome"]["multiplier"], "{b}");
    }
}
