//! Operations: liveness and readiness (and draining), the request metrics, and
//! request ids echoed or generated.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use std::sync::atomic::Ordering;

#[tokio::test]
async fn livez_and_readyz_report_health_and_draining() {
    let app = spawn().await;
    let live = app.call(Method::GET, "/livez", None, None, None).await;
    assert_eq!(live.status, StatusCode::OK);
    let ready = app.call(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{:?}", ready.body);
    app.running.state.draining.store(true, Ordering::Relaxed);
    let ready = app.call(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    // Liveness is unaffected by draining.
    assert_eq!(
        app.call(Method::GET, "/livez", None, None, None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_with_latency_histogram() {
    let app = spawn().await;
    let (_, token) = app.player("alice").await;
    assert_eq!(me_status(&app, &token).await, StatusCode::OK);
    let r = app.call(Method::GET, "/v1/me", None, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let m = app.metrics().await;
    assert_eq!(m.status, StatusCode::OK);
    let text = m.body.as_str().expect("text exposition");
    let has = |prefix: &str, parts: &[&str]| {
        text.lines()
            .any(|l| l.starts_with(prefix) && parts.iter().all(|p| l.contains(p)))
    };
    assert!(
        has(
            "croupier_http_requests_total{",
            &["route=\"/v1/me\"", "status=\"200\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_requests_total{",
            &["route=\"/v1/me\"", "status=\"401\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_requests_total{",
            &["route=\"/v1/auth/register\"", "status=\"201\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_request_duration_seconds_bucket{",
            &["route=\"/v1/me\"", "le=\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_request_duration_seconds_count{",
            &["route=\"/v1/me\""]
        ),
        "{text}"
    );
    assert!(
        has(
            "croupier_http_request_duration_seconds_sum{",
            &["route=\"/v1/me\""]
        ),
        "{text}"
    );
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = spawn().await;
    for path in ["/livez", "/v1/nope", "/v1/me"] {
        let r = app
            .send(
                app.request(Method::GET, path)
                    .header("x-request-id", "test-req-42"),
            )
            .await;
        assert_eq!(header(&r, "x-request-id"), Some("test-req-42"), "{path}");
        let r = app.send(app.request(Method::GET, path)).await;
        let id = header(&r, "x-request-id").unwrap_or_else(|| panic!("{path}: no request id"));
        assert!(uuid_like(id), "{path}: {id}");
        let r2 = app.send(app.request(Method::GET, path)).await;
        assert_ne!(header(&r2, "x-request-id"), Some(id), "ids are unique");
    }
}
