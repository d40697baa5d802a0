//! Load shedding: at most `http.max_in_flight` API requests are handled at
//! once by this instance; one more waits at most `http.queue_timeout_ms` for a
//! slot and is then answered 503 `overloaded` with `Retry-After`, instead of
//! queueing without bound while every request's latency grows.
//!
//! A semaphore in a middleware rather than tower's `ConcurrencyLimit` +
//! `LoadShed`: those answer with an error that still needs a
//! `HandleErrorLayer` to become a response, have no bounded wait, and a
//! `ConcurrencyLimitLayer` applied with `Router::layer` makes one semaphore
//! per route. Here the problem+json, the `Retry-After`, the per-route
//! `croupier_http_shed_total{route}` and the `croupier_http_in_flight` gauge
//! sit in one place.
//!
//! [`deadline`] bounds how long a read may take: past `http.request_timeout_ms`
//! a GET or HEAD is abandoned (its future dropped, as when the client goes
//! away) and answered 503 `timeout` with `Retry-After`, counted in
//! `croupier_http_timeouts_total{route}`, whatever it waited on (a query over
//! a database link that went silent), and its slot comes back. Writes are not
//! cut short: one abandoned mid-way could still commit while its
//! `Idempotency-Key` stays in progress, and a retry after the key's lease
//! would run it again. They are bounded where they wait instead (the bet
//! timeout, the pool's acquire timeout).
//!
//! Only the API routes are wrapped (see [`crate::router`]): `/livez` and
//! `/readyz` (and `/metrics`, on its own listener) must answer precisely
//! when the instance is busy.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const IN_FLIGHT: &str = "croupier_http_in_flight";

/// The instance's request slots.
pub struct Shedder {
    /// `None`: no limit (`http.max_in_flight = 0`).
    slots: Option<Arc<Semaphore>>,
    queue_timeout: Duration,
}

impl Shedder {
    pub fn new(max_in_flight: usize, queue_timeout: Duration) -> Self {
        Self {
            slots: (max_in_flight > 0)
                .then(|| Arc::new(Semaphore::new(max_in_flight.min(Semaphore::MAX_PERMITS)))),
            queue_timeout,
        }
    }

    /// A slot, waiting at most the queue timeout; `None`: shed.
    async fn acquire(&self) -> Option<Slot> {
        let Some(slots) = &self.slots else {
            return Some(Slot::new(None));
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) if self.queue_timeout.is_zero() => return None,
            Err(_) => tokio::time::timeout(self.queue_timeout, slots.clone().acquire_owned())
                .await
                .ok()?
                .ok()?,
        };
        Some(Slot::new(Some(permit)))
    }
}

/// A request being handled: counted in the gauge until dropped (also when
/// the client goes away and the request future is dropped mid-way).
struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    fn new(permit: Option<OwnedSemaphorePermit>) -> Self {
        metrics::gauge!(IN_FLIGHT).increment(1.0);
        Self { _permit: permit }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        metrics::gauge!(IN_FLIGHT).decrement(1.0);
    }
}

pub async fn shed(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(_slot) = state.shedder.acquire().await else {
        metrics::counter!("croupier_http_shed_total", "route" => route_of(&req)).increment(1);
        return overloaded().into_response();
    };
    next.run(req).await
}

/// The longest a read may take (`None`: unbounded), the state of [`deadline`].
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Option<Duration>);

impl Deadline {
    /// From `http.request_timeout_ms` (0: unbounded).
    pub fn from_millis(ms: u64) -> Self {
        Self((ms > 0).then(|| Duration::from_millis(ms)))
    }
}

/// Answers a GET or HEAD still running after the deadline with 503 `timeout`.
pub async fn deadline(State(limit): State<Deadline>, req: Request, next: Next) -> Response {
    let Some(limit) = limit
        .0
        .filter(|_| matches!(*req.method(), Method::GET | Method::HEAD))
    else {
        return next.run(req).await;
    };
    let route = req.extensions().get::<MatchedPath>().cloned();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let route = route
                .as_ref()
                .map_or("unmatched", |p| p.as_str())
                .to_owned();
            tracing::warn!(%route, timeout_ms = limit.as_millis() as u64, "request timed out");
            metrics::counter!("croupier_http_timeouts_total", "route" => route).increment(1);
            timed_out(limit).into_response()
        }
    }
}

fn route_of(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned()
}

pub fn overloaded() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "Server overloaded",
    )
    .detail("too many requests in progress on this instance; retry shortly")
    .retry_after(1)
}

pub fn timed_out(limit: Duration) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        "Request timed out",
    )
    .detail(format!(
        "the request did not finish within {} ms; retry (with the same Idempotency-Key)",
        limit.as_millis()
    ))
    .retry_after(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_bounded_and_come_back_when_dropped() {
        let s = Shedder::new(2, Duration::ZERO);
        let a = s.acquire().await.expect("first slot");
        let _b = s.acquire().await.expect("second slot");
        assert!(s.acquire().await.is_none(), "a third is shed at once");
        drop(a);
        assert!(s.acquire().await.is_some(), "a released slot is reused");
    }

    #[tokio::test]
    async fn a_request_waits_at_most_the_queue_timeout() {
        let s = Arc::new(Shedder::new(1, Duration::from_millis(200)));
        let held = s.acquire().await.expect("slot");
        let start = std::time::Instant::now();
        assert!(s.acquire().await.is_none(), "shed after the timeout");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
        // A slot freed while waiting is taken.
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.acquire().await.is_some() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.unwrap(), "got the freed slot");
    }

    /// A router with a read and a write that take `work`, under a 100 ms deadline.
    fn slow_routes(work: Duration) -> axum::Router {
        use axum::routing::get;
        let slow = move || async move {
            tokio::time::sleep(work).await;
            "done"
        };
        axum::Router::new()
            .route("/slow", get(slow).post(slow))
            .layer(axum::middleware::from_fn_with_state(
                Deadline::from_millis(100),
                deadline,
            ))
    }

    async fn call(app: axum::Router, method: Method) -> (StatusCode, String) {
        use tower::ServiceExt;
        let req = Request::builder()
            .method(method)
            .uri("/slow")
            .body(axum::body::Body::empty())
            .unwrap();
        let r = app.oneshot(req).await.unwrap();
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_read_over_the_deadline_is_answered_503_timeout() {
        let started = std::time::Instant::now();
        let (status, body) = call(slow_routes(Duration::from_secs(30)), Method::GET).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("\"code\":\"timeout\""), "{body}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_secs(5),
            "{took:?}"
        );
        // Within the deadline the answer is the handler's.
        let (status, body) = call(slow_routes(Duration::from_millis(10)), Method::GET).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "done"));
    }

    #[tokio::test]
    async fn writes_are_not_cut_short() {
        let (status, body) = call(slow_routes(Duration::from_millis(400)), Method::POST).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "done"));
    }

    #[tokio::test]
    async fn zero_means_no_limit() {
        let s = Shedder::new(0, Duration::ZERO);
        let mut held = Vec::new();
        for _ in 0..10 {
            held.push(s.acquire().await.expect("unlimited"));
        }
    }
}
