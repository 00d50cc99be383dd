//! RoPE (Su et al. 2021, RoFormer): q and k of every head rotated by their position before the dot product
//! (hook 1, the q/k transform), so that `q_i . k_j` depends on positions only through `i - j`. Values are
//! not rotated; no parameters; no positions at the input.
//!
//! Pairing: HF's `rotate_half` layout pairs dimension `t` with `t + d/2` (not `2t` with `2t + 1`):
//! `x'_t = x_t cos(p theta_t) - x_{t+d/2} sin(p theta_t)`, `x'_{t+d/2} = x_{t+d/2} cos(p theta_t) + x_t sin(p theta_t)`,
//! `theta_t = base^(-2t/d)`, `t = 0 .. d/2 - 1`, `p` the token's position.

use burn::tensor::{Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

use super::hooks::AttentionHooks;
use super::relative::{Positions, QueryPositions};
use crate::error::ConfigError;

/// The `rope` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RopeConfig {
    /// The frequency base: `theta_t = base^(-2t/d)` (10000 in RoFormer and most models).
    pub base: f64,
}

impl Default for RopeConfig {
    fn default() -> Self {
        Self { base: 10000.0 }
    }
}

impl RopeConfig {
    /// Checks the base and that the head size can be split into pairs.
    pub fn validate(&self, head_size: usize) -> Result<(), ConfigError> {
        if !self.base.is_finite() || self.base <= 1.0 {
            return Err(ConfigError::new(
                "position.base",
                format!(
                    "{} must be a finite number above 1 (10000 is usual)",
                    self.base
                ),
            ));
        }
        if !head_size.is_multiple_of(2) {
            return Err(ConfigError::new(
                "attention_head_size",
                format!(
                    "rope rotates pairs of dimensions and needs an even head size, not {head_size}; \
                     change hidden_size, num_attention_heads or attention_head_size"
                ),
            ));
        }
        Ok(())
    }

    /// `(cos, sin)` of `p theta_t` for each of `positions`, `[len, d]`, the `d/2` angles written twice
    /// (the half-split layout).
    fn table<B: Backend>(
        &self,
        positions: impl Iterator<Item = usize>,
        head_size: usize,
        device: &B::Device,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let half = head_size / 2;
        let (mut cos, mut sin) = (Vec::new(), Vec::new());
        let mut len = 0;
        for p in positions {
            len += 1;
            for c in 0..head_size {
                let t = c % half;
                let angle = p as f64 * self.base.powf(-2.0 * t as f64 / head_size as f64);
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let make = |v| Tensor::from_data(TensorData::new(v, [len, head_size]), device);
        (make(cos), make(sin))
    }
}

/// The rotation tables of one forward pass, shared by all layers.
#[derive(Debug, Clone)]
pub struct RopeInputs<B: Backend> {
    /// `[rows, 1, Nq, d]` at the query positions.
    pub query_cos: Tensor<B, 4>,
    /// `[rows, 1, Nq, d]`.
    pub query_sin: Tensor<B, 4>,
    /// `[1, 1, Nk, d]` at the key positions `0..Nk`.
    pub key_cos: Tensor<B, 4>,
    /// `[1, 1, Nk, d]`.
    pub key_sin: Tensor<B, 4>,
}

impl<B: Backend> RopeInputs<B> {
    /// The tables for `positions`.
    pub fn new(
        cfg: &RopeConfig,
        head_size: usize,
        positions: &Positions,
        device: &B::Device,
    ) -> Self {
        let (rows, nq, nk) = (
            positions.query.index_rows(),
            positions.query.len(),
            positions.key_len,
        );
        let query_positions: Vec<usize> = match &positions.query {
            QueryPositions::Range(n) => (0..*n).collect(),
            QueryPositions::PerRow(per_row) => per_row.iter().flatten().copied().collect(),
        };
        let (qc, qs) = cfg.table::<B>(query_positions.into_iter(), head_size, device);
        let (kc, ks) = cfg.table::<B>(0..nk, head_size, device);
        let q = |t: Tensor<B, 2>| t.reshape([rows, 1, nq, head_size]);
        let k = |t: Tensor<B, 2>| t.reshape([1, 1, nk, head_size]);
        Self {
            query_cos: q(qc),
            query_sin: q(qs),
            key_cos: k(kc),
            key_sin: k(ks),
        }
    }
}

/// `x cos + rotate_half(x) sin` for `x` `[B, H, N, d]` and tables `[1 | B, 1, N, d]`.
pub fn rotate<B: Backend>(x: Tensor<B, 4>, cos: &Tensor<B, 4>, sin: &Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, h, n, d] = x.dims();
    let half = d / 2;
    let rotated = Tensor::cat(
        vec![
            x.clone().narrow(3, half, half).neg(),
            x.clone().narrow(3, 0, half),
        ],
        3,
    );
    if cos.dims()[0] == 1 {
        // as 2-D rows `[B * H, N * d]` against `[1, N * d]`: the backend's fast broadcast (see `crate::rows`)
        let flat = |t: Tensor<B, 4>| t.reshape([b * h, n * d]);
        let table = |t: &Tensor<B, 4>| t.clone().reshape([1, n * d]);
        (flat(x) * table(cos) + flat(rotated) * table(sin)).reshape([b, h, n, d])
    } else {
        x * cos.clone() + rotated * sin.clone()
    }
}

/// RoPE as one layer sees it: the transform hook only.
#[derive(Debug)]
pub struct RopeAt<'a, B: Backend>(pub &'a RopeInputs<B>);

impl<B: Backend> AttentionHooks<B> for RopeAt<'_, B> {
    fn transform(&self, q: Tensor<B, 4>, k: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let t = self.0;
        (
            rotate(q, &t.query_cos, &t.query_sin),
            rotate(k, &t.key_cos, &t.key_sin),
        )
    }

    fn score_terms(&self, _q: &Tensor<B, 4>, _k: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        None
    }

    fn scaled_bias(&self) -> Option<Tensor<B, 4>> {
        None
    }

    fn value_term(&self, _probs: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        None
    }
}
