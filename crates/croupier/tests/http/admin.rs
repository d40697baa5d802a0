//! Admin adjustments of players' money (credits, debits, validation, the
//! balance ceiling), who may make them, and the ledger audit.

use crate::helpers::*;
use croupier_core::{CurrencyCode, Role};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn admin_adjustments_credit_and_debit_but_never_below_zero() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let r = app.adjust(&admin, &id, 5_000, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let txn = r.body["transaction_id"].as_i64().expect("transaction_id");
    assert_eq!(
        r.body,
        json!({ "transaction_id": txn, "player_id": id, "currency": "CHIP", "amount": 5_000, "balance": 5_000 })
    );
    let r = app.adjust(&admin, &id, -2_000, None).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["balance"], 3_000);
    assert_eq!(r.body["amount"], -2_000);

    let r = app.adjust(&admin, &id, -3_001, None).await;
    assert_problem(&r, 422, "insufficient_funds");
    assert_eq!(app.balance(&token, "CHIP").await, 3_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 2);

    let r = app.adjust(&admin, &id, -3_000, None).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "down to exactly zero is fine"
    );
    assert_eq!(r.body["balance"], 0);
    assert_problem(
        &app.adjust(&admin, &id, -1, None).await,
        422,
        "insufficient_funds",
    );
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 3);
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    // The refused debits left no ledger rows behind.
    assert_eq!(audit["currencies"][0]["transactions"], 3, "{audit:?}");
    assert_eq!(audit["currencies"][0]["postings"], 6, "{audit:?}");
}

#[tokio::test]
async fn admin_adjustment_validates_amount_currency_and_reason() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let path = adjustments_path(&id);
    let post = |body: Value| app.post(&path, Some(&admin), body);
    for amount in [
        json!(0),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(-i64::MAX),
        json!(1_000_000_000_000_001i64),
    ] {
        let r = post(json!({ "currency": "CHIP", "amount": amount, "reason": "x" })).await;
        assert_field(&r, 422, "invalid_amount", "amount");
    }
    for cur in ["NOPE", "chip", ""] {
        let r = post(json!({ "currency": cur, "amount": 10, "reason": "x" })).await;
        assert_field(&r, 422, "unknown_currency", "currency");
    }
    for reason in ["".to_owned(), "   ".to_owned(), "r".repeat(501)] {
        let r = post(json!({ "currency": "CHIP", "amount": 10, "reason": reason })).await;
        assert_field(&r, 422, "invalid_reason", "reason");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    assert!(app.all_transactions(&token, "CHIP", 50).await.is_empty());
    // The largest allowed magnitude is accepted.
    let r = post(json!({ "currency": "CHIP", "amount": 1_000_000_000_000_000i64, "reason": "x" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn admin_adjustment_of_an_unknown_player_is_404() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    for id in [
        "0190f1d5-1c4e-7000-8000-000000000000",
        "not-a-uuid",
        "42",
        "%20",
    ] {
        let r = app.adjust(&admin, id, 10, None).await;
        assert_problem(&r, 404, "player_not_found");
    }
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true);
    assert_eq!(audit["currencies"], json!([]), "no money moved: {audit:?}");
}

#[tokio::test]
async fn admin_changes_are_forbidden_to_players_and_support() {
    let app = spawn().await;
    let (id, player) = app.player("alice").await;
    let (_, support) = app.user_with_role("helpdesk", Role::Support).await;
    let me = app.get("/v1/me", &support).await;
    assert_eq!(me.body["roles"], json!(["support"]));
    for token in [&player, &support] {
        assert_problem(&app.adjust(token, &id, 100, None).await, 403, "forbidden");
        assert_problem(
            &app.adjust(token, &id, 100, Some("k")).await,
            403,
            "forbidden",
        );
    }
    // Reading the operator views is support's job, not a player's.
    assert_problem(
        &app.get("/v1/admin/ledger/audit", &player).await,
        403,
        "forbidden",
    );
    assert_eq!(
        app.get("/v1/admin/ledger/audit", &support).await.status,
        StatusCode::OK
    );
    assert_eq!(app.balance(&player, "CHIP").await, 0);
}

#[tokio::test]
async fn ledger_audit_balances_postings_and_wallets() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (a_id, a) = app.player("alice").await;
    let (_, b) = app.player("bob").await;
    assert_eq!(claim(&app, &a, None).await.status, StatusCode::CREATED);
    assert_eq!(claim(&app, &b, None).await.status, StatusCode::CREATED);
    assert_eq!(
        app.adjust(&admin, &a_id, -40_000, None).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.adjust(&admin, &a_id, 1_234, None).await.status,
        StatusCode::CREATED
    );
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    assert_eq!(audit["problems"], json!([]));
    let currencies = audit["currencies"].as_array().unwrap();
    assert_eq!(currencies.len(), 1, "{audit:?}");
    let chip = &currencies[0];
    assert_eq!(chip["currency"], "CHIP");
    assert_eq!(chip["postings_sum"], 0);
    let total = app.balance(&a, "CHIP").await + app.balance(&b, "CHIP").await;
    assert_eq!(total, 100_000 - 40_000 + 1_234 + 100_000);
    assert_eq!(chip["wallets_total"], total);
}

/// A wallet stops at MAX_BALANCE: a maximal adjustment past it is a 422
/// `balance_limit` (no `field`: for a bet it would be the payout) and moves
/// nothing. Full wallets together hold more than i64::MAX, and the audit
/// still answers, exactly (it used to overflow: a 500 for good).
#[tokio::test]
async fn adjustments_stop_at_the_balance_ceiling_and_the_audit_stays_exact() {
    use croupier_api::routes::admin::MAX_ADJUSTMENT;
    use croupier_core::{AdjustCommand, NewPlayer, PlayerId, MAX_BALANCE};
    let app = spawn().await;
    let (admin_id, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    // ~100 maximal adjustments per full wallet: through the store, not HTTP.
    let store = &app.running.state.store;
    let fill = |player_id: PlayerId, amount: i64| AdjustCommand {
        player_id,
        currency: CurrencyCode::parse("CHIP").unwrap(),
        amount,
        reason: "fill".into(),
        actor: admin_id.parse().unwrap(),
        now: croupier_core::now(),
    };
    let alice: PlayerId = id.parse().unwrap();
    store
        .adjust(fill(alice, MAX_BALANCE - MAX_ADJUSTMENT))
        .await
        .unwrap();
    let last = app.adjust(&admin, &id, MAX_ADJUSTMENT, None).await;
    assert_eq!(last.status, StatusCode::CREATED, "{:?}", last.body);
    let r = app.adjust(&admin, &id, MAX_ADJUSTMENT, None).await;
    assert_problem(&r, 422, "balance_limit");
    assert_eq!(r.body["title"], "The balance would exceed its ceiling");
    assert!(r.body.get("field").is_none(), "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(&MAX_BALANCE.to_string()), "{detail}");
    assert_eq!(app.balance(&token, "CHIP").await, MAX_BALANCE);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 2);

    // 93 full wallets: 9.3·10^18 > i64::MAX.
    for i in 0..92 {
        let p = store
            .create_player(NewPlayer {
                id: PlayerId::new(),
                username: format!("whale{i}"),
                password_hash: "x".into(),
                roles: vec![Role::Player],
                created_at: croupier_core::now(),
            })
            .await
            .unwrap();
        store.adjust(fill(p.id, MAX_BALANCE)).await.unwrap();
    }
    let audit = app.audit(&admin).await;
    assert_eq!(audit["ok"], true, "{audit:?}");
    let chip = &audit["currencies"][0];
    assert_eq!(chip["postings_sum"], 0);
    assert_eq!(chip["wallets_total"], json!(93 * MAX_BALANCE as u64));
}
