//! Crash (multiplayer) results from a hash chain (PROTOCOL.md, "Crash").
//!
//! The operator draws `h_N`, publishes `h_0` after `N` applications of
//! `h_{i-1} = hex(SHA-256(h_i ASCII))`, and plays `h_1, h_2, …` in order, so each
//! revealed game hash proves it was fixed before play.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::multiplier::Multiplier;

/// The crash point as a float before flooring to two decimals:
/// `max(1, 2^32 / (n + 1) · 0.99)` where `n` is the first 32 bits of
/// `HMAC-SHA256(key = game hash ASCII, msg = salt ASCII)`.
pub fn crash_point_unrounded(game_hash: &str, salt: &str) -> f64 {
    crash_point_unrounded_with_edge(game_hash, salt, crate::DEFAULT_EDGE_BPS)
}

/// Same with a configurable house edge in basis points (100 = the published 0.99).
pub fn crash_point_unrounded_with_edge(game_hash: &str, salt: &str, edge_bps: u32) -> f64 {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(game_hash.as_bytes()).expect("HMAC takes any key length");
    mac.update(salt.as_bytes());
    let digest = mac.finalize().into_bytes();
    // First 8 hex digits == first 4 bytes, big-endian.
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) as f64;
    // Same operation order as the published JavaScript so results match bit for bit.
    (4_294_967_296.0 / (n + 1.0) * crate::edge_factor(edge_bps)).max(1.0)
}

/// `floor(max(1, 2^32 / (n + 1) · 0.99) · 100) / 100`, e.g. 2.35.
pub fn crash_point(game_hash: &str, salt: &str) -> Multiplier {
    crash_point_with_edge(game_hash, salt, crate::DEFAULT_EDGE_BPS)
}

pub fn crash_point_with_edge(game_hash: &str, salt: &str, edge_bps: u32) -> Multiplier {
    let x = (crash_point_unrounded_with_edge(game_hash, salt, edge_bps) * 100.0).floor();
    Multiplier::from_hundredths(x as u64)
}

/// `{"crash_point": 7.74}` for verifier tools.
pub fn crash_json(game_hash: &str, salt: &str) -> serde_json::Value {
    serde_json::json!({ "crash_point": crash_point(game_hash, salt) })
}

/// The hash played just before `game_hash`: `hex(SHA-256(game_hash ASCII))`.
pub fn previous_hash(game_hash: &str) -> String {
    hex::encode(Sha256::digest(game_hash.as_bytes()))
}

/// True if `previous` is the chain link right before `game_hash`.
pub fn verify_chain_link(game_hash: &str, previous: &str) -> bool {
    previous_hash(game_hash).eq_ignore_ascii_case(previous)
}

/// Walks back from `game_hash` at most `max_steps` links and returns how many
/// steps it took to reach `terminal_hash` (the published `h_0`), i.e. the game's
/// index in the chain; `None` if it is not reached.
pub fn chain_position(game_hash: &str, terminal_hash: &str, max_steps: u64) -> Option<u64> {
    let mut h = game_hash.to_ascii_lowercase();
    let terminal = terminal_hash.to_ascii_lowercase();
    for step in 0..=max_steps {
        if h == terminal {
            return Some(step);
        }
        h = previous_hash(&h);
    }
    None
}

/// Exact probability that a crash game reaches `target` (cash-out at `target` wins),
/// over the 2^32 equally likely `n`, and the resulting RTP `P · target`.
pub fn cashout_rtp(target: Multiplier, edge_bps: u32) -> f64 {
    // crash >= T  <=>  2^32 (1 - e) / (n + 1) >= T/100  <=>  n + 1 <= 2^32 (10000 - bps) / (100 T)
    let t = target.hundredths().max(1) as u128;
    if t <= 100 {
        return target.as_f64();
    }
    let winners =
        ((1u128 << 32) * (10_000 - edge_bps.min(10_000)) as u128 / (100 * t)).min(1 << 32);
    winners as f64 * t as f64 / 100.0 / 4_294_967_296.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_walks_back_to_terminal() {
        let h3 = "a".repeat(64);
        let h2 = previous_hash(&h3);
        let h1 = previous_hash(&h2);
        let h0 = previous_hash(&h1);
        assert!(verify_chain_link(&h3, &h2));
        assert!(!verify_chain_link(&h2, &h3));
        assert_eq!(chain_position(&h3, &h0, 10), Some(3));
        assert_eq!(chain_position(&h3, &h0, 2), None);
    }

    #[test]
    fn cashout_rtp_is_at_most_edge() {
        for t in [101u64, 150, 200, 777, 10_000, 1_000_000] {
            let r = cashout_rtp(Multiplier::from_hundredths(t), 100);
            assert!(r <= 0.99 + 1e-12 && r > 0.98, "{t}: {r}");
        }
    }
}
