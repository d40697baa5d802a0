//! The provably-fair byte stream (PROTOCOL.md, "Byte stream and floats").
//!
//! `block(r) = HMAC-SHA256(key = server_seed ASCII, msg = "{client_seed}:{nonce}:{r}")`,
//! the stream is `block(0) ‖ block(1) ‖ …`, and every 4 bytes make one float in [0, 1).
//! This is byte-for-byte the scheme Stake publishes, so third-party verifiers agree.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `hex(SHA-256(server_seed ASCII))`: the commitment shown before the seed is used.
pub fn server_seed_hash(server_seed: &str) -> String {
    hex::encode(Sha256::digest(server_seed.as_bytes()))
}

/// HMAC-SHA256 keyed with a server seed. The key is absorbed once; each block
/// clones that state, so a block costs two SHA-256 compressions.
#[derive(Clone)]
pub struct SeedKey {
    mac: Hmac<Sha256>,
}

impl SeedKey {
    pub fn new(server_seed: &str) -> Self {
        SeedKey {
            mac: Hmac::<Sha256>::new_from_slice(server_seed.as_bytes())
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// Block `round` of the stream for (client_seed, nonce).
    pub fn block(&self, client_seed: &str, nonce: u64, round: u64) -> [u8; 32] {
        let mut buf = [0u8; 20];
        let mut mac = self.mac.clone();
        mac.update(client_seed.as_bytes());
        mac.update(b":");
        mac.update(decimal(nonce, &mut buf));
        mac.update(b":");
        mac.update(decimal(round, &mut buf));
        mac.finalize().into_bytes().into()
    }

    pub fn bytes<'a>(&self, client_seed: &'a str, nonce: u64) -> ByteStream<'a> {
        ByteStream {
            key: self.clone(),
            client_seed,
            nonce,
            round: 0,
            block: [0; 32],
            pos: 32,
        }
    }

    pub fn floats<'a>(&self, client_seed: &'a str, nonce: u64) -> Floats<'a> {
        Floats {
            bytes: self.bytes(client_seed, nonce),
            consumed: 0,
        }
    }
}

/// ASCII decimal of `n` without allocating (the message is built per block).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// One 32-byte block of the stream.
pub fn block(server_seed: &str, client_seed: &str, nonce: u64, round: u64) -> [u8; 32] {
    SeedKey::new(server_seed).block(client_seed, nonce, round)
}

/// The endless byte stream for one (server seed, client seed, nonce).
#[derive(Clone)]
pub struct ByteStream<'a> {
    key: SeedKey,
    client_seed: &'a str,
    nonce: u64,
    round: u64,
    block: [u8; 32],
    pos: usize,
}

impl<'a> ByteStream<'a> {
    pub fn new(server_seed: &str, client_seed: &'a str, nonce: u64) -> Self {
        SeedKey::new(server_seed).bytes(client_seed, nonce)
    }

    pub fn next_byte(&mut self) -> u8 {
        if self.pos == 32 {
            self.block = self.key.block(self.client_seed, self.nonce, self.round);
            self.round += 1;
            self.pos = 0;
        }
        let b = self.block[self.pos];
        self.pos += 1;
        b
    }
}

impl Iterator for ByteStream<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        Some(self.next_byte())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

/// `Σ_{k=0..3} b[k] / 256^(k+1)`. Equal to the big-endian u32 over 2^32, computed
/// exactly in f64 (32 significant bits fit in 53), so never reaches 1.0.
pub fn float_from_bytes(b: [u8; 4]) -> f64 {
    u32::from_be_bytes(b) as f64 / 4_294_967_296.0
}

/// The endless float stream; games take floats in order from float 0.
#[derive(Clone)]
pub struct Floats<'a> {
    bytes: ByteStream<'a>,
    consumed: usize,
}

impl<'a> Floats<'a> {
    pub fn new(server_seed: &str, client_seed: &'a str, nonce: u64) -> Self {
        SeedKey::new(server_seed).floats(client_seed, nonce)
    }

    /// The next float; the stream never ends, so no `Option`.
    pub fn next_float(&mut self) -> f64 {
        let b = [
            self.bytes.next_byte(),
            self.bytes.next_byte(),
            self.bytes.next_byte(),
            self.bytes.next_byte(),
        ];
        self.consumed += 1;
        float_from_bytes(b)
    }

    /// The next `N` floats.
    pub fn take_array<const N: usize>(&mut self) -> [f64; N] {
        let mut out = [0.0; N];
        for f in out.iter_mut() {
            *f = self.next_float();
        }
        out
    }

    /// How many floats have been taken so far (what a settlement reports as used).
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

impl Iterator for Floats<'_> {
    type Item = f64;
    fn next(&mut self) -> Option<f64> {
        Some(self.next_float())
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

/// The first `n` floats for (server seed, client seed, nonce).
pub fn floats(server_seed: &str, client_seed: &str, nonce: u64, n: usize) -> Vec<f64> {
    Floats::new(server_seed, client_seed, nonce)
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_formats_like_display() {
        let mut buf = [0u8; 20];
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn block_message_is_client_seed_nonce_round_in_decimal() {
        use hmac::{Hmac, Mac};
        for (client, nonce, round) in [
            ("", 0u64, 0u64),
            ("client seed", 1, 0),
            ("c:with:colons", 42, 7),
            ("x", u64::MAX, 1_000_000),
        ] {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"server seed").unwrap();
            mac.update(format!("{client}:{nonce}:{round}").as_bytes());
            let expected: [u8; 32] = mac.finalize().into_bytes().into();
            assert_eq!(
                SeedKey::new("server seed").block(client, nonce, round),
                expected
            );
        }
    }

    #[test]
    fn stream_crosses_block_boundaries_in_order() {
        let key = SeedKey::new("s");
        let mut expected = key.block("c", 3, 0).to_vec();
        expected.extend_from_slice(&key.block("c", 3, 1));
        let got: Vec<u8> = key.bytes("c", 3).take(64).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn float_matches_byte_sum_formula() {
        let b = [151u8, 136, 121, 135];
        let sum: f64 = b
            .iter()
            .enumerate()
            .map(|(k, &x)| x as f64 / 256f64.powi(k as i32 + 1))
            .sum();
        assert_eq!(float_from_bytes(b), sum);
        assert!(float_from_bytes([255; 4]) < 1.0);
    }
}
