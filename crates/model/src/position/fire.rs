//! FIRE (Li et al., ICLR 2024, "Functional Interpolation for Relative Positions Improves Long Context
//! Transformers", arXiv 2310.04418): a small MLP of the log-transformed, progressively normalised distance,
//! one output per head, shared by all layers, added after the scale (hook 3):
//!
//! `bias[h, i, j] = f_theta( psi(|i - j|) / psi(max(L, p)), sign(i - j) )_h`, `psi(x) = log(c x + 1)`,
//!
//! `f_theta` = Linear -> ReLU -> Linear (hidden width 32), `c` and the threshold `L` learned and positive.
//!
//! The paper defines FIRE for a causal model (`j <= i`, normaliser `p = i`, the query position: every key it
//! sees is at most `i` away). This encoder is bidirectional, for which there is no single published form;
//! the choices made here, each a config key:
//! - `psi` takes the distance `|i - j|` (the paper's code takes `|c (i - j)|` too);
//! - `direction = true` (default) gives the MLP `sign(i - j)` as a second input, so that it can tell the key
//!   before the query from the key after it (with `false`, the bias is symmetric, like bidirectional ALiBi);
//! - `normaliser = "row"` (default) normalises by `p = n`, the row length, since every query sees the whole
//!   row (the inputs stay in `[0, 1]` at any length); `"query"` uses the paper's `p = i`. `n` is the length
//!   of the batch's rows, padding included: a padded row is normalised as if it were full length (while
//!   `n <= L`, the usual case in training, the normaliser is `psi(L)` either way).
//!
//! `c` and `L` are stored as logarithms (`c = init_c * exp(log_c)`, `L = init_threshold * exp(log_threshold)`,
//! both starting at 0), which keeps them positive (the paper's code takes absolute values instead). The
//! normaliser gets `+ 1e-6` as in the paper's code. The MLP runs once per forward pass on every (query, key)
//! pair, so it holds an `[Nq * Nk, mlp_width]` activation (32 MiB at 512 x 512); the layers share its output.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData, activation::relu, backend::Backend};
use serde::{Deserialize, Serialize};

use super::relative::{Positions, QueryPositions};
use crate::error::ConfigError;

/// Added to the normaliser, as in the paper's code.
pub const FIRE_EPS: f64 = 1e-6;

/// The position `p` in the normaliser `psi(max(L, p))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FireNormaliser {
    /// `p = n`, the row length: the same for every query of a row (bidirectional).
    #[default]
    Row,
    /// `p = i`, the query's position, as in the paper's causal form.
    Query,
}

/// The `fire` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FireConfig {
    /// Hidden width of the MLP (the paper: 32).
    pub mlp_width: usize,
    /// The starting value of `c` in `psi(x) = log(c x + 1)` (the paper's code: 0.1).
    pub init_c: f64,
    /// The starting value of the threshold `L` (the paper's code: 512).
    pub init_threshold: f64,
    /// Give the MLP `sign(i - j)` as a second input.
    pub direction: bool,
    /// What the distance is normalised by.
    pub normaliser: FireNormaliser,
}

impl Default for FireConfig {
    fn default() -> Self {
        Self {
            mlp_width: 32,
            init_c: 0.1,
            init_threshold: 512.0,
            direction: true,
            normaliser: FireNormaliser::Row,
        }
    }
}

impl FireConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.mlp_width == 0 {
            return Err(ConfigError::new(
                "position.mlp_width",
                "must be at least 1 (the paper uses 32)",
            ));
        }
        for (key, v) in [
            ("position.init_c", self.init_c),
            ("position.init_threshold", self.init_threshold),
        ] {
            if !v.is_finite() || v <= 0.0 {
                return Err(ConfigError::new(
                    key,
                    format!("{v} must be a positive number"),
                ));
            }
        }
        Ok(())
    }

    /// Inputs of the MLP: the normalised distance, and the direction when asked for.
    pub fn mlp_inputs(&self) -> usize {
        if self.direction { 2 } else { 1 }
    }
}

/// The MLP and the two scalars, shared by all layers.
#[derive(Module, Debug)]
pub struct FireBias<B: Backend> {
    /// `inputs -> mlp_width`, then ReLU.
    pub mlp_in: Linear<B>,
    /// `mlp_width -> heads`.
    pub mlp_out: Linear<B>,
    /// `[1]`: `c = init_c * exp(log_c)`.
    pub log_c: Param<Tensor<B, 1>>,
    /// `[1]`: `L = init_threshold * exp(log_threshold)`.
    pub log_threshold: Param<Tensor<B, 1>>,
}

impl<B: Backend> FireBias<B> {
    /// The MLP with HF's initialisation (weights normal with standard deviation `std`, zero biases); `c`
    /// and `L` at their starting values.
    pub fn init(cfg: &FireConfig, heads: usize, std: f64, device: &B::Device) -> Self {
        Self {
            mlp_in: super::linear(cfg.mlp_inputs(), cfg.mlp_width, true, std, device),
            mlp_out: super::linear(cfg.mlp_width, heads, true, std, device),
            log_c: Param::from_tensor(Tensor::zeros([1], device)),
            log_threshold: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// `c` and `L` as tensors `[1]`.
    pub fn c_and_threshold(&self, cfg: &FireConfig) -> (Tensor<B, 1>, Tensor<B, 1>) {
        (
            self.log_c.val().exp() * cfg.init_c,
            self.log_threshold.val().exp() * cfg.init_threshold,
        )
    }

    /// The scaled bias `[rows, heads, Nq, Nk]`.
    pub fn bias(
        &self,
        cfg: &FireConfig,
        positions: &Positions,
        device: &B::Device,
    ) -> Tensor<B, 4> {
        let (rows, nq, nk) = (
            positions.query.index_rows(),
            positions.query.len(),
            positions.key_len,
        );
        let pairs = rows * nq * nk;
        let floats = |v: Vec<i64>, shape: [usize; 3]| {
            let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
            Tensor::<B, 3>::from_data(TensorData::new(v, shape), device)
        };
        let distance = floats(positions.values(|q, k| (q - k).abs()), [rows, nq, nk]);
        let normaliser_at: Vec<i64> = match (cfg.normaliser, &positions.query) {
            (FireNormaliser::Row, _) => vec![nk as i64; rows * nq],
            (FireNormaliser::Query, QueryPositions::Range(n)) => (0..*n as i64).collect(),
            (FireNormaliser::Query, QueryPositions::PerRow(per_row)) => {
                per_row.iter().flatten().map(|&p| p as i64).collect()
            }
        };
        let normaliser_at = floats(normaliser_at, [rows, nq, 1]);

        let (c, threshold) = self.c_and_threshold(cfg);
        let c = c.reshape([1, 1, 1]);
        let psi = |x: Tensor<B, 3>| (x * c.clone()).log1p();
        let threshold = threshold.reshape([1, 1, 1]).expand([rows, nq, 1]);
        let denominator = psi(normaliser_at.max_pair(threshold)) + FIRE_EPS;
        let ratio = (psi(distance) / denominator).reshape([pairs, 1]);
        let input = if cfg.direction {
            let sign = floats(positions.values(|q, k| (q - k).signum()), [rows, nq, nk]);
            Tensor::cat(vec![ratio, sign.reshape([pairs, 1])], 1)
        } else {
            ratio
        };
        let out = self.mlp_out.forward(relu(self.mlp_in.forward(input))); // [pairs, H]
        let heads = out.dims()[1];
        out.transpose()
            .reshape([heads, rows, nq, nk])
            .swap_dims(0, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_rejected_with_the_key() {
        let zero = FireConfig {
            mlp_width: 0,
            ..FireConfig::default()
        };
        assert_eq!(zero.validate().unwrap_err().key, "position.mlp_width");
        let neg = FireConfig {
            init_c: -1.0,
            ..FireConfig::default()
        };
        assert_eq!(neg.validate().unwrap_err().key, "position.init_c");
        let nan = FireConfig {
            init_threshold: f64::NAN,
            ..FireConfig::default()
        };
        assert_eq!(nan.validate().unwrap_err().key, "position.init_threshold");
        assert!(FireConfig::default().validate().is_ok());
    }
}
