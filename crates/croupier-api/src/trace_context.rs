//! W3C trace context for each request: events the request writes carry it
//! (`croupier_core::trace`), and the response returns it, so a client, the
//! logs and the event stream can be joined on one trace id.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const TRACEPARENT: &str = "traceparent";

/// Continues the caller's trace (a valid `traceparent` header) with a new
/// span, or starts a trace; runs the request inside it and echoes it back.
/// When spans are exported, the request is one (kind server).
pub async fn propagate(req: Request, next: Next) -> Response {
    use croupier_core::trace;
    let parent = req
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .filter(|p| trace::trace_id(p).is_some())
        .map(str::to_owned);
    let context = trace::child_of(parent.as_deref());
    let header = HeaderValue::from_str(&context).ok();
    let exported = trace::exporting().then(|| {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", |p| p.as_str())
            .to_owned();
        (
            req.method().as_str().to_owned(),
            route,
            std::time::SystemTime::now(),
        )
    });
    let mut response = trace::scope(Some(context.clone()), next.run(req)).await;
    if let Some((method, route, start)) = exported {
        let status = response.status();
        trace::record(trace::SpanRecord {
            name: format!("{method} {route}"),
            traceparent: context,
            parent,
            kind: trace::SpanKind::Server,
            start,
            end: std::time::SystemTime::now(),
            attributes: vec![
                ("http.request.method", method),
                ("http.route", route),
                ("http.response.status_code", status.as_u16().to_string()),
            ],
            error: status.is_server_error(),
        });
    }
    if let Some(value) = header {
        response.headers_mut().insert(TRACEPARENT, value);
    }
    response
}
