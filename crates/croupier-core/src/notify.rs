//! The live-notification port: ephemeral pushes to a player's open sockets
//! (`GET /v1/ws`).
//!
//! Notifications are not durable: no inbox, no retry. A consumer turns events
//! into [`Notification`]s and hands them to a [`Notifier`], which delivers them
//! to whichever instance holds the player's sockets (in-process when the api
//! runs in the same process, Redis pub/sub when configured). Delivery is at
//! least once at best (a redelivered event is pushed again), so every message
//! carries its `event_id` for clients to drop repeats.

use crate::types::PlayerId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One message for one player's sockets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub player_id: PlayerId,
    /// `bet.settled`, `balance.changed`, `reward.granted`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event it comes from (several notifications may share one).
    pub event_id: Uuid,
    /// When the event happened.
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// The socket frame: a notification without its addressee.
#[derive(Serialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    event_id: Uuid,
    at: DateTime<Utc>,
    data: &'a serde_json::Value,
}

impl Notification {
    /// The JSON text frame sent to the player's sockets.
    pub fn frame(&self) -> String {
        serde_json::to_string(&Frame {
            kind: &self.kind,
            event_id: self.event_id,
            at: self.at,
            data: &self.data,
        })
        .unwrap_or_default()
    }
}

/// Delivers notifications to the players' sockets, wherever they are. Never
/// fails the caller: what cannot be delivered is dropped (and counted).
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn notify(&self, notifications: &[Notification]);
}
