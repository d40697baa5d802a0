//! Requests the API cannot take: malformed JSON, wrong, missing or unknown
//! fields, other content types, unknown routes and methods, undecodable paths.

use crate::helpers::*;
use croupier_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn post_raw(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    ct: Option<&str>,
    body: Vec<u8>,
) -> Resp {
    let mut req = app.request(Method::POST, path).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    app.send(req).await
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let register = json!({ "username": "bob", "password": PASSWORD }).to_string();
    let adjust = json!({ "currency": "CHIP", "amount": 5, "reason": "x" }).to_string();
    let broken = |valid: &str| {
        vec![
            valid[..valid.len() - 1].to_owned(), // truncated
            valid.replacen(':', "", 1),          // missing colon
            valid.replace('"', "'"),             // single quotes
            format!("{valid} trailing"),         // garbage after the object
            format!("{valid}{valid}"),           // two objects
            "not json".to_owned(),
            String::new(),
        ]
    };
    for (i, body) in broken(&register).into_iter().enumerate() {
        let r = post_raw(
            &app,
            "/v1/auth/register",
            None,
            Some("application/json"),
            body.clone().into(),
        )
        .await;
        assert_problem(&r, 400, "malformed_json");
        let r = app
            .send(
                app.request(Method::POST, "/v1/auth/register")
                    .header("content-type", "application/json")
                    .header("idempotency-key", format!("malformed-{i}"))
                    .body(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
    }
    for body in broken(&adjust) {
        let r = post_raw(
            &app,
            &adjustments_path(&id),
            Some(&admin),
            Some("application/json"),
            body.clone().into(),
        )
        .await;
        assert_problem(&r, 400, "malformed_json");
    }
    // Nothing was created or moved.
    assert_problem(
        &app.login("bob", PASSWORD).await,
        401,
        "invalid_credentials",
    );
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn wrong_types_are_422_naming_the_field() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let cases = [
        (json!({ "username": 5, "password": PASSWORD }), "username"),
        (json!({ "username": "bob", "password": ["x"] }), "password"),
        (
            json!({ "username": null, "password": PASSWORD }),
            "username",
        ),
    ];
    for (body, field) in cases {
        let r = app.post("/v1/auth/register", None, body).await;
        assert_field(&r, 422, "invalid_field", field);
    }
    for body in [json!([]), json!(null), json!("alice")] {
        let r = app.post("/v1/auth/register", None, body).await;
        assert_problem(&r, 422, "invalid_field");
    }
    for amount in [json!("10"), json!(1.5), json!(1e30), json!(true)] {
        let r = app
            .post(
                &adjustments_path(&id),
                Some(&admin),
                json!({ "currency": "CHIP", "amount": amount, "reason": "x" }),
            )
            .await;
        assert_field(&r, 422, "invalid_field", "amount");
    }
    let r = app
        .post(
            "/v1/auth/password",
            Some(&token),
            json!({ "current_password": 1, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_field(&r, 422, "invalid_field", "current_password");
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn missing_fields_are_422_missing_field() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let r = app
        .post("/v1/auth/register", None, json!({ "username": "bob" }))
        .await;
    assert_field(&r, 422, "missing_field", "password");
    let r = app
        .post("/v1/auth/login", None, json!({ "password": PASSWORD }))
        .await;
    assert_field(&r, 422, "missing_field", "username");
    let r = app
        .post(
            &adjustments_path(&id),
            Some(&admin),
            json!({ "currency": "CHIP", "amount": 5 }),
        )
        .await;
    assert_field(&r, 422, "missing_field", "reason");
    let r = app
        .post(
            "/v1/auth/password",
            Some(&token),
            json!({ "current_password": PASSWORD }),
        )
        .await;
    assert_field(&r, 422, "missing_field", "new_password");
}

#[tokio::test]
async fn unknown_fields_are_rejected_and_nothing_is_created() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let smuggled = [("balance", json!(1_000_000)), ("roles", json!(["admin"]))];
    for (field, value) in smuggled {
        let mut body = json!({ "username": "mallory", "password": PASSWORD });
        body[field] = value;
        let r = app.post("/v1/auth/register", None, body).await;
        assert_field(&r, 422, "unknown_field", field);
    }
    assert_problem(
        &app.login("mallory", PASSWORD).await,
        401,
        "invalid_credentials",
    );
    let (id, token) = app.player("mallory").await;
    let me = app.get("/v1/me", &token).await;
    assert_eq!(me.body["roles"], json!(["player"]));
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    let r = app
        .post(
            &adjustments_path(&id),
            Some(&admin),
            json!({ "currency": "CHIP", "amount": 5, "reason": "x", "player_id": "someone" }),
        )
        .await;
    assert_field(&r, 422, "unknown_field", "player_id");
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}

#[tokio::test]
async fn non_json_content_types_are_415() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (id, token) = app.player("alice").await;
    let register = json!({ "username": "bob", "password": PASSWORD }).to_string();
    let adjust = json!({ "currency": "CHIP", "amount": 5, "reason": "x" }).to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        None,
    ] {
        let r = post_raw(&app, "/v1/auth/register", None, ct, register.clone().into()).await;
        assert_problem(&r, 415, "unsupported_media_type");
        let r = post_raw(
            &app,
            &adjustments_path(&id),
            Some(&admin),
            ct,
            adjust.clone().into(),
        )
        .await;
        assert_problem(&r, 415, "unsupported_media_type");
    }
    assert_eq!(app.balance(&token, "CHIP").await, 0);
    // Parameters and case are fine.
    let r = post_raw(
        &app,
        "/v1/auth/register",
        None,
        Some("Application/JSON; charset=utf-8"),
        register.into(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    let unknown = [
        (Method::GET, "/v1/nope"),
        (Method::POST, "/nope"),
        (Method::GET, "/v1/wallets/CHIP"),
    ];
    for (method, path) in unknown {
        let r = app.call(method, path, Some(&token), None, None).await;
        assert_problem(&r, 404, "route_not_found");
    }
    let wrong_method = [
        (Method::GET, "/v1/auth/register"),
        (Method::DELETE, "/v1/me"),
        (Method::PUT, "/v1/wallets"),
        (Method::POST, "/livez"),
    ];
    for (method, path) in wrong_method {
        let r = app.call(method, path, Some(&token), None, None).await;
        assert_problem(&r, 405, "method_not_allowed");
    }
}

#[tokio::test]
async fn undecodable_path_segments_are_400_problems() {
    let app = spawn().await;
    let (_, admin) = app.user_with_role("root", Role::Admin).await;
    let (_, token) = app.player("alice").await;
    let r = app
        .call(
            Method::POST,
            "/v1/wallets/%FF/claims",
            Some(&token),
            None,
            None,
        )
        .await;
    assert_problem(&r, 400, "invalid_path");
    let r = app.get("/v1/wallets/%FF/transactions", &token).await;
    assert_problem(&r, 400, "invalid_path");
    let r = app.adjust(&admin, "%C3%28", 5, None).await;
    assert_problem(&r, 400, "invalid_path");
    assert_eq!(app.balance(&token, "CHIP").await, 0);
}
