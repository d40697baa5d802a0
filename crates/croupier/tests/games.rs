//! HTTP contract tests of the provably fair games: the catalog and its
//! administration, seed pairs, single-step bets, mines rounds, bet history and
//! public verification. Every test that places bets ends with
//! [`rotate_and_verify_all`]: the seeds are rotated and each bet is re-verified
//! offline from its revealed server seed with `croupier_fair`.

mod common;

use chrono::DateTime;
use common::*;
use croupier_core::Role;
use croupier_fair::{
    mine_positions, mines_multiplier, play, server_seed_hash, verify_json, Game, GameParams,
};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------- helpers

/// The balance arithmetic here leaves no room for mission rewards, which the
/// default `win-5` mission pays asynchronously after five wins: these apps run
/// without missions (`tests/missions.rs` covers them).
async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

async fn spawn_with(tweak: impl FnOnce(&mut croupier::config::Config)) -> TestApp {
    common::spawn_with(|c| {
        c.missions.clear();
        tweak(c)
    })
    .await
}

const CLAIM: &str = "/v1/wallets/CHIP/claims";
const SEEDS: &str = "/v1/fairness/seeds";
const ROTATE: &str = "/v1/fairness/seeds/rotate";
const VERIFY: &str = "/v1/fairness/verify";
const ROUNDS: &str = "/v1/games/mines/rounds";
/// What one faucet claim credits (the default configuration).
const FAUCET: i64 = 100_000;
const GAMES: [&str; 7] = [
    "dice", "limbo", "roulette", "flip", "plinko", "keno", "mines",
];
const BET_KEYS: [&str; 12] = [
    "bet_id",
    "game",
    "currency",
    "stake",
    "payout",
    "multiplier",
    "win",
    "params",
    "outcome",
    "balance",
    "created_at",
    "fairness",
];

/// Asserts a problem naming the offending `field`.
#[track_caller]
fn assert_field(r: &Resp, status: u16, code: &str, field: &str) {
    assert_problem(r, status, code);
    assert_eq!(r.body["field"], field, "{:?}", r.body);
}

fn header<'a>(r: &'a Resp, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn replayed(r: &Resp) -> bool {
    header(r, "idempotent-replayed") == Some("true")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[track_caller]
fn uint(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

#[track_caller]
fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// A two-decimal JSON number as an integer number of hundredths.
#[track_caller]
fn hundredths(v: &Value) -> i64 {
    let f = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    let h = (f * 100.0).round();
    assert!(
        (f * 100.0 - h).abs() < 1e-6,
        "{v} has more than two decimals"
    );
    h as i64
}

/// `floor(stake × hundredths / 100)`, exact.
fn times(stake: i64, hundredths: i64) -> i64 {
    (stake as i128 * hundredths as i128 / 100) as i64
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[track_caller]
fn assert_timestamp(v: &Value) {
    DateTime::parse_from_rfc3339(text(v)).unwrap_or_else(|e| panic!("{v}: {e}"));
}

/// Registers `name`, logs in and claims the faucet bonus; returns (player_id, token).
async fn funded(app: &TestApp, name: &str) -> (String, String) {
    let (id, token) = app.player(name).await;
    let r = app
        .call(Method::POST, CLAIM, Some(&token), None, None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    (id, token)
}

fn bet_path(game: &str) -> String {
    format!("/v1/games/{game}/bets")
}

async fn bet(app: &TestApp, token: &str, game: &str, stake: i64, params: Value) -> Resp {
    app.post(
        &bet_path(game),
        Some(token),
        json!({ "currency": "CHIP", "stake": stake, "params": params }),
    )
    .await
}

/// Places a bet that must be accepted and checks the documented shape.
async fn bet_ok(app: &TestApp, token: &str, game: &str, stake: i64, params: Value) -> Value {
    let r = bet(app, token, game, stake, params.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{game} {params}: {:?}",
        r.body
    );
    assert!(r.content_type().starts_with("application/json"));
    assert!(!replayed(&r));
    assert_bet_shape(&r.body);
    assert_eq!(r.body["game"], game);
    assert_eq!(r.body["stake"], stake);
    assert_eq!(r.body["params"], params);
    r.body
}

/// How many floats a settled bet consumed, per the protocol.
fn floats_used(game: &str, params: &Value) -> usize {
    match game {
        "dice" | "limbo" | "roulette" => 1,
        "flip" => uint(&params["count"]) as usize,
        "plinko" => uint(&params["rows"]) as usize,
        "keno" => 10,
        "mines" => uint(&params["mines"]) as usize,
        other => panic!("unexpected game {other}"),
    }
}

/// The documented bet object: keys, types and the payout/multiplier relation.
#[track_caller]
fn assert_bet_shape(b: &Value) {
    assert_eq!(keys(b), names(&BET_KEYS), "{b}");
    let game = text(&b["game"]);
    assert!(GAMES.contains(&game), "{b}");
    assert_eq!(b["currency"], "CHIP");
    assert_eq!(text(&b["bet_id"]).len(), 36, "{b}");
    assert_timestamp(&b["created_at"]);
    let stake = int(&b["stake"]);
    let payout = int(&b["payout"]);
    assert!(stake > 0 && payout >= 0, "{b}");
    assert!(int(&b["balance"]) >= 0, "{b}");
    assert!(b["win"].is_boolean(), "{b}");
    let m = hundredths(&b["multiplier"]);
    if game == "roulette" {
        // The effective multiplier, floored to two decimals.
        assert_eq!(m, (payout as i128 * 100 / stake as i128) as i64, "{b}");
    } else {
        assert_eq!(payout, times(stake, m), "{b}");
    }
    let f = &b["fairness"];
    let mut expected = names(&["server_seed_hash", "client_seed", "nonce", "floats"]);
    if f.get("server_seed").is_some() {
        expected.insert("server_seed".into());
    }
    assert_eq!(keys(f), expected, "{b}");
    assert!(is_hex64(text(&f["server_seed_hash"])), "{b}");
    assert!(!text(&f["client_seed"]).is_empty());
    uint(&f["nonce"]);
    let floats = f["floats"].as_array().expect("floats");
    assert_eq!(floats.len(), floats_used(game, &b["params"]), "{b}");
    for x in floats {
        let x = x.as_f64().expect("float");
        assert!((0.0..1.0).contains(&x), "{b}");
    }
}

async fn seeds(app: &TestApp, token: &str) -> Value {
    let r = app.get(SEEDS, token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// The nonce the player's next bet will use.
async fn next_nonce(app: &TestApp, token: &str) -> u64 {
    uint(&seeds(app, token).await["nonce"])
}

async fn rotate(app: &TestApp, token: &str, body: Option<Value>) -> Resp {
    app.call(Method::POST, ROTATE, Some(token), None, body)
        .await
}

async fn catalog(app: &TestApp) -> Vec<Value> {
    let r = app.call(Method::GET, "/v1/games", None, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body.as_array().expect("game list").clone()
}

async fn catalog_entry(app: &TestApp, game: &str) -> Value {
    catalog(app)
        .await
        .into_iter()
        .find(|e| e["id"] == game)
        .unwrap_or_else(|| panic!("{game} not listed"))
}

/// Every game's current house edge.
async fn edges(app: &TestApp) -> BTreeMap<String, u32> {
    catalog(app)
        .await
        .iter()
        .map(|e| (text(&e["id"]).to_owned(), uint(&e["house_edge_bps"]) as u32))
        .collect()
}

/// Every bet of the caller, newest first, walking pages of `limit`.
async fn history(app: &TestApp, token: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/bets?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        assert_eq!(keys(&r.body), names(&["items", "next_cursor"]));
        let page = r.body["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit as usize);
        items.extend(page);
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    items
}

/// GETs `path`; returns the parsed body and its raw text. (serde_json's default
/// parser may read a 17-digit float one ulp off, so exact float checks use the text.)
async fn get_raw(app: &TestApp, path: &str, token: &str) -> (Value, String) {
    let resp = app
        .request(Method::GET, path)
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let raw = resp.text().await.expect("body");
    (serde_json::from_str(&raw).expect("JSON"), raw)
}

/// The raw JSON text of a bet's `fairness.floats` array.
fn raw_floats(raw: &str) -> &str {
    let start = raw.find("\"floats\":[").expect("floats listed") + "\"floats\":".len();
    let len = raw[start..].find(']').expect("array closed") + 1;
    &raw[start..start + len]
}

/// Re-verifies one bet from its revealed seeds: the commitment, the outcome
/// (`verify_json`), and the payout, multiplier, win flag and floats (`play` at
/// `edge`, the house edge the bet was placed at). `raw` is the bet's JSON text.
#[track_caller]
fn verify_bet(bet: &Value, raw: &str, edge: u32) {
    let game = text(&bet["game"]);
    let f = &bet["fairness"];
    let seed = f["server_seed"]
        .as_str()
        .unwrap_or_else(|| panic!("server seed not revealed: {bet}"));
    let client = text(&f["client_seed"]);
    let nonce = uint(&f["nonce"]);
    assert_eq!(
        server_seed_hash(seed),
        text(&f["server_seed_hash"]),
        "{bet}"
    );
    let params = &bet["params"];
    // A mines bet records `{mines, tiles}`: the tiles picked, in order (the
    // last one the mine, if one was hit). The engine replays it as "reveal
    // these tiles, then cash out", and a verifier takes it as it is.
    let (verify_params, play_params) = if game == "mines" {
        let mut tiles: Vec<Value> = bet["outcome"]["revealed"]
            .as_array()
            .expect("revealed")
            .clone();
        if let Some(hit) = bet["outcome"].get("hit") {
            tiles.push(hit.clone());
        }
        assert_eq!(
            params,
            &json!({ "mines": params["mines"], "tiles": tiles }),
            "{bet}"
        );
        (params.clone(), params.clone())
    } else {
        (params.clone(), params.clone())
    };
    let expected = verify_json(game, seed, client, nonce, &verify_params)
        .unwrap_or_else(|e| panic!("verify_json refused {bet}: {e}"));
    for (k, v) in expected.as_object().expect("object") {
        assert_eq!(&bet["outcome"][k], v, "outcome {k} of {bet}");
    }
    let game_id: Game = game.parse().expect("game");
    let parsed = GameParams::from_json(game_id, &play_params)
        .unwrap_or_else(|e| panic!("engine refused the params of {bet}: {e:?}"));
    let settled = play(&parsed, seed, client, nonce, edge).expect("play");
    let stake = int(&bet["stake"]);
    assert_eq!(
        settled.payout(stake),
        int(&bet["payout"]),
        "payout of {bet}"
    );
    assert_eq!(
        settled.multiplier.hundredths() as i64,
        hundredths(&bet["multiplier"]),
        "multiplier of {bet}"
    );
    assert_eq!(Value::Bool(settled.win), bet["win"], "win of {bet}");
    // Exactly the floats drawn, to the last bit (each is k / 2^32).
    let drawn = serde_json::to_string(&settled.floats_used).unwrap();
    assert_eq!(raw_floats(raw), drawn, "floats of {bet}");
    assert!(settled
        .floats_used
        .iter()
        .all(|x| (x * 4_294_967_296.0).fract() == 0.0));
    if game != "mines" {
        assert_eq!(bet["outcome"], settled.outcome, "{bet}");
    }
}

/// Rotates the caller's seed pair, then re-verifies EVERY bet they ever placed
/// (each read back with `GET /v1/bets/{id}`) from its revealed server seed at
/// the games' current house edges. Returns the verified bets, newest first.
async fn rotate_and_verify_all(app: &TestApp, token: &str) -> Vec<Value> {
    let before = seeds(app, token).await;
    let r = rotate(app, token, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let revealed = &r.body["revealed"];
    assert_eq!(revealed["server_seed_hash"], before["server_seed_hash"]);
    assert_eq!(revealed["client_seed"], before["client_seed"]);
    assert_eq!(revealed["nonce"], before["nonce"]);
    assert_eq!(
        server_seed_hash(text(&revealed["server_seed"])),
        text(&before["server_seed_hash"])
    );
    assert_eq!(r.body["nonce"], 0);
    assert_ne!(r.body["server_seed_hash"], before["server_seed_hash"]);

    // Every revealed pair hashes to its commitment; bets must quote them exactly.
    let after = seeds(app, token).await;
    let mut pairs: BTreeMap<String, (Value, BTreeSet<u64>)> = BTreeMap::new();
    for p in after["previous"].as_array().expect("previous") {
        let hash = text(&p["server_seed_hash"]);
        assert_eq!(server_seed_hash(text(&p["server_seed"])), hash, "{p}");
        pairs.insert(hash.to_owned(), (p.clone(), BTreeSet::new()));
    }

    let edges = edges(app).await;
    let listed = history(app, token, "", 100).await;
    let mut bets = Vec::with_capacity(listed.len());
    for item in &listed {
        let id = text(&item["bet_id"]);
        let (b, raw) = get_raw(app, &format!("/v1/bets/{id}"), token).await;
        assert_eq!(&b, item, "GET /v1/bets/{id} differs from the listing");
        assert_bet_shape(&b);
        let f = &b["fairness"];
        let (pair, nonces) = pairs
            .get_mut(text(&f["server_seed_hash"]))
            .unwrap_or_else(|| panic!("bet on an unrevealed pair: {b}"));
        assert_eq!(f["server_seed"], pair["server_seed"], "{b}");
        assert_eq!(f["client_seed"], pair["client_seed"], "{b}");
        let nonce = uint(&f["nonce"]);
        assert!(nonce < uint(&pair["nonce"]), "nonce beyond the pair's: {b}");
        assert!(nonces.insert(nonce), "nonce {nonce} used twice");
        verify_bet(&b, &raw, edges[text(&b["game"])]);
        bets.push(b);
    }
    bets
}

/// Asserts the caller's balance and next nonce are what they were.
async fn assert_untouched(app: &TestApp, token: &str, balance: i64, nonce: u64, what: &str) {
    assert_eq!(
        app.balance(token, "CHIP").await,
        balance,
        "{what} moved money"
    );
    assert_eq!(next_nonce(app, token).await, nonce, "{what} used a nonce");
}

async fn open_round(app: &TestApp, token: &str, stake: i64, mines: u8) -> Resp {
    app.post(
        ROUNDS,
        Some(token),
        json!({ "currency": "CHIP", "stake": stake, "mines": mines }),
    )
    .await
}

async fn reveal(app: &TestApp, token: &str, round: &str, tile: Value) -> Resp {
    app.post(
        &format!("{ROUNDS}/{round}/reveal"),
        Some(token),
        json!({ "tile": tile }),
    )
    .await
}

async fn cash_out(app: &TestApp, token: &str, round: &str) -> Resp {
    app.call(
        Method::POST,
        &format!("{ROUNDS}/{round}/cashout"),
        Some(token),
        None,
        None,
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

// ---------------------------------------------------------------- catalog

#[tokio::test]
async fn catalog_lists_the_seven_games_without_authentication() {
    let app = spawn().await;
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
    let app = spawn().await;
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

// ---------------------------------------------------------------- seeds

#[tokio::test]
async fn seed_pair_is_created_on_first_use_and_rotation_reveals_it() {
    let app = spawn().await;
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

// ---------------------------------------------------------------- bets

#[tokio::test]
async fn every_game_settles_through_http_by_the_published_rules() {
    let app = spawn().await;
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
    let app = spawn().await;
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
    let app = spawn().await;
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
    let app = spawn().await;
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

// ---------------------------------------------------------------- mines

#[tokio::test]
async fn mines_round_refusals_change_nothing() {
    let app = spawn().await;
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
    let app = spawn().await;
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

// ---------------------------------------------------------------- history

#[tokio::test]
async fn bet_history_pages_newest_first_and_only_for_its_owner() {
    let app = spawn().await;
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

// ---------------------------------------------------------------- verify

#[tokio::test]
async fn verify_endpoint_matches_the_cli() {
    let app = spawn().await;
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
    let app = spawn_with(|c| c.games.verify_per_minute = 3).await;
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

// ---------------------------------------------------------------- admin

#[tokio::test]
async fn admin_changes_edge_limits_and_availability() {
    let app = spawn().await;
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

// ---------------------------------------------------------------- concurrency

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
    let app = spawn().await;
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
    let app = spawn().await;
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
    let app = spawn().await;
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
    let app = spawn().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_mines_opens_and_cash_outs_take_effect_once() {
    let app = spawn().await;
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

// ------------------------------------------------- verifiable by third parties

/// Limbo's outcome formula includes the published 0.99, so its edge is fixed:
/// an admin cannot change it, and every limbo bet verifies with the standard
/// verifier.
#[tokio::test]
async fn limbo_edge_is_fixed_so_bets_stay_verifiable() {
    let app = spawn().await;
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

#[tokio::test]
async fn mines_bets_verify_from_their_own_params() {
    let app = spawn().await;
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
