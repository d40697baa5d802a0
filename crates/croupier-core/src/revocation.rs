//! The session revocation port: how one instance tells the others that
//! sessions were revoked, so their in-process session caches drop them.
//!
//! Sessions are durable in the store; caches sit in front of it. A cache may
//! trust an entry for long only while it hears every other instance's
//! revocations, which is what [`RevocationFeed::is_live`] reports.

use crate::TokenHash;
use async_trait::async_trait;

#[async_trait]
pub trait RevocationFeed: Send + Sync {
    /// Announces revoked sessions to every instance (this one included).
    /// Call it after the revocation is committed to the store. It never fails
    /// the caller: an implementation that cannot deliver now keeps retrying
    /// in the background for as long as a cache could still hold the sessions.
    async fn publish(&self, revoked: &[TokenHash]);

    /// True while this instance is receiving every announcement made by the
    /// others, right now. When false, caches must re-read sessions from the
    /// store often enough to honour a revocation within one second.
    fn is_live(&self) -> bool;
}
