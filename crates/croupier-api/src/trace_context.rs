//! W3C trace context for each request: events the request writes carry it
//! (`croupier_core::trace`), and the response returns it, so a client, the
//! logs and the event stream can be joined on one trace id.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const TRACEPARENT: &str = "traceparent";

/// Continues the caller's trace (a valid `traceparent` header) with a new
/// span, or starts a trace; runs the request inside it and echoes it back.
pub async fn propagate(req: Request, next: Next) -> Response {
    let parent = req.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok());
    let context = croupier_core::trace::child_of(parent);
    let header = HeaderValue::from_str(&context).ok();
    let mut response = croupier_core::trace::scope(Some(context), next.run(req)).await;
    if let Some(value) = header {
        response.headers_mut().insert(TRACEPARENT, value);
    }
    response
}
