//! Dropout masks from a counter-based generator: element `i` of a dropout call with key `k` is kept when
//! the 32-bit word `i` of the stream `splitmix64(k + (i / 2 + 1) * GOLDEN)` (low word for even `i`, high
//! for odd) is at least `p * 2^32`. The mask is a pure function of (key, element index): the same for any
//! thread count, regenerated in the backward instead of stored, and reproduced exactly on resume because
//! the key is drawn from the backend's seeded generator.

use rayon::iter::{IndexedParallelIterator, ParallelIterator};
use rayon::slice::{ParallelSlice, ParallelSliceMut};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Elements handed to one rayon task (even, so that a 64-bit word never straddles two tasks).
const BLOCK: usize = 16 * 1024;

fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The drop threshold of probability `p` on 32-bit words.
pub fn threshold(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * 4_294_967_296.0) as u64
}

/// Whether element `i` of the call keyed `key` is kept.
pub fn kept(key: u64, i: usize, threshold: u64) -> bool {
    let word = splitmix64(key.wrapping_add(((i / 2) as u64 + 1).wrapping_mul(GOLDEN)));
    let half = if i.is_multiple_of(2) {
        word & 0xFFFF_FFFF
    } else {
        word >> 32
    };
    half >= threshold
}

/// `out[i] = x[i] * scale` where element `i` is kept, else 0.
pub fn apply(x: &[f32], key: u64, threshold: u64, scale: f32, out: &mut [f32]) {
    out.par_chunks_mut(BLOCK)
        .zip(x.par_chunks(BLOCK))
        .enumerate()
        .for_each(|(c, (out, x))| {
            let base = c * BLOCK;
            for (j, (o, v)) in out.iter_mut().zip(x).enumerate() {
                *o = if kept(key, base + j, threshold) {
                    v * scale
                } else {
                    0.0
                };
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_rate_is_one_minus_p_within_four_sigma() {
        let n = 200_000;
        for p in [0.1, 0.5] {
            let t = threshold(p);
            let kept_count = (0..n).filter(|&i| kept(12345, i, t)).count() as f64;
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (kept_count - n as f64 * (1.0 - p)).abs() < 4.0 * sd,
                "p {p}: kept {kept_count} of {n}"
            );
        }
        assert!((0..1000).all(|i| kept(7, i, threshold(0.0))));
        assert!((0..1000).all(|i| !kept(7, i, threshold(1.0))));
    }

    #[test]
    fn neighbouring_elements_and_keys_are_independent() {
        let t = threshold(0.5);
        // agreement of element i with i + 1, and of key k with k + 1, near one half
        let n = 100_000;
        let same_i = (0..n)
            .filter(|&i| kept(1, i, t) == kept(1, i + 1, t))
            .count() as f64;
        let same_k = (0..n).filter(|&i| kept(1, i, t) == kept(2, i, t)).count() as f64;
        for same in [same_i, same_k] {
            assert!((same / n as f64 - 0.5).abs() < 0.02, "{same}");
        }
    }
}
