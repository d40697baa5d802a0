//! Idempotency-Key: replays, reuse with another body, scoping per player,
//! concurrent duplicates with one effect, and racing retries against the ledger.

use crate::helpers::*;
use croupier_core::Role;
use futures::future::join_all;
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[tokio::test]
async fn claim_replay_returns_the_stored_response_and_changes_nothing() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let first = claim(&app, &token, Some("claim-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!replayed(&first));
    for _ in 0..2 {
        let again = claim(&app, &token, Some("claim-1")).await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert_eq!(again.body, first.body);
        assert!(replayed(&again), "{:?}", again.headers);
        assert!(again.content_type().starts_with("application/json"));
    }
    assert_eq!(app.balance(&token, "CHIP").await, 100_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);
    // A different key is a new request (and the bonus is not ready yet).
    assert_problem(
        &claim(&app, &token, Some("claim-2")).await,
        429,
        "claim_not_ready",
    );
}

#[tokio::test]
async fn adjustment_replay_and_key_reuse_with_another_body() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let first = app.adjust(&admin, &id, 700, Some("adj-1")).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.adjust(&admin, &id, 700, Some("adj-1")).await;
    assert_eq!(
        (again.status, &again.body),
        (StatusCode::CREATED, &first.body)
    );
    assert!(replayed(&again));

    let other = app.adjust(&admin, &id, 800, Some("adj-1")).await;
    assert_field(&other, 422, "idempotency_key_reused", "Idempotency-Key");
    assert_eq!(app.balance(&token, "CHIP").await, 700);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);

    // Stored failures replay too, without effect.
    let fail = app.adjust(&admin, &id, -10_000, Some("adj-2")).await;
    assert_problem(&fail, 422, "insufficient_funds");
    let fail2 = app.adjust(&admin, &id, -10_000, Some("adj-2")).await;
    assert_problem(&fail2, 422, "insufficient_funds");
    assert_eq!(fail2.body, fail.body);
    assert_eq!(app.balance(&token, "CHIP").await, 700);
}

#[tokio::test]
async fn idempotency_keys_are_scoped_per_player() {
    let app = spawn().await;
    let (_, a) = app.player("alice").await;
    let (_, b) = app.player("bob").await;
    let ra = claim(&app, &a, Some("shared-key")).await;
    let rb = claim(&app, &b, Some("shared-key")).await;
    for r in [&ra, &rb] {
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert!(!replayed(r));
    }
    assert_eq!(app.balance(&a, "CHIP").await, 100_000);
    assert_eq!(app.balance(&b, "CHIP").await, 100_000);
    // Within one player's scope, the key is bound to its first request.
    let pw = app
        .call(
            Method::POST,
            "/v1/auth/password",
            Some(&b),
            Some("shared-key"),
            Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_problem(&pw, 422, "idempotency_key_reused");
    let pw = app
        .call(
            Method::POST,
            "/v1/auth/password",
            Some(&b),
            Some("bob-pw"),
            Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_eq!(pw.status, StatusCode::NO_CONTENT, "{:?}", pw.body);
    let replay = app
        .call(
            Method::POST,
            "/v1/auth/password",
            Some(&b),
            Some("bob-pw"),
            Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_eq!(replay.status, StatusCode::NO_CONTENT);
    assert!(replayed(&replay));
    assert_eq!(app.login("bob", NEW_PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn idempotency_key_must_be_1_to_255_characters() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    for key in ["k".repeat(256), String::new()] {
        let r = claim(&app, &token, Some(&key)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "len {}: {:?}",
            key.len(),
            r.body
        );
        assert!(r.content_type().starts_with(PROBLEM_JSON));
    }
    let r = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some(&"k".repeat(256)),
            Some(json!({ "username": "bob", "password": PASSWORD })),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    let r = claim(&app, &token, Some(&"k".repeat(255))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // bob was not registered by the rejected request.
    assert_eq!(app.register("bob").await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn register_replay_creates_one_player() {
    let app = spawn().await;
    let body = json!({ "username": "alice", "password": PASSWORD });
    let first = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some("reg-1"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let again = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some("reg-1"),
            Some(body),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert!(replayed(&again));
    let login = app.login("alice", PASSWORD).await;
    let me = app
        .get("/v1/me", login.body["token"].as_str().unwrap())
        .await;
    assert_eq!(me.body["player_id"], first.body["player_id"]);
    assert_problem(&app.register("alice").await, 409, "username_taken");
    // The same key with another body is a reuse.
    let other = app
        .call(
            Method::POST,
            "/v1/auth/register",
            None,
            Some("reg-1"),
            Some(json!({ "username": "bob", "password": PASSWORD })),
        )
        .await;
    assert_problem(&other, 422, "idempotency_key_reused");
    assert_eq!(app.register("bob").await.status, StatusCode::CREATED);
}

/// Fires `n` identical requests at once; returns the responses.
async fn fire<F, Fut>(n: usize, f: F) -> Vec<Resp>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Resp>,
{
    join_all((0..n).map(|_| f())).await
}

/// Exactly one effect: one original 201, the rest replays of it or 409 in progress.
#[track_caller]
fn assert_one_effect(results: &[Resp]) -> Value {
    let created: Vec<&Resp> = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty(), "{results:?}");
    assert_eq!(
        created.iter().filter(|r| !replayed(r)).count(),
        1,
        "{results:?}"
    );
    for r in &created {
        assert_eq!(r.body, created[0].body);
    }
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_problem(r, 409, "idempotency_in_progress");
        assert!(retry_after(r) >= 1);
    }
    created[0].body.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_with_one_key_have_one_effect() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let results = fire(20, || claim(&app, &token, Some("same"))).await;
    let body = assert_one_effect(&results);
    assert_eq!(body["balance"], 100_000);
    assert_eq!(app.balance(&token, "CHIP").await, 100_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adjustments_with_one_key_have_one_effect() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let results = fire(20, || app.adjust(&admin, &id, 321, Some("same"))).await;
    let body = assert_one_effect(&results);
    assert_eq!(body["balance"], 321);
    assert_eq!(app.balance(&token, "CHIP").await, 321);
    let items = app.all_transactions(&token, "CHIP", 50).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["transaction_id"], body["transaction_id"]);
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_without_keys_pay_the_bonus_once() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let results = fire(20, || claim(&app, &token, None)).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_problem(r, 429, "claim_not_ready");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 100_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_name_create_one_player() {
    let app = spawn().await;
    let names = [
        "carol", "Carol", "CAROL", "carol", "cArOl", "carol", "CaRoL", "carol",
    ];
    let results = join_all(names.iter().map(|n| app.register(n))).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_problem(r, 409, "username_taken");
    }
    assert_eq!(app.login("carol", PASSWORD).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------- property: racing effects

#[derive(Clone, Debug)]
enum Op {
    Claim,
    Adjust(i64),
}

/// One logical request: sent once, then retried with the same key after each delay.
#[derive(Clone, Debug)]
struct Planned {
    op: Op,
    retry_delays_ms: Vec<u64>,
}

fn planned() -> impl Strategy<Value = Planned> {
    let op = prop_oneof![
        1 => Just(Op::Claim),
        2 => (1i64..=150_000).prop_map(Op::Adjust),
        2 => (1i64..=150_000).prop_map(|a| Op::Adjust(-a)),
    ];
    // A delay of 0 makes the retry concurrent with the original.
    let delay = prop_oneof![Just(0u64), 1u64..30];
    (op, prop::collection::vec(delay, 2..=3)).prop_map(|(op, retry_delays_ms)| Planned {
        op,
        retry_delays_ms,
    })
}

async fn run_mix(plan: Vec<Planned>) {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;

    let attempts = plan.iter().enumerate().flat_map(|(i, p)| {
        std::iter::once(0)
            .chain(p.retry_delays_ms.iter().copied())
            .map({
                let (app, admin, id, token) = (&app, &admin, &id, &token);
                move |delay| async move {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    let key = format!("op-{i}");
                    let r = match p.op {
                        Op::Claim => claim(app, token, Some(&key)).await,
                        Op::Adjust(amount) => app.adjust(admin, id, amount, Some(&key)).await,
                    };
                    (i, r)
                }
            })
    });
    let done = AtomicBool::new(false);
    let run = async {
        let results = join_all(attempts).await;
        done.store(true, Ordering::SeqCst);
        results
    };
    let watch = async {
        let mut seen = Vec::new();
        while !done.load(Ordering::SeqCst) {
            seen.push(app.balance(&token, "CHIP").await);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        seen
    };
    let (results, seen) = tokio::join!(run, watch);
    assert!(
        seen.iter().all(|b| *b >= 0),
        "negative balance observed: {seen:?}"
    );

    let mut by_key: BTreeMap<usize, Vec<Resp>> = BTreeMap::new();
    for (i, r) in results {
        by_key.entry(i).or_default().push(r);
    }
    let mut expected_balance = 0i64;
    let mut effects: BTreeMap<usize, (i64, Value)> = BTreeMap::new();
    for (i, p) in plan.iter().enumerate() {
        let resps = &by_key[&i];
        assert_eq!(resps.len(), 1 + p.retry_delays_ms.len());
        let answers: Vec<&Resp> = resps
            .iter()
            .filter(|r| r.status != StatusCode::CONFLICT)
            .collect();
        for r in resps.iter().filter(|r| r.status == StatusCode::CONFLICT) {
            assert_problem(r, 409, "idempotency_in_progress");
        }
        assert!(!answers.is_empty(), "op {i} {p:?}: only 409s: {resps:?}");
        let created: Vec<&&Resp> = answers
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .collect();
        if created.is_empty() {
            for r in &answers {
                match p.op {
                    Op::Claim => assert_problem(r, 429, "claim_not_ready"),
                    Op::Adjust(a) => {
                        assert!(a < 0, "credit {a} failed: {:?}", r.body);
                        assert_problem(r, 422, "insufficient_funds");
                    }
                }
            }
            continue;
        }
        // One effect: every answer is the stored 201, only one of them original.
        assert_eq!(
            created.len(),
            answers.len(),
            "op {i} {p:?}: mixed answers {resps:?}"
        );
        assert_eq!(
            created.iter().filter(|r| !replayed(r)).count(),
            1,
            "op {i}: {resps:?}"
        );
        for r in &created {
            assert_eq!(r.body, created[0].body, "op {i}: replay differs");
            assert!(r.body["balance"].as_i64().unwrap() >= 0);
        }
        let amount = match p.op {
            Op::Claim => 100_000,
            Op::Adjust(a) => a,
        };
        assert_eq!(created[0].body["amount"], amount);
        expected_balance += amount;
        effects.insert(i, (amount, created[0].body.clone()));
    }
    let claims_planned = plan.iter().any(|p| matches!(p.op, Op::Claim));
    let claims_ok = effects
        .keys()
        .filter(|i| matches!(plan[**i].op, Op::Claim))
        .count();
    assert_eq!(
        claims_ok,
        usize::from(claims_planned),
        "exactly one bonus per period"
    );

    let balance = app.balance(&token, "CHIP").await;
    assert_eq!(
        balance, expected_balance,
        "balance = Σ distinct successful effects"
    );
    assert!(balance >= 0);

    let items = app.all_transactions(&token, "CHIP", 7).await;
    assert_eq!(
        items.len(),
        effects.len(),
        "one ledger entry per successful key"
    );
    // Oldest first, each balance_after follows from the previous one.
    let mut running = 0i64;
    for item in items.iter().rev() {
        running += item["amount"].as_i64().unwrap();
        assert_eq!(
            item["balance_after"].as_i64().unwrap(),
            running,
            "{items:?}"
        );
        assert!(running >= 0);
    }
    assert_eq!(running, balance);
    for (i, (_, body)) in &effects {
        let entry = match plan[*i].op {
            Op::Adjust(_) => items
                .iter()
                .find(|t| t["transaction_id"] == body["transaction_id"])
                .unwrap_or_else(|| {
                    panic!("op {i}: transaction {} not listed", body["transaction_id"])
                }),
            Op::Claim => items
                .iter()
                .find(|t| t["kind"] == "faucet_claim")
                .expect("claim listed"),
        };
        assert_eq!(entry["amount"], body["amount"]);
        assert_eq!(entry["balance_after"], body["balance"], "op {i}");
    }

    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    assert_eq!(audit["problems"], json!([]));
    let total = balance + app.balance(&admin, "CHIP").await;
    for cur in audit["currencies"].as_array().unwrap() {
        assert_eq!(cur["currency"], "CHIP");
        assert_eq!(cur["postings_sum"], 0, "{audit:?}");
        assert_eq!(cur["wallets_total"], total, "{audit:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 8,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn racing_claims_and_adjustments_with_retries_keep_the_ledger_consistent(
        plan in prop::collection::vec(planned(), 8..24)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run_mix(plan));
    }
}

#[tokio::test]
async fn logout_replays_its_answer_although_the_token_is_revoked() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let first = app
        .call(
            Method::POST,
            "/v1/auth/logout",
            Some(&token),
            Some("bye"),
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v1/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let replay = app
        .call(
            Method::POST,
            "/v1/auth/logout",
            Some(&token),
            Some("bye"),
            None,
        )
        .await;
    assert_eq!(replay.status, StatusCode::NO_CONTENT, "{:?}", replay.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    // The same key on the other logout route is a different request.
    let other = app
        .call(
            Method::POST,
            "/v1/auth/logout-all",
            Some(&token),
            Some("bye"),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.code(), "idempotency_key_reused");
    // Without a key a revoked token is simply refused.
    let plain = app
        .call(Method::POST, "/v1/auth/logout", Some(&token), None, None)
        .await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
    // Keys on logout are validated like everywhere else.
    let (_, fresh) = app.player("bob").await;
    let long = "k".repeat(256);
    let r = app
        .call(
            Method::POST,
            "/v1/auth/logout",
            Some(&fresh),
            Some(&long),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
