//! Wallets: balances per currency, the faucet claim and its period, and the
//! transaction history (its fields, pages and cursors, each player's own only).

use crate::helpers::*;
use chrono::Utc;
use croupier_api::config::CurrencyConfig;
use croupier_core::{Clock, CurrencyCode, Role};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;

#[tokio::test]
async fn wallets_list_every_configured_currency_with_zero_by_default() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let r = app.get("/v1/wallets", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!([{ "currency": "CHIP", "balance": 0 }]));

    let app = spawn_with(|c| {
        c.currencies.push(CurrencyConfig {
            code: CurrencyCode::parse("GOLD").unwrap(),
            exponent: 0,
            faucet_amount: 5,
        })
    })
    .await;
    let (_, token) = app.player("alice").await;
    let r = app.get("/v1/wallets", &token).await;
    assert_eq!(
        r.body,
        json!([{ "currency": "CHIP", "balance": 0 }, { "currency": "GOLD", "balance": 0 }])
    );
    let c = app
        .call(
            Method::POST,
            "/v1/wallets/GOLD/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    assert_eq!(c.body["amount"], 5);
    let r = app.get("/v1/wallets", &token).await;
    assert_eq!(
        r.body,
        json!([{ "currency": "CHIP", "balance": 0 }, { "currency": "GOLD", "balance": 5 }])
    );
    // The currencies' claims are independent.
    assert_eq!(claim(&app, &token, None).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn claim_credits_the_bonus_once_per_period() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let before = Utc::now();
    let r = claim(&app, &token, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["amount"], 100_000);
    assert_eq!(r.body["balance"], 100_000);
    assert_eq!(r.body.as_object().unwrap().len(), 3, "{:?}", r.body);
    let next = timestamp(&r.body["next_claim_at"]);
    let hour = chrono::Duration::seconds(3600);
    assert!(
        next >= before + hour - chrono::Duration::seconds(1) && next <= Utc::now() + hour,
        "{next}"
    );

    let again = claim(&app, &token, None).await;
    assert_problem(&again, 429, "claim_not_ready");
    assert_eq!(timestamp(&again.body["next_claim_at"]), next);
    let wait = retry_after(&again);
    assert!((3590..=3600).contains(&wait), "Retry-After {wait}");
    assert_eq!(app.balance(&token, "CHIP").await, 100_000);
    assert_eq!(app.all_transactions(&token, "CHIP", 50).await.len(), 1);
}

#[tokio::test]
async fn claim_in_an_unknown_currency_is_404() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    for cur in ["GOLD", "chip", "NOPE"] {
        let r = app
            .call(
                Method::POST,
                &format!("/v1/wallets/{cur}/claims"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_problem(&r, 404, "unknown_currency");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn claim_is_available_again_after_the_period() {
    let clock = Clock::manual(croupier_core::now());
    let app = spawn_on(clock.clone(), |c| c.faucet.period_secs = 60).await;
    let (_, token) = app.player("alice").await;
    let first = claim(&app, &token, None).await;
    assert_eq!(first.status, StatusCode::CREATED);
    clock.advance(chrono::Duration::seconds(58));
    let early = claim(&app, &token, None).await;
    assert_problem(&early, 429, "claim_not_ready");
    assert_eq!(retry_after(&early), 2, "counted on the app's clock");
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(retry_after(&claim(&app, &token, None).await), 1);
    clock.advance(chrono::Duration::seconds(1));
    let second = claim(&app, &token, None).await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    assert_eq!(second.body["balance"], 200_000);
    assert_eq!(app.balance(&token, "CHIP").await, 200_000);
}

#[tokio::test]
async fn transactions_list_the_documented_fields_newest_first() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let before = Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(claim(&app, &token, None).await.status, StatusCode::CREATED);
    let adj = app.adjust(&admin, &id, -2_500, None).await;
    assert_eq!(adj.status, StatusCode::CREATED, "{:?}", adj.body);

    let r = app.get("/v1/wallets/CHIP/transactions", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["next_cursor"].is_null(), "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        let keys: BTreeSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "id",
                "transaction_id",
                "kind",
                "amount",
                "balance_after",
                "created_at",
                "reference"
            ])
        );
        let at = timestamp(&item["created_at"]);
        assert!(at >= before && at <= Utc::now(), "{at}");
    }
    assert_eq!(items[0]["transaction_id"], adj.body["transaction_id"]);
    assert_eq!(items[0]["kind"], "admin_adjustment");
    assert_eq!(items[0]["amount"], -2_500);
    assert_eq!(items[0]["balance_after"], 97_500);
    assert_eq!(items[0]["reference"], "test adjustment");
    assert_eq!(items[1]["kind"], "faucet_claim");
    assert_eq!(items[1]["amount"], 100_000);
    assert_eq!(items[1]["balance_after"], 100_000);
    assert!(items[1]["id"].as_i64().unwrap() < items[0]["id"].as_i64().unwrap());
    assert!(
        items[1]["transaction_id"].as_i64().unwrap() < items[0]["transaction_id"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn transactions_paginate_with_limit_and_cursor() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let mut ids = Vec::new();
    for amount in 1..=5 {
        let r = app.adjust(&admin, &id, amount, None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        ids.push(r.body["transaction_id"].as_i64().unwrap());
    }
    ids.reverse();

    // Page by page with limit=2: 2, 2, 1.
    let p1 = app
        .get("/v1/wallets/CHIP/transactions?limit=2", &token)
        .await;
    let c1 = p1.body["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let p2 = app
        .get(
            &format!("/v1/wallets/CHIP/transactions?limit=2&cursor={c1}"),
            &token,
        )
        .await;
    let c2 = p2.body["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let p3 = app
        .get(
            &format!("/v1/wallets/CHIP/transactions?limit=2&cursor={c2}"),
            &token,
        )
        .await;
    assert!(p3.body["next_cursor"].is_null(), "{:?}", p3.body);
    let sizes: Vec<usize> = [&p1, &p2, &p3]
        .iter()
        .map(|p| p.body["items"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [2, 2, 1]);

    let all = app.all_transactions(&token, "CHIP", 2).await;
    let got_ids: Vec<i64> = all
        .iter()
        .map(|i| i["transaction_id"].as_i64().unwrap())
        .collect();
    assert_eq!(got_ids, ids, "newest first, each exactly once");
    let amounts: Vec<i64> = all.iter().map(|i| i["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, [5, 4, 3, 2, 1]);
    let after: Vec<i64> = all
        .iter()
        .map(|i| i["balance_after"].as_i64().unwrap())
        .collect();
    assert_eq!(after, [15, 10, 6, 3, 1]);

    // A limit equal to the count is one page; the default and the maximum work.
    for q in ["?limit=5", "", "?limit=200"] {
        let r = app
            .get(&format!("/v1/wallets/CHIP/transactions{q}"), &token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {:?}", r.body);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 5, "{q}");
        assert!(r.body["next_cursor"].is_null(), "{q}: {:?}", r.body);
    }
    // limit=1 walks all five.
    assert_eq!(app.all_transactions(&token, "CHIP", 1).await, all);
}

#[tokio::test]
async fn transactions_reject_a_bad_limit_or_cursor() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    for limit in ["0", "201", "x", "-1", "", "1.5"] {
        let r = app
            .get(
                &format!("/v1/wallets/CHIP/transactions?limit={limit}"),
                &token,
            )
            .await;
        assert_field(&r, 422, "invalid_limit", "limit");
    }
    for cursor in ["abc", "0", "-5", "", "1e3"] {
        let r = app
            .get(
                &format!("/v1/wallets/CHIP/transactions?cursor={cursor}"),
                &token,
            )
            .await;
        assert_field(&r, 422, "invalid_cursor", "cursor");
    }
    let r = app.get("/v1/wallets/NOPE/transactions", &token).await;
    assert_problem(&r, 404, "unknown_currency");
}

#[tokio::test]
async fn players_only_ever_see_their_own_wallet() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (a_id, a) = app.player("alice").await;
    let (b_id, b) = app.player("bob").await;
    assert_eq!(claim(&app, &a, None).await.status, StatusCode::CREATED);
    for _ in 0..3 {
        assert_eq!(
            app.adjust(&admin, &a_id, 7, None).await.status,
            StatusCode::CREATED
        );
    }
    let a_items = app.all_transactions(&a, "CHIP", 2).await;
    assert_eq!(a_items.len(), 4);
    assert!(app.all_transactions(&b, "CHIP", 2).await.is_empty());
    assert_eq!(app.balance(&b, "CHIP").await, 0);
    // Alice's cursors don't open her wallet to bob.
    let page = app.get("/v1/wallets/CHIP/transactions?limit=1", &a).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let r = app
        .get(
            &format!("/v1/wallets/CHIP/transactions?cursor={cursor}"),
            &b,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["items"], json!([]));
    // Bob can't move alice's money through the admin route either.
    assert_problem(&app.adjust(&b, &a_id, -7, None).await, 403, "forbidden");
    assert_problem(&app.adjust(&b, &b_id, 7, None).await, 403, "forbidden");
    assert_eq!(app.balance(&a, "CHIP").await, 100_021);
    assert_eq!(app.balance(&b, "CHIP").await, 0);
}
