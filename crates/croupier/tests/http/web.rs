//! The web clients as the server serves them, and browser sessions: the
//! HttpOnly cookie, its CSRF token, and sockets on it.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

fn header<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} in {:?}", r.headers))
}

#[tokio::test]
async fn the_lobby_and_console_are_served_with_their_policy_and_assets_are_immutable() {
    let app = spawn().await;
    for path in ["/", "/wallet", "/console/", "/console/players"] {
        let r = app.send(app.request(Method::GET, path)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            header(&r, "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(header(&r, "cache-control"), "no-cache");
        let csp = header(&r, "content-security-policy");
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        let html = r.body.as_str().unwrap();
        let script = html
            .split("src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the shell loads a script");
        let asset = app.send(app.request(Method::GET, script)).await;
        assert_eq!(asset.status, StatusCode::OK, "{script}");
        assert!(header(&asset, "cache-control").contains("immutable"));
    }
    let missing = app
        .send(app.request(Method::GET, "/assets/missing-0000.js"))
        .await;
    assert_problem(&missing, 404, "not_found");
    let api = app.send(app.request(Method::GET, "/v1/nope")).await;
    assert_problem(&api, 404, "route_not_found");
}

#[tokio::test]
async fn an_api_only_instance_serves_no_web_client() {
    let app = spawn_with(|c| c.web.enabled = false).await;
    for path in ["/", "/console/"] {
        let r = app.send(app.request(Method::GET, path)).await;
        assert_problem(&r, 404, "route_not_found");
    }
}

/// Opens a browser session; returns the cookie header to send and the CSRF token.
async fn browser_session(app: &TestApp, username: &str) -> (String, String) {
    let r = app
        .post(
            "/v1/auth/session",
            None,
            json!({ "username": username, "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        r.body.get("token").is_none(),
        "the token never reaches the page"
    );
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("croupier_session="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(session.contains(attr), "{session}");
    }
    let pair = session.split(';').next().unwrap().to_owned();
    let csrf = r.body["csrf_token"].as_str().unwrap().to_owned();
    (pair, csrf)
}

#[tokio::test]
async fn a_cookie_session_reads_freely_but_changes_only_with_its_csrf_token() {
    let app = spawn().await;
    app.player("alice").await;
    let (cookie, csrf) = browser_session(&app, "alice").await;
    let with = |method: Method, path: &str| app.request(method, path).header("cookie", &cookie);
    let me = app.send(with(Method::GET, "/v1/me")).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["username"], "alice");
    let forged = app
        .send(with(Method::POST, "/v1/wallets/CHIP/claims"))
        .await;
    assert_problem(&forged, 403, "csrf_token_invalid");
    let (_, other_csrf) = browser_session(&app, "alice").await;
    let wrong = app
        .send(with(Method::POST, "/v1/wallets/CHIP/claims").header("x-csrf-token", &other_csrf))
        .await;
    assert_problem(&wrong, 403, "csrf_token_invalid");
    let claim = app
        .send(with(Method::POST, "/v1/wallets/CHIP/claims").header("x-csrf-token", &csrf))
        .await;
    assert_eq!(claim.status, StatusCode::CREATED, "{:?}", claim.body);
    let out = app
        .send(with(Method::POST, "/v1/auth/logout").header("x-csrf-token", &csrf))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = out.headers.get_all("set-cookie").iter().any(|v| {
        let v = v.to_str().unwrap();
        v.starts_with("croupier_session=;") && v.contains("Max-Age=0")
    });
    assert!(cleared, "{:?}", out.headers);
    let after = app.send(with(Method::GET, "/v1/me")).await;
    assert_problem(&after, 401, "unauthorized");
}

#[tokio::test]
async fn a_cookie_socket_opens_only_from_this_origin() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = spawn().await;
    app.player("alice").await;
    let (cookie, _) = browser_session(&app, "alice").await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let request = |origin: &str| {
        let mut req = format!("ws://{host}/v1/ws").into_client_request().unwrap();
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        req
    };
    let (_ws, resp) = tokio_tungstenite::connect_async(request(&format!("http://{host}")))
        .await
        .expect("same-origin upgrade");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    match tokio_tungstenite::connect_async(request("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("a foreign origin got {other:?}"),
    }
}
