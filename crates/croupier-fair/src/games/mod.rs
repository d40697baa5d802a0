//! The per-player games. Each module has a serde params type, `validate`, an outcome
//! function over the float stream and an exact theoretical RTP.

pub mod dice;
pub mod flip;
pub mod keno;
pub mod limbo;
pub mod mines;
pub mod plinko;
pub mod roulette;

mod keno_tables;
mod plinko_tables;

/// PROTOCOL's draw without replacement: each float picks `floor(f · len)` from the
/// remaining pool and *removes* it (shifting the rest), rather than swapping with the
/// last element. Returns 0-based picks in draw order, one per float.
pub(crate) fn draw_and_remove(pool_size: u8, floats: &[f64]) -> Vec<u8> {
    // A fixed array and copy_within: this runs in every simulated keno round.
    let mut remaining = [0u8; 64];
    let mut len = (pool_size as usize).min(remaining.len());
    let mut i = 0;
    while i < len {
        remaining[i] = i as u8;
        i += 1;
    }
    let mut out = Vec::with_capacity(floats.len().min(len));
    for &f in floats {
        if len == 0 {
            break;
        }
        // f < 1 from the stream; the min() only guards arbitrary caller input.
        let i = ((f * len as f64) as usize).min(len - 1);
        out.push(remaining[i]);
        remaining.copy_within(i + 1..len, i);
        len -= 1;
    }
    out
}

/// Binomial coefficient, exact (all arguments here are ≤ 40).
pub(crate) fn choose(n: u64, k: u64) -> u128 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    (0..k as u128).fold(1u128, |acc, i| acc * (n as u128 - i) / (i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_small_values() {
        assert_eq!(choose(25, 0), 1);
        assert_eq!(choose(25, 3), 2300);
        assert_eq!(choose(40, 10), 847_660_528);
        assert_eq!(choose(3, 4), 0);
    }

    #[test]
    fn draw_removes_rather_than_swaps() {
        // pick index 0 of [0,1,2,3] -> 0; then index 0 of [1,2,3] -> 1 (a swap-with-last
        // implementation would give 3).
        assert_eq!(draw_and_remove(4, &[0.0, 0.0, 0.0, 0.0]), vec![0, 1, 2, 3]);
        assert_eq!(
            draw_and_remove(4, &[0.99, 0.99, 0.99, 0.99]),
            vec![3, 2, 1, 0]
        );
    }
}
