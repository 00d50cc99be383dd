//! A keyed pseudo-random permutation of `0..n` evaluated one index at a time.
//!
//! The epoch order of training sequences is `perm(position)`: a balanced Feistel network on the
//! smallest even-width power-of-two domain that holds `n`, with cycle walking back into `0..n`.
//! It needs O(1) memory whatever the corpus size, and a position alone (the data cursor) says
//! exactly where an epoch stands.

use crate::hashing::mix;

const ROUNDS: u64 = 6;

/// A bijection of `0..n` chosen by `key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    key: u64,
}

impl Permutation {
    /// The permutation of `0..n` for `key`.
    pub fn new(n: u64, key: u64) -> Self {
        let bits = if n <= 1 {
            2
        } else {
            64 - (n - 1).leading_zeros()
        };
        let half_bits = bits.div_ceil(2).max(1);
        Permutation { n, half_bits, key }
    }

    /// Size of the permuted range.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn round(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut l, mut r) = (x >> self.half_bits, x & mask);
        for i in 0..ROUNDS {
            let f = mix(&[self.key, i, r]) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    /// The image of `i` (`i < len()`).
    pub fn apply(&self, i: u64) -> u64 {
        debug_assert!(i < self.n, "index {i} outside 0..{}", self.n);
        let mut x = self.round(i);
        while x >= self.n {
            x = self.round(x);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_bijection_for_many_sizes() {
        for n in [1u64, 2, 3, 5, 16, 17, 100, 1000, 4097] {
            let p = Permutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.apply(i) as usize;
                assert!(!seen[j], "n={n}: {j} hit twice");
                seen[j] = true;
            }
        }
    }

    #[test]
    fn keys_give_different_orders() {
        let a: Vec<u64> = (0..200)
            .map(|i| Permutation::new(200, 1).apply(i))
            .collect();
        let b: Vec<u64> = (0..200)
            .map(|i| Permutation::new(200, 2).apply(i))
            .collect();
        assert_ne!(a, b);
        let fixed = a
            .iter()
            .enumerate()
            .filter(|(i, v)| *i as u64 == **v)
            .count();
        assert!(
            fixed < 20,
            "an order that is mostly the identity is no shuffle"
        );
    }
}
