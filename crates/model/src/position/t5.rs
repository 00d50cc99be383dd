//! T5's relative attention bias (Raffel et al. 2020): one learned scalar per (bucket, head), the bucket a
//! log-spaced function of the signed distance `j - i`, shared by all layers, added after the scale (hook 3).
//! T5 itself does not scale its scores; here the content scores keep `1 / sqrt(d)` and the bias is added
//! after, next to the mask.
//!
//! The table is HF's `relative_attention_bias.weight` (`[num_buckets, heads]`), named `rel_bias_table` here
//! and drawn from N(0, 0.02) like every other table of the lab (HF T5 draws it with std
//! `factor * d_model^-0.5`); a parameter named `*bias` would have to start at zero under the lab's
//! initialisation rule.

use burn::module::{Module, Param};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

use super::relative::Positions;
use crate::error::ConfigError;

/// The `t5` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct T5Config {
    /// Buckets over both directions (T5: 32; half of them for keys after the query).
    pub num_buckets: usize,
    /// Distances from this on share the last bucket of their direction (T5: 128).
    pub max_distance: usize,
}

impl Default for T5Config {
    fn default() -> Self {
        Self {
            num_buckets: 32,
            max_distance: 128,
        }
    }
}

impl T5Config {
    /// Checks that both directions get exact and logarithmic buckets.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.num_buckets < 4 || !self.num_buckets.is_multiple_of(2) {
            return Err(ConfigError::new(
                "position.num_buckets",
                format!(
                    "{} must be even and at least 4 (half the buckets for each direction; T5 uses 32)",
                    self.num_buckets
                ),
            ));
        }
        let max_exact = self.num_buckets / 4;
        if self.max_distance <= max_exact {
            return Err(ConfigError::new(
                "position.max_distance",
                format!(
                    "{} must exceed num_buckets / 4 = {max_exact}, where the logarithmic buckets start \
                     (T5 uses 128)",
                    self.max_distance
                ),
            ));
        }
        Ok(())
    }

    /// The bucket of the pair (query position, key position).
    pub fn bucket(&self, query: i64, key: i64) -> i64 {
        relative_position_bucket(key - query, self.num_buckets, self.max_distance)
    }
}

/// HF `T5Attention._relative_position_bucket(relative, bidirectional=True, num_buckets, max_distance)`,
/// `relative = key - query`: half the buckets for each direction (keys after the query from `num_buckets /
/// 2` on); within one, exact distances below `num_buckets / 4`, then logarithmic up to `max_distance`.
/// The logarithm is taken in f32 and truncated after the multiply, as HF does, so the same buckets come out.
pub fn relative_position_bucket(relative: i64, num_buckets: usize, max_distance: usize) -> i64 {
    let half = (num_buckets / 2) as i64;
    let offset = if relative > 0 { half } else { 0 };
    let distance = relative.abs();
    let max_exact = half / 2;
    if distance < max_exact {
        return offset + distance;
    }
    let log_ratio = (distance as f32 / max_exact as f32).ln()
        / (max_distance as f64 / max_exact as f64).ln() as f32;
    let large = max_exact + (log_ratio * (half - max_exact) as f32) as i64;
    offset + large.min(half - 1)
}

/// The table shared by all layers.
#[derive(Module, Debug)]
pub struct T5Bias<B: Backend> {
    /// `[num_buckets, heads]`: the bias of each bucket and head (HF `relative_attention_bias.weight`).
    pub rel_bias_table: Param<Tensor<B, 2>>,
}

impl<B: Backend> T5Bias<B> {
    /// The table, normal with standard deviation `std`.
    pub fn init(cfg: &T5Config, heads: usize, std: f64, device: &B::Device) -> Self {
        Self {
            rel_bias_table: super::normal_init(std).init([cfg.num_buckets, heads], device),
        }
    }

    /// The scaled bias `[rows, heads, Nq, Nk]`: `table[bucket(j - i), h]`.
    pub fn bias(&self, cfg: &T5Config, positions: &Positions, device: &B::Device) -> Tensor<B, 4> {
        let (rows, nq, nk) = (
            positions.query.index_rows(),
            positions.query.len(),
            positions.key_len,
        );
        let buckets = positions.values(|q, k| cfg.bucket(q, k));
        let index =
            Tensor::<B, 1, Int>::from_data(TensorData::new(buckets, [rows * nq * nk]), device);
        let table = self.rel_bias_table.val(); // [buckets, H]
        let heads = table.dims()[1];
        table
            .transpose()
            .select(1, index) // [H, rows * Nq * Nk]
            .reshape([heads, rows, nq, nk])
            .swap_dims(0, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HF transformers 5.24, printed once with Python and pasted here:
    /// `T5Attention._relative_position_bucket(torch.arange(-140, 141), bidirectional=True, num_buckets=32,
    /// max_distance=128)`. Both directions share the boundaries below (the first |r| of each bucket from 8
    /// on); keys after the query (r > 0) add 16.
    #[test]
    fn buckets_match_hf_t5_defaults() {
        // |r| < 8: exact; then buckets 8..=15 start at these |r|
        const STARTS: [i64; 8] = [8, 12, 16, 23, 32, 46, 64, 91];
        let hf = |r: i64| -> i64 {
            let a = r.abs();
            let b = if a < 8 {
                a
            } else {
                7 + STARTS.iter().filter(|&&s| a >= s).count() as i64
            };
            b + if r > 0 { 16 } else { 0 }
        };
        // spot values straight from the printed table
        for (r, b) in [
            (0, 0),
            (-1, 1),
            (-7, 7),
            (-8, 8),
            (-11, 8),
            (-12, 9),
            (-22, 10),
            (-23, 11),
            (-45, 12),
            (-46, 13),
            (-63, 13),
            (-64, 14),
            (-90, 14),
            (-91, 15),
            (-140, 15),
            (1, 17),
            (7, 23),
            (8, 24),
            (15, 25),
            (16, 26),
            (31, 27),
            (32, 28),
            (63, 29),
            (90, 30),
            (91, 31),
            (128, 31),
            (140, 31),
        ] {
            assert_eq!(relative_position_bucket(r, 32, 128), b, "r = {r}");
        }
        for r in -140..=140 {
            assert_eq!(relative_position_bucket(r, 32, 128), hf(r), "r = {r}");
        }
    }

    /// HF with num_buckets = 8, max_distance = 16 (the same script): max_exact = 2.
    #[test]
    fn buckets_match_hf_small() {
        let hf: [(i64, i64); 14] = [
            (-20, 3),
            (-6, 3),
            (-5, 2),
            (-2, 2),
            (-1, 1),
            (0, 0),
            (1, 5),
            (2, 6),
            (5, 6),
            (6, 7),
            (16, 7),
            (20, 7),
            (-3, 2),
            (3, 6),
        ];
        for (r, b) in hf {
            assert_eq!(relative_position_bucket(r, 8, 16), b, "r = {r}");
        }
    }

    #[test]
    fn bad_sizes_are_rejected_with_the_key() {
        let odd = T5Config {
            num_buckets: 7,
            ..T5Config::default()
        };
        assert_eq!(odd.validate().unwrap_err().key, "position.num_buckets");
        let short = T5Config {
            num_buckets: 32,
            max_distance: 8,
        };
        assert_eq!(short.validate().unwrap_err().key, "position.max_distance");
        assert!(T5Config::default().validate().is_ok());
    }
}
