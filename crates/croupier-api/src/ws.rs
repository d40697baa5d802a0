//! Live notifications over WebSocket: `GET /v1/ws`, and the [`Hub`] holding
//! this instance's sockets.
//!
//! The `notifications` event consumer hands notifications to a `Notifier`:
//! this instance's hub directly when it runs in the same process, or Redis
//! pub/sub, whose subscriber on every api instance calls [`Hub::dispatch`].
//! Each socket has a bounded send queue; a client too slow to drain it is
//! disconnected (close code 1013) instead of holding memory. Message catalog:
//! `docs/websocket.md`.

use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use async_trait::async_trait;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use croupier_core::notify::{Notification, Notifier};
use croupier_core::PlayerId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often an open socket re-checks its session: a logout (here or, through
/// the revocation feed, elsewhere) closes it within about this long.
const SESSION_CHECK: Duration = Duration::from_secs(1);
/// Longest wait for one frame to be written; past it the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Close codes (RFC 6455).
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// `[ws]`: limits of live-notification sockets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WsConfig {
    /// Open sockets on this instance; past it an upgrade gets 503.
    pub max_connections: usize,
    /// Open sockets per player on this instance; past it an upgrade gets 429.
    pub max_connections_per_player: usize,
    /// Messages waiting for one socket; a client that lets more pile up is
    /// disconnected (close code 1013).
    pub send_queue: usize,
    /// The server pings every socket this often.
    pub ping_interval_secs: u64,
    /// A socket the client has sent nothing on (pongs included) for this long is closed.
    pub idle_timeout_secs: u64,
    /// Largest client message (they are ignored anyway, except ping and close).
    pub max_message_bytes: usize,
    /// Events older than this when the worker handles them are not pushed
    /// (a worker catching up after downtime does not replay stale news).
    pub max_event_age_secs: u64,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_player: 5,
            send_queue: 64,
            ping_interval_secs: 20,
            idle_timeout_secs: 60,
            max_message_bytes: 4096,
            max_event_age_secs: 60,
        }
    }
}

impl WsConfig {
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(&str, u64, u64, u64); 7] = [
            (
                "ws.max_connections",
                self.max_connections as u64,
                1,
                1_000_000,
            ),
            (
                "ws.max_connections_per_player",
                self.max_connections_per_player as u64,
                1,
                1000,
            ),
            ("ws.send_queue", self.send_queue as u64, 1, 100_000),
            ("ws.ping_interval_secs", self.ping_interval_secs, 1, 3600),
            ("ws.idle_timeout_secs", self.idle_timeout_secs, 1, 86_400),
            (
                "ws.max_message_bytes",
                self.max_message_bytes as u64,
                128,
                1 << 20,
            ),
            ("ws.max_event_age_secs", self.max_event_age_secs, 1, 86_400),
        ];
        for (key, v, lo, hi) in checks {
            if !(lo..=hi).contains(&v) {
                return Err(format!("{key}: must be {lo}-{hi}"));
            }
        }
        if self.idle_timeout_secs <= self.ping_interval_secs {
            return Err(
                "ws.idle_timeout_secs: must exceed ws.ping_interval_secs, or idle clients \
                 are closed before they could answer a ping"
                    .into(),
            );
        }
        Ok(())
    }
}

struct Slot {
    id: u64,
    tx: mpsc::Sender<Utf8Bytes>,
    overflow: Arc<AtomicBool>,
}

#[derive(Default)]
struct Sockets {
    by_player: HashMap<PlayerId, Vec<Slot>>,
    total: usize,
}

/// This instance's open sockets, by player.
pub struct Hub {
    sockets: Mutex<Sockets>,
    next_id: AtomicU64,
    closing: AtomicBool,
    max_total: usize,
    max_per_player: usize,
    queue: usize,
}

/// Why a socket was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    PlayerLimit,
    InstanceLimit,
    ShuttingDown,
}

/// A socket's place in the hub; leaves it when dropped.
pub struct Registration {
    hub: Arc<Hub>,
    player: PlayerId,
    id: u64,
    rx: mpsc::Receiver<Utf8Bytes>,
    overflow: Arc<AtomicBool>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut s = self.hub.lock();
        if let Some(slots) = s.by_player.get_mut(&self.player) {
            slots.retain(|slot| slot.id != self.id);
            if slots.is_empty() {
                s.by_player.remove(&self.player);
            }
        }
        // Counted until here even if cut off (slow, shutdown): it is still open.
        s.total -= 1;
        metrics::gauge!("croupier_ws_connections").set(s.total as f64);
    }
}

impl Hub {
    pub fn new(cfg: &WsConfig) -> Self {
        Self {
            sockets: Mutex::default(),
            next_id: AtomicU64::new(1),
            closing: AtomicBool::new(false),
            max_total: cfg.max_connections,
            max_per_player: cfg.max_connections_per_player,
            queue: cfg.send_queue,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sockets> {
        // A panic elsewhere cannot leave the map inconsistent: keep going.
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a place for a socket of `player`, within the limits.
    pub fn register(self: &Arc<Self>, player: PlayerId) -> Result<Registration, Refused> {
        let mut s = self.lock();
        if self.closing.load(Ordering::Acquire) {
            return Err(Refused::ShuttingDown);
        }
        if s.total >= self.max_total {
            return Err(Refused::InstanceLimit);
        }
        let slots = s.by_player.entry(player).or_default();
        if slots.len() >= self.max_per_player {
            return Err(Refused::PlayerLimit);
        }
        let (tx, rx) = mpsc::channel(self.queue);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let overflow = Arc::new(AtomicBool::new(false));
        slots.push(Slot {
            id,
            tx,
            overflow: overflow.clone(),
        });
        s.total += 1;
        metrics::gauge!("croupier_ws_connections").set(s.total as f64);
        Ok(Registration {
            hub: self.clone(),
            player,
            id,
            rx,
            overflow,
        })
    }

    /// Queues a notification on each of its player's sockets here. A socket
    /// whose queue is full is cut off (its task closes it with 1013).
    pub fn dispatch(&self, n: &Notification) {
        let mut s = self.lock();
        let Some(slots) = s.by_player.get_mut(&n.player_id) else {
            return;
        };
        let frame = Utf8Bytes::from(n.frame());
        let (mut pushed, mut dropped) = (0u64, 0u64);
        slots.retain(|slot| match slot.tx.try_send(frame.clone()) {
            Ok(()) => {
                pushed += 1;
                true
            }
            Err(_) => {
                // Full (a slow client) or closed (its task is ending): either
                // way it gets nothing more.
                slot.overflow.store(true, Ordering::Release);
                dropped += 1;
                false
            }
        });
        metrics::counter!("croupier_ws_messages_pushed_total").increment(pushed);
        if dropped > 0 {
            metrics::counter!("croupier_ws_messages_dropped_total", "reason" => "slow_client")
                .increment(dropped);
        }
    }

    /// Open sockets here.
    pub fn connections(&self) -> usize {
        self.lock().total
    }

    /// Server shutdown: refuses new sockets and closes every open one with 1001.
    pub fn close_all(&self) {
        let mut s = self.lock();
        self.closing.store(true, Ordering::Release);
        // Dropping the senders ends each socket's queue; the flag stays
        // false, which its task reads as "going away".
        for slots in s.by_player.values_mut() {
            slots.clear();
        }
    }
}

#[async_trait]
impl Notifier for Hub {
    async fn notify(&self, notifications: &[Notification]) {
        for n in notifications {
            self.dispatch(n);
        }
    }
}

/// The session token of an upgrade: `Authorization: Bearer <token>`; or, for
/// browsers (which cannot set headers on a WebSocket), the subprotocol pair
/// `Sec-WebSocket-Protocol: bearer, <token>` or the session cookie from a
/// page of this origin. Never the query string.
fn bearer_token(headers: &HeaderMap) -> ApiResult<Option<(String, bool)>> {
    let valid = |t: &str| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit());
    if headers.contains_key(header::AUTHORIZATION) {
        return Ok(crate::auth::bearer_token(headers)?.map(|t| (t, false)));
    }
    let protocols = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let Some(at) = protocols.iter().position(|p| *p == "bearer") else {
        return session_cookie(headers).map(|t| t.map(|t| (t, false)));
    };
    Ok(protocols
        .get(at + 1)
        .filter(|t| valid(t))
        .map(|t| (t.to_string(), true)))
}

/// Live notifications for the caller (WebSocket). Authenticate with
/// `Authorization: Bearer <token>` or, from browsers, the subprotocols
/// `bearer, <token>` (the server then selects `bearer`). The server sends JSON
/// text frames `{"type", "event_id", "at", "data"}`; types are `bet.settled`,
/// `balance.changed` and `reward.granted` (catalog: `docs/websocket.md`).
/// Client messages are ignored except ping and close. The socket closes with
/// 1008 when its session ends, 1013 when the client reads too slowly, 1001 on
/// server shutdown.
#[utoipa::path(get, path = "/v1/ws", operation_id = "live_notifications", tag = "notifications",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sockets for this player", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many sockets on this instance, or shutting down", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Authentication first: an anonymous request learns nothing else.
    let (token, via_protocol) = bearer_token(&headers)?.ok_or_else(ApiError::unauthorized)?;
    let authed = authenticate(&state, &token).await?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "A WebSocket upgrade request is required",
        )
        .detail(e.to_string())
    })?;
    let registration = state.hub.register(authed.player.id).map_err(|why| {
        let reason = match why {
            Refused::PlayerLimit => "player_limit",
            Refused::InstanceLimit => "instance_limit",
            Refused::ShuttingDown => "shutting_down",
        };
        metrics::counter!("croupier_ws_refused_total", "reason" => reason).increment(1);
        match why {
            Refused::PlayerLimit => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_sockets",
                "Too many open sockets for this player",
            )
            .detail(format!(
                "at most {} per player; close one first",
                state.config.ws.max_connections_per_player
            ))
            .retry_after(5),
            Refused::InstanceLimit => {
                ApiError::unavailable("this instance holds as many sockets as it may")
            }
            Refused::ShuttingDown => ApiError::unavailable("shutting down"),
        }
    })?;
    let cfg = &state.config.ws;
    let mut upgrade = upgrade
        .max_message_size(cfg.max_message_bytes)
        .max_frame_size(cfg.max_message_bytes);
    if via_protocol {
        upgrade = upgrade.protocols(["bearer"]);
    }
    Ok(upgrade
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "websocket upgrade failed"))
        .on_upgrade(move |socket| serve(socket, state, token, registration)))
}

/// A browser's session cookie, from a page of this very origin: the
/// handshake's `Origin` must name the `Host` it was sent to, so another
/// site's page cannot open a socket on the player's session (cross-site
/// WebSocket hijacking), whatever the browser does with SameSite.
fn session_cookie(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(token) = crate::cookie::session_from_cookie(headers) else {
        return Ok(None);
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|o| o.split_once("://"))
        .map(|(_, h)| h);
    if host.is_none() || origin_host != host {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin_socket",
            "A cookie-authenticated socket must come from this origin",
        ));
    }
    let valid = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    Ok(valid.then_some(token))
}

/// Runs one socket until it closes; says nothing back except notifications
/// and pings.
async fn serve(mut socket: WebSocket, state: AppState, token: String, mut reg: Registration) {
    let cfg = state.config.ws.clone();
    let idle_timeout = Duration::from_secs(cfg.idle_timeout_secs);
    let mut ping = tokio::time::interval(Duration::from_secs(cfg.ping_interval_secs));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check.tick().await;
    let mut heard = Instant::now();
    let (code, reason) = loop {
        tokio::select! {
            frame = reg.rx.recv() => {
                if reg.overflow.load(Ordering::Acquire) {
                    break (CLOSE_TRY_AGAIN_LATER, "too slow: notifications were dropped");
                }
                let Some(frame) = frame else {
                    break (CLOSE_GOING_AWAY, "server shutting down");
                };
                if !send(&mut socket, Message::Text(frame)).await {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Pings are answered by the protocol layer; anything else is ignored.
                Some(Ok(_)) => heard = Instant::now(),
            },
            _ = ping.tick() => {
                if heard.elapsed() > idle_timeout {
                    break (CLOSE_NORMAL, "idle");
                }
                if !send(&mut socket, Message::Ping(Default::default())).await {
                    return;
                }
            }
            _ = check.tick() => {
                // Only a verdict on the session closes the socket; a store
                // outage (503) leaves it open until the next check.
                if let Err(e) = authenticate(&state, &token).await {
                    if e.status == StatusCode::UNAUTHORIZED {
                        break (CLOSE_POLICY, "session ended");
                    }
                }
            }
        }
    };
    let close = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = send(&mut socket, close).await;
}

/// Writes one frame within [`WRITE_TIMEOUT`]; false if the socket is gone.
async fn send(socket: &mut WebSocket, msg: Message) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, socket.send(msg)).await,
        Ok(Ok(()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(player: PlayerId) -> Notification {
        Notification {
            player_id: player,
            kind: "balance.changed".into(),
            event_id: uuid::Uuid::new_v4(),
            at: croupier_core::now(),
            data: serde_json::json!({"balance": 1}),
        }
    }

    #[test]
    fn limits_slow_sockets_and_shutdown() {
        let hub = Arc::new(Hub::new(&WsConfig {
            max_connections: 3,
            max_connections_per_player: 2,
            send_queue: 2,
            ..WsConfig::default()
        }));
        let (a, b) = (PlayerId::new(), PlayerId::new());
        let mut a1 = hub.register(a).unwrap();
        let a2 = hub.register(a).unwrap();
        assert_eq!(hub.register(a).err(), Some(Refused::PlayerLimit));
        let mut b1 = hub.register(b).unwrap();
        assert_eq!(hub.register(b).err(), Some(Refused::InstanceLimit));
        assert_eq!(hub.connections(), 3);
        drop(a2);
        assert_eq!(hub.connections(), 2);

        // The queue holds 2; the third message cuts the socket off.
        for _ in 0..3 {
            hub.dispatch(&note(a));
        }
        assert!(a1.overflow.load(Ordering::Acquire));
        assert!(a1.rx.try_recv().is_ok());
        // Nothing more reaches a socket that was cut off; others are unaffected.
        hub.dispatch(&note(a));
        hub.dispatch(&note(b));
        assert!(a1.rx.try_recv().is_ok());
        assert!(a1.rx.try_recv().is_err());
        let frame = b1.rx.try_recv().unwrap();
        let v: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(v["type"], "balance.changed");

        hub.close_all();
        assert!(matches!(
            b1.rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(!b1.overflow.load(Ordering::Acquire));
        assert_eq!(hub.register(b).err(), Some(Refused::ShuttingDown));
        drop((a1, b1));
        assert_eq!(hub.connections(), 0);
    }

    #[test]
    fn tokens_from_the_header_or_the_subprotocol_never_elsewhere() {
        let t = "ab".repeat(32);
        let status = |h: &HeaderMap| bearer_token(h).map_err(|e| e.status.as_u16());
        let mut h = HeaderMap::new();
        assert_eq!(status(&h), Ok(None));
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            format!("bearer, {t}").parse().unwrap(),
        );
        assert_eq!(status(&h), Ok(Some((t.clone(), true))));
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
        assert_eq!(status(&h), Ok(Some((t.clone(), false))));
        h.append(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
        assert_eq!(status(&h), Err(400), "two Authorization headers");
        h.insert(header::AUTHORIZATION, "Bearer short".parse().unwrap());
        assert_eq!(status(&h), Err(401));
        let mut h = HeaderMap::new();
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, "bearer".parse().unwrap());
        assert_eq!(status(&h), Ok(None));
    }
}
