//! Data-driven checks against the public test vectors (tests/data/vectors.json, a copy
//! of shared/fairness/vectors.json). Every family in the file must be covered here: a
//! family added to the file without a check fails `every_family_is_checked`.

use croupier_fair::crash::{crash_point_unrounded, previous_hash};
use croupier_fair::games::{dice, keno, limbo, mines, plinko, roulette};
use croupier_fair::stream::{float_from_bytes, ByteStream, Floats};
use croupier_fair::{
    crash_json, crash_point, mine_positions, play, server_seed_hash, verify_chain_link,
    verify_json, Game, GameParams, DEFAULT_EDGE_BPS,
};
use serde_json::{json, Value};

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors.json")).expect("valid JSON")
}

/// The entries of one family; fails if the family is missing or empty.
fn family(name: &str) -> Vec<Value> {
    let v = vectors()[name].as_array().cloned().unwrap_or_default();
    assert!(!v.is_empty(), "family `{name}` missing or empty");
    v
}

struct Seeds {
    server: String,
    client: String,
    nonce: u64,
}

fn seeds(v: &Value) -> Seeds {
    Seeds {
        server: v["server_seed"].as_str().unwrap().to_string(),
        client: v["client_seed"].as_str().unwrap().to_string(),
        nonce: v["nonce"].as_u64().unwrap(),
    }
}

impl Seeds {
    fn floats(&self) -> Floats<'_> {
        Floats::new(&self.server, &self.client, self.nonce)
    }
    fn verify(&self, game: &str, params: Value) -> Value {
        verify_json(game, &self.server, &self.client, self.nonce, &params).unwrap()
    }
}

const FAMILIES: [&str; 12] = [
    "sha256",
    "bytes",
    "floats",
    "dice",
    "limbo",
    "roulette",
    "keno",
    "mines",
    "plinko",
    "flip",
    "crash",
    "hash_chain",
];

#[test]
fn every_family_is_checked() {
    let v = vectors();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    for k in &keys {
        assert!(
            FAMILIES.contains(&k.as_str()),
            "vectors.json has an unchecked family `{k}`"
        );
    }
    assert_eq!(keys.len(), FAMILIES.len());
}

#[test]
fn sha256() {
    for v in family("sha256") {
        assert_eq!(
            server_seed_hash(v["input"].as_str().unwrap()),
            v["hex"].as_str().unwrap()
        );
    }
}

#[test]
fn bytes() {
    for v in family("bytes") {
        let s = seeds(&v);
        let expected: Vec<u8> = serde_json::from_value(v["first_bytes"].clone()).unwrap();
        let got: Vec<u8> = ByteStream::new(&s.server, &s.client, s.nonce)
            .take(expected.len())
            .collect();
        assert_eq!(got, expected);
        // The floats are made of exactly these bytes.
        for (chunk, f) in expected.chunks_exact(4).zip(s.floats()) {
            assert_eq!(float_from_bytes(chunk.try_into().unwrap()), f);
        }
    }
}

#[test]
fn floats() {
    for v in family("floats") {
        let s = seeds(&v);
        let expected: Vec<f64> = serde_json::from_value(v["first_floats"].clone()).unwrap();
        let got: Vec<f64> = s.floats().take(expected.len()).collect();
        assert_eq!(got, expected, "floats must match bit for bit");
    }
}

#[test]
fn dice() {
    for v in family("dice") {
        let s = seeds(&v);
        let roll = v["roll"].as_f64().unwrap();
        assert_eq!(dice::roll(&mut s.floats()) as f64 / 100.0, roll);
        assert_eq!(s.verify("dice", json!({})), json!({ "roll": roll }));
        assert_eq!(
            s.verify("dice", json!({"target": 50.5, "direction": "under"})),
            json!({ "roll": roll })
        );
        // play reports the same roll and the one float it used.
        let p = GameParams::from_json(Game::Dice, &json!({"target": 50.5, "direction": "over"}))
            .unwrap();
        let st = play(&p, &s.server, &s.client, s.nonce, DEFAULT_EDGE_BPS).unwrap();
        assert_eq!(st.outcome["roll"].as_f64(), Some(roll));
        assert_eq!(st.floats_used, s.floats().take(1).collect::<Vec<_>>());
        assert_eq!(st.win, roll > 50.5);
    }
}

#[test]
fn limbo() {
    for v in family("limbo") {
        let s = seeds(&v);
        let m = v["multiplier"].as_f64().unwrap();
        assert_eq!(
            limbo::outcome(&mut s.floats(), DEFAULT_EDGE_BPS).as_f64(),
            m
        );
        assert_eq!(s.verify("limbo", Value::Null), json!({ "multiplier": m }));
    }
}

#[test]
fn roulette() {
    for v in family("roulette") {
        let s = seeds(&v);
        let pocket = v["pocket"].as_u64().unwrap();
        assert_eq!(roulette::pocket(&mut s.floats()) as u64, pocket);
        assert_eq!(s.verify("roulette", json!({})), json!({ "pocket": pocket }));
        let bets = json!({"bets": [{"type": "straight", "value": pocket, "amount": 10}]});
        assert_eq!(
            s.verify("roulette", bets.clone()),
            json!({ "pocket": pocket })
        );
        let st = play(
            &GameParams::from_json(Game::Roulette, &bets).unwrap(),
            &s.server,
            &s.client,
            s.nonce,
            DEFAULT_EDGE_BPS,
        )
        .unwrap();
        assert_eq!(st.payout(10), 360);
    }
}

#[test]
fn keno() {
    for v in family("keno") {
        let s = seeds(&v);
        let drawn: Vec<u8> = serde_json::from_value(v["draw_order"].clone()).unwrap();
        assert_eq!(keno::draw(&mut s.floats()).to_vec(), drawn);
        assert_eq!(s.verify("keno", json!({})), json!({ "drawn": drawn }));
    }
}

#[test]
fn mines() {
    for v in family("mines") {
        let s = seeds(&v);
        let n = v["mines"].as_u64().unwrap() as u8;
        let tiles: Vec<u8> = serde_json::from_value(v["mine_tiles_in_draw_order"].clone()).unwrap();
        assert_eq!(
            mine_positions(&s.server, &s.client, s.nonce, n).unwrap(),
            tiles
        );
        assert_eq!(mines::positions(&mut s.floats(), n), tiles);
        assert_eq!(
            s.verify("mines", json!({ "mines": n })),
            json!({ "mines": tiles })
        );
    }
}

#[test]
fn plinko() {
    for v in family("plinko") {
        let s = seeds(&v);
        let rows = v["rows"].as_u64().unwrap() as u8;
        let slot = v["slot"].as_u64().unwrap() as usize;
        assert_eq!(plinko::drop_ball(&mut s.floats(), rows), slot);
        for risk in ["low", "medium", "high"] {
            let out = s.verify("plinko", json!({"rows": rows, "risk": risk}));
            let table = plinko::table(rows, serde_json::from_value(json!(risk)).unwrap());
            assert_eq!(
                out,
                json!({"slot": slot, "multiplier": table[slot] as f64 / 100.0})
            );
        }
    }
}

#[test]
fn flip() {
    for v in family("flip") {
        let s = seeds(&v);
        let expected: Vec<String> = serde_json::from_value(v["first_5"].clone()).unwrap();
        let out = s.verify("flip", json!({"count": expected.len()}));
        assert_eq!(out, json!({ "flips": expected }));
        // Default count is 1; longer sequences extend, never reorder.
        assert_eq!(
            s.verify("flip", json!({})),
            json!({ "flips": [expected[0]] })
        );
        let twenty = s.verify("flip", json!({"count": 20}));
        assert_eq!(
            twenty["flips"].as_array().unwrap()[..expected.len()],
            json!(expected).as_array().unwrap()[..]
        );
    }
}

#[test]
fn crash() {
    for v in family("crash") {
        let (h, salt) = (
            v["game_hash"].as_str().unwrap(),
            v["salt"].as_str().unwrap(),
        );
        assert_eq!(
            crash_point_unrounded(h, salt),
            v["unrounded"].as_f64().unwrap()
        );
        assert_eq!(
            crash_point(h, salt).as_f64(),
            v["crash_point"].as_f64().unwrap()
        );
        assert_eq!(
            crash_json(h, salt),
            json!({ "crash_point": v["crash_point"] })
        );
    }
}

#[test]
fn hash_chain() {
    for v in family("hash_chain") {
        let (seed, hash) = (v["seed"].as_str().unwrap(), v["sha256"].as_str().unwrap());
        assert_eq!(previous_hash(seed), hash);
        assert!(verify_chain_link(seed, hash));
        assert!(!verify_chain_link(hash, seed));
    }
}
