//! HTTP contract tests: the real app on port 0, driven over HTTP.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_login_me_round_trip() {
    let app = spawn().await;
    let (id, token) = app.player("alice").await;
    let me = app.get("/v1/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body, json!({ "player_id": id, "username": "alice", "roles": ["player"] }));
}
