//! ALiBi (Press, Smith and Lewis, ICLR 2022, "Train Short, Test Long"): a fixed linear penalty on distance,
//! one slope per head, added to the scores after the scale (hook 3, the scaled bias). No parameters, no
//! positions at the input.
//!
//! `bias[h, i, j] = -m_h |i - j|`: the symmetric form for a bidirectional encoder (the paper's causal form is
//! `-m_h (i - j)` for `j <= i`). Slopes follow the paper's code (and HF `build_alibi_tensor`): for a power of
//! two `H`, `m_h = 2^(-8 h / H)`, `h = 1..H`; otherwise the slopes of the largest power of two `P` below `H`,
//! then every other slope of `2P` for the remaining heads.

use burn::tensor::{Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

use super::relative::Positions;
use crate::error::ConfigError;

/// The `alibi` scheme: nothing to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AlibiConfig {}

impl AlibiConfig {
    /// Nothing to check: the slopes exist for any number of heads.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }

    /// The scaled bias `[rows, heads, Nq, Nk]`: `-m_h |i - j|` for query position `i`, key position `j`.
    pub fn bias<B: Backend>(
        &self,
        heads: usize,
        positions: &Positions,
        device: &B::Device,
    ) -> Tensor<B, 4> {
        let distance = positions.index::<B>(device, |q, k| (q - k).abs()).float(); // [rows, 1, Nq, Nk]
        let slopes: Vec<f32> = slopes(heads).into_iter().map(|m| -m as f32).collect();
        let slopes = Tensor::<B, 1>::from_data(TensorData::new(slopes, [heads]), device);
        distance * slopes.reshape([1, heads, 1, 1])
    }
}

/// The head slopes `m_1 .. m_H` of the paper's code (`get_slopes`), for any number of heads.
pub fn slopes(heads: usize) -> Vec<f64> {
    let power_of_two = |n: usize| -> Vec<f64> {
        // start = ratio = 2^(-8 / n): m_h = 2^(-8 h / n)
        (1..=n)
            .map(|h| 2f64.powf(-8.0 * h as f64 / n as f64))
            .collect()
    };
    if heads == 0 {
        return Vec::new();
    }
    if heads.is_power_of_two() {
        return power_of_two(heads);
    }
    let below = 1usize << heads.ilog2();
    let mut out = power_of_two(below);
    out.extend(
        power_of_two(2 * below)
            .into_iter()
            .step_by(2)
            .take(heads - below),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HF transformers 5.24 `build_alibi_tensor(torch.ones(1, 2), H, torch.float32)[:, 0, 1]` (the slope of
    /// each head at distance 1), printed once with Python and pasted here; powers of two and not.
    #[test]
    fn slopes_match_the_reference_implementation() {
        let hf: [(usize, &[f64]); 8] = [
            (1, &[0.00390625]),
            (2, &[0.0625, 0.00390625]),
            (3, &[0.0625, 0.00390625, 0.25]),
            (4, &[0.25, 0.0625, 0.015625, 0.00390625]),
            (5, &[0.25, 0.0625, 0.015625, 0.00390625, 0.5]),
            (6, &[0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]),
            (
                8,
                &[
                    0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625,
                ],
            ),
            (
                12,
                &[
                    0.5,
                    0.25,
                    0.125,
                    0.0625,
                    0.03125,
                    0.015625,
                    0.0078125,
                    0.00390625,
                    0.7071067690849304,
                    0.3535533845424652,
                    0.1767766773700714,
                    0.0883883386850357,
                ],
            ),
        ];
        for (heads, want) in hf {
            let got = slopes(heads);
            assert_eq!(got.len(), heads);
            for (g, w) in got.iter().zip(want) {
                // the reference computes in f32
                assert!((g - w).abs() < 1e-7, "{heads} heads: {got:?} vs {want:?}");
            }
        }
        // By hand: H = 8 is 1/2, 1/4, ..., 1/256.
        let by_hand: Vec<f64> = (1..=8).map(|h| 0.5f64.powi(h)).collect();
        assert_eq!(slopes(8), by_hand);
    }

    #[test]
    fn bias_is_minus_slope_times_distance() {
        type B = burn::backend::Flex;
        let heads = 3;
        let n = 5;
        let bias =
            AlibiConfig::default().bias::<B>(heads, &Positions::square(n), &Default::default());
        assert_eq!(bias.dims(), [1, heads, n, n]);
        let v: Vec<f32> = bias.into_data().to_vec().unwrap();
        let m = slopes(heads);
        for h in 0..heads {
            for i in 0..n {
                for j in 0..n {
                    let want = -(m[h] * (i as f64 - j as f64).abs()) as f32;
                    assert_eq!(v[(h * n + i) * n + j], want, "h {h}, i {i}, j {j}");
                }
            }
        }
    }
}
