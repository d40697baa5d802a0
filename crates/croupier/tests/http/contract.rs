//! The API contract: the OpenAPI document (and its snapshot) against the router
//! and the RBAC table, the route × role matrix, and the edges a black-box test found.

use crate::helpers::*;
use croupier_api::rbac::{Access, ROUTES};
use croupier_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

async fn document(app: &TestApp) -> Value {
    let r = app
        .call(Method::GET, "/openapi.json", None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

/// Every operation of the document, as (METHOD, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            ops.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn openapi_document_snapshot() {
    let app = spawn().await;
    let r = app
        .call(Method::GET, "/openapi.json", None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    insta::assert_json_snapshot!("openapi", r.body);
}

#[tokio::test]
async fn openapi_document_lists_exactly_the_routed_api_with_its_access_and_statuses() {
    let app = spawn().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3.1"));
    let ops = operations(&doc);
    let documented: BTreeSet<(String, String)> =
        ops.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed, "the document and the RBAC table differ");

    let mut ids = BTreeSet::new();
    for (method, path, op) in &ops {
        let at = format!("{method} {path}");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no id"));
        assert!(
            ids.insert(id.to_owned()),
            "{at}: operationId {id} used twice"
        );
        let responses = op["responses"].as_object().expect("responses");
        let has = |s: &str| responses.contains_key(s);
        // Path parameters are exactly the template's; nothing else is `in: path`.
        let mut in_path: Vec<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let mut templated: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        in_path.sort();
        templated.sort();
        assert_eq!(in_path, templated, "{at}: path parameters");
        let access = croupier_api::rbac::access(&method.parse().unwrap(), path);
        assert_eq!(
            op["security"].is_array(),
            access > Access::Anyone,
            "{at}: security"
        );
        assert_eq!(
            has("401"),
            access > Access::Anyone
                || matches!(path.as_str(), "/v1/auth/login" | "/v1/auth/session"),
            "{at}: 401"
        );
        if access > Access::Player {
            assert!(has("403"), "{at}: 403");
            assert_eq!(
                op["x-required-role"],
                access.as_str(),
                "{at}: x-required-role"
            );
        }
        if op["requestBody"].is_object() {
            for s in ["400", "413", "415"] {
                assert!(has(s), "{at}: {s} for a body");
            }
        }
        for s in ["429", "503"] {
            assert!(has(s), "{at}: {s}");
        }
        let idempotent = croupier_api::openapi::honours_idempotency_key(method, path);
        let key = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "Idempotency-Key");
        assert_eq!(key.is_some(), idempotent, "{at}: Idempotency-Key");
        if let Some(key) = key {
            assert_eq!(key["in"], "header");
            assert_eq!(key["schema"]["minLength"], 1);
            assert_eq!(key["schema"]["maxLength"], 255);
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// The document passes `openapi-spec-validator` (PyPI), the validator
/// client generators trust. CI installs it (`.ci/contract/requirements.txt`);
/// elsewhere the test says it skipped, unless `CROUPIER_TEST_REQUIRE_BACKENDS`
/// demands it.
#[tokio::test]
async fn openapi_document_passes_openapi_spec_validator() {
    let app = spawn().await;
    let doc = document(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = match std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .ok()
        .filter(|o| !String::from_utf8_lossy(&o.stderr).contains("No module named"))
        .ok_or("python3 -m openapi_spec_validator is not available")
    {
        Ok(out) => out,
        Err(e) => {
            if std::env::var_os("CROUPIER_TEST_REQUIRE_BACKENDS").is_some() {
                panic!("{e}: pip install -r .ci/contract/requirements.txt");
            }
            eprintln!("skipped: {e}");
            return;
        }
    };
    assert!(
        out.status.success(),
        "invalid document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A request to `path` with its parameters filled by harmless values.
fn concrete(path: &str, target: &str) -> String {
    path.replace("{currency}", "CHIP")
        .replace("{game}", "dice")
        .replace("{round_id}", "no-such-round")
        .replace("{bet_id}", "no-such-bet")
        .replace("{player_id}", target)
        .replace("{id}", "1")
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_rbac_table_says() {
    let app = spawn().await;
    let (target, _) = app.player("target").await;
    app.user_with_role("support", Role::Support).await;
    app.user_with_role("admin", Role::Admin).await;
    let roles: [(&str, Option<&str>, &[Role]); 4] = [
        ("anonymous", None, &[]),
        ("player", Some("target"), &[Role::Player]),
        ("support", Some("support"), &[Role::Support]),
        ("admin", Some("admin"), &[Role::Admin]),
    ];
    for (role, user, held) in roles {
        for (method, path, access) in ROUTES {
            // A fresh session each time: logout routes revoke the token.
            let token = match user {
                Some(u) => Some(
                    app.login(u, PASSWORD).await.body["token"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                ),
                None => None,
            };
            let mut req = app
                .request(method.parse().unwrap(), &concrete(path, &target))
                // One key for every request of a role: were the key checked
                // before the role, a refused route would answer 422 (reused).
                .header("Idempotency-Key", format!("matrix-{role}"));
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            if *method != "GET" && *method != "DELETE" {
                req = req.json(&json!({}));
            }
            let r = app.send(req).await;
            let at = format!("{role} {method} {path}");
            let expected = if *access > Access::Anyone && token.is_none() {
                Some(StatusCode::UNAUTHORIZED)
            } else if !access.granted_to(held) {
                Some(StatusCode::FORBIDDEN)
            } else {
                None
            };
            match expected {
                Some(s) => assert_eq!(r.status, s, "{at}: {:?}", r.body),
                None => assert!(
                    !matches!(r.status.as_u16(), 401 | 403),
                    "{at} was refused: {:?}",
                    r.body
                ),
            }
        }
    }
}

#[tokio::test]
async fn support_reads_operator_views_but_changes_nothing() {
    let app = spawn().await;
    let (player, _) = app.player("target").await;
    let (_, support) = app.user_with_role("helpdesk", Role::Support).await;
    for path in [
        "/v1/admin/ledger/audit",
        "/v1/admin/dead-letters",
        "/v1/admin/missions",
    ] {
        let r = app.get(path, &support).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
    let r = app.adjust(&support, &player, 100, None).await;
    assert_problem(&r, 403, "forbidden");
}

#[tokio::test]
async fn unauthorized_names_the_bearer_scheme_and_two_authorization_headers_are_refused() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let r = app.call(Method::GET, "/v1/me", None, None, None).await;
    assert_problem(&r, 401, "unauthorized");
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "{challenge:?}"
    );
    let r = app
        .send(
            app.request(Method::GET, "/v1/me")
                .header("authorization", format!("Bearer {token}"))
                .header("authorization", format!("Bearer {}", "0".repeat(64))),
        )
        .await;
    assert_problem(&r, 400, "duplicate_authorization");
}

#[tokio::test]
async fn usernames_need_a_letter_or_digit_first_and_passwords_more_than_spaces() {
    let app = spawn().await;
    for name in ["...", "---", "_ab", ".alice"] {
        let r = app.register(name).await;
        assert_problem(&r, 422, "invalid_username");
    }
    let r = app
        .post(
            "/v1/auth/register",
            None,
            json!({ "username": "bob", "password": " ".repeat(8) }),
        )
        .await;
    assert_problem(&r, 422, "invalid_password");
    assert_eq!(app.register("a.b").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_logins() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let change = |current: &'static str| {
        app.call(
            Method::POST,
            "/v1/auth/password",
            Some(&token),
            None,
            Some(json!({ "current_password": current, "new_password": "a brand new passphrase" })),
        )
    };
    let quota = app.config.auth.login_failures_per_account_ip;
    for _ in 0..quota {
        assert_problem(&change("not my password").await, 422, "wrong_password");
    }
    // Now even the right one waits: guessing is over for this window.
    let r = change(PASSWORD).await;
    assert_problem(&r, 429, "too_many_attempts");
    assert!(r.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn the_same_json_with_other_spacing_or_key_order_is_a_replay() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let send = |body: &'static str| {
        app.send(
            app.request(Method::POST, "/v1/fairness/seeds/rotate")
                .bearer_auth(&token)
                .header("Idempotency-Key", "rotate-1")
                .header("content-type", "application/json")
                .body(body),
        )
    };
    let first = send(r#"{"client_seed":"lucky"}"#).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let again = send("{ \"client_seed\" :  \"lucky\" }\n").await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.body, first.body);
    let other = send(r#"{"client_seed":"other"}"#).await;
    assert_problem(&other, 422, "idempotency_key_reused");
}

#[tokio::test]
async fn mines_tiles_out_of_range_get_one_answer_and_errors_speak_json() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    assert_eq!(
        app.call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(&token),
            None,
            None
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let open = app
        .post(
            "/v1/games/mines/rounds",
            Some(&token),
            json!({ "currency": "CHIP", "stake": 10, "mines": 3 }),
        )
        .await;
    assert_eq!(open.status, StatusCode::CREATED, "{:?}", open.body);
    let reveal = format!(
        "/v1/games/mines/rounds/{}/reveal",
        open.body["round_id"].as_str().unwrap()
    );
    for tile in [-1, 25, 1000] {
        let r = app
            .post(&reveal, Some(&token), json!({ "tile": tile }))
            .await;
        assert_problem(&r, 422, "invalid_tile");
        assert_eq!(r.body["field"], "tile");
    }
    for body in [json!({ "tile": "x" }), json!([])] {
        let r = app.post(&reveal, Some(&token), body).await;
        let detail = r.body["detail"].as_str().unwrap_or("");
        for rust in ["u8", "i64", "struct", "Reveal"] {
            assert!(!detail.contains(rust), "{detail}");
        }
    }
    let rotate = app
        .post("/v1/fairness/seeds/rotate", Some(&token), json!([1]))
        .await;
    assert!(
        !rotate.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("RotateRequest"),
        "{:?}",
        rotate.body
    );
}

#[tokio::test]
async fn dead_letters_of_an_unknown_consumer_are_a_422_not_an_empty_page() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let r = app
        .get("/v1/admin/dead-letters?consumer=nosuch", &admin)
        .await;
    assert_problem(&r, 422, "unknown_consumer");
    assert_eq!(r.body["field"], "consumer");
    let r = app
        .get("/v1/admin/dead-letters?consumer=stats", &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn admins_cannot_credit_themselves_or_block_other_admins() {
    let app = spawn().await;
    let (me, admin) = app.user_with_role("root", Role::Admin).await;
    let (other, _) = app.user_with_role("root2", Role::Admin).await;
    let (helpdesk, _) = app.user_with_role("helpdesk", Role::Support).await;
    let r = app.adjust(&admin, &me, 1_000, None).await;
    assert_problem(&r, 422, "cannot_adjust_self");
    let block = |id: String| {
        app.send(
            app.request(Method::PUT, &format!("/v1/admin/players/{id}/block"))
                .bearer_auth(&admin)
                .json(&json!({ "reason": "test" })),
        )
    };
    assert_problem(&block(other).await, 422, "cannot_block_admin");
    let r = block(helpdesk).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "support accounts can be blocked: {:?}",
        r.body
    );
}

#[tokio::test]
async fn every_line_of_a_wallet_history_has_its_own_id() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    assert_eq!(
        app.call(
            Method::POST,
            "/v1/wallets/CHIP/claims",
            Some(&token),
            None,
            None
        )
        .await
        .status,
        StatusCode::CREATED
    );
    // A bet that almost surely pays writes a stake line and a payout line.
    let mut paid = false;
    for _ in 0..20 {
        let bet = app
            .post(
                "/v1/games/dice/bets",
                Some(&token),
                json!({ "currency": "CHIP", "stake": 100, "params": { "target": 2.0, "direction": "over" } }),
            )
            .await;
        assert_eq!(bet.status, StatusCode::CREATED, "{:?}", bet.body);
        if bet.body["payout"].as_i64().unwrap() > 0 {
            paid = true;
            break;
        }
    }
    assert!(paid, "no winning bet in 20 at 98 %");
    let items = app.all_transactions(&token, "CHIP", 100).await;
    let ids: BTreeSet<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), items.len(), "ids repeat: {items:?}");
    let paid_out = items
        .iter()
        .find(|i| i["kind"] == "bet" && i["amount"].as_i64().unwrap() > 0);
    let paid_out = paid_out.expect("a payout line");
    let lines_of_that_bet = items
        .iter()
        .filter(|i| i["transaction_id"] == paid_out["transaction_id"])
        .count();
    assert_eq!(
        lines_of_that_bet, 2,
        "stake and payout share their transaction: {items:?}"
    );
}

#[tokio::test]
async fn revealed_seeds_page_past_any_count() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let mut revealed = Vec::new();
    for _ in 0..4 {
        let r = app
            .post("/v1/fairness/seeds/rotate", Some(&token), json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if let Some(seed) = r.body["revealed"]["server_seed"].as_str() {
            revealed.push(seed.to_owned());
        }
    }
    revealed.reverse();
    let mut seen = Vec::new();
    let mut path = "/v1/fairness/seeds?limit=2".to_owned();
    loop {
        let page = app.get(&path, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        let items = page.body["previous"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|p| p["server_seed"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/fairness/seeds?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, revealed, "every revealed seed once, newest first");
    let bad = app.get("/v1/fairness/seeds?cursor=x", &token).await;
    assert_problem(&bad, 422, "invalid_cursor");
}

#[tokio::test]
async fn currencies_say_what_amounts_mean() {
    let app = spawn().await;
    let r = app
        .call(Method::GET, "/v1/currencies", None, None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!([{ "code": "CHIP", "exponent": 2, "faucet_amount": 100_000,
                 "claim_period_secs": app.config.faucet.period_secs }])
    );
}

#[tokio::test]
async fn a_mines_round_reads_as_its_stake_and_its_payout() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    app.call(
        Method::POST,
        "/v1/wallets/CHIP/claims",
        Some(&token),
        None,
        None,
    )
    .await;
    let rounds = "/v1/games/mines/rounds";
    // One mine in 25: a safe first tile within ten rounds is all but certain.
    let mut cashed = None;
    for _ in 0..10 {
        let open = app
            .post(
                rounds,
                Some(&token),
                json!({ "currency": "CHIP", "stake": 100, "mines": 1 }),
            )
            .await;
        assert_eq!(open.status, StatusCode::CREATED, "{:?}", open.body);
        let id = open.body["round_id"].as_str().unwrap().to_owned();
        let r = app
            .post(
                &format!("{rounds}/{id}/reveal"),
                Some(&token),
                json!({ "tile": 0 }),
            )
            .await;
        if r.body["state"] == "open" {
            let out = app
                .post(&format!("{rounds}/{id}/cashout"), Some(&token), json!({}))
                .await;
            assert_eq!(out.status, StatusCode::OK, "{:?}", out.body);
            cashed = Some(id);
            break;
        }
    }
    let id = cashed.expect("a safe tile in ten rounds");
    let items = app.all_transactions(&token, "CHIP", 100).await;
    let kinds: Vec<&str> = items
        .iter()
        .filter(|i| i["reference"] == id.as_str())
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mines_payout", "mines_stake"], "{items:?}");
}
