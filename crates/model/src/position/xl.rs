//! Transformer-XL relative attention (Dai et al. 2019) in its bidirectional form:
//! `score_ij = (q_i + u) . k_j + (q_i + v) . (W_R R_{i-j})`, R a fixed sinusoid over signed distances, W_R per
//! layer, u and v per head and shared by all layers. The position term is a matmul against the projected
//! distance table then a gather by `i - j`.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use super::absolute::sinusoid_table;
use super::hooks::AttentionHooks;
use super::relative::Positions;
use super::{Dims, heads_of, linear};
use crate::error::ConfigError;

/// The `xl` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct XlConfig {
    /// Clamp distances to `[-clamp_len, clamp_len]` (Transformer-XL's `clamp_len`); `None` keeps every
    /// distance, which the sinusoid defines at any length.
    pub clamp_len: Option<usize>,
}

impl XlConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.clamp_len == Some(0) {
            return Err(ConfigError::new(
                "position.clamp_len",
                "must be at least 1 (or absent for no clamping)",
            ));
        }
        Ok(())
    }
}

/// The global biases u and v, `[H, d_head]` each, shared by all layers.
#[derive(Module, Debug)]
pub struct XlShared<B: Backend> {
    /// Content bias u.
    pub r_w_bias: Param<Tensor<B, 2>>,
    /// Position bias v.
    pub r_r_bias: Param<Tensor<B, 2>>,
}

impl<B: Backend> XlShared<B> {
    /// The biases, normal with standard deviation `dims.init_std` (Transformer-XL's `init_std`, HF
    /// `TransfoXL` `_init_weights`).
    pub fn init(dims: &Dims, device: &B::Device) -> Self {
        let shape = [dims.heads, dims.head_size];
        Self {
            r_w_bias: super::normal_init(dims.init_std).init(shape, device),
            r_r_bias: super::normal_init(dims.init_std).init(shape, device),
        }
    }
}

/// What the XL terms need at forward time.
#[derive(Debug, Clone)]
pub struct XlInputs<B: Backend> {
    /// Sinusoids of the distances `-w ..= w`, `[2w + 1, hidden]`.
    pub table: Tensor<B, 2>,
    /// `[rows, 1, Nq, Nk]`: table row of `clamp(i - j) + w`.
    pub index: Tensor<B, 4, Int>,
    /// u, `[H, d]`.
    pub u: Tensor<B, 2>,
    /// v, `[H, d]`.
    pub v: Tensor<B, 2>,
}

impl<B: Backend> XlInputs<B> {
    /// Builds the distance table and index for `positions`.
    pub fn new(
        cfg: &XlConfig,
        shared: &XlShared<B>,
        positions: &Positions,
        hidden: usize,
        device: &B::Device,
    ) -> Self {
        let reach = positions.query.extent().max(positions.key_len).max(1) as i64 - 1;
        let w = cfg.clamp_len.map_or(reach, |c| reach.min(c as i64));
        Self {
            table: sinusoid_table(-w..=w, hidden, device),
            index: positions.index(device, |q, k| (q - k).clamp(-w, w) + w),
            u: shared.r_w_bias.val(),
            v: shared.r_r_bias.val(),
        }
    }
}

/// Per-layer W_R.
#[derive(Module, Debug)]
pub struct XlTerms<B: Backend> {
    /// Projects the distance sinusoids to per-head position keys (no bias).
    pub r_net: Linear<B>,
}

impl<B: Backend> XlTerms<B> {
    /// Builds W_R.
    pub fn init(dims: &Dims, device: &B::Device) -> Self {
        Self {
            r_net: linear(dims.hidden, dims.all_heads(), false, dims.init_std, device),
        }
    }

    /// `u . k_j + (q_i + v) . W_R R_{i-j}`, `[B, H, Nq, Nk]`.
    pub fn score_terms(
        &self,
        q: &Tensor<B, 4>,
        k: &Tensor<B, 4>,
        inputs: &XlInputs<B>,
    ) -> Tensor<B, 4> {
        let [b, h, nq, d] = q.dims();
        let nk = k.dims()[2];
        let u = inputs.u.clone().reshape([1, h, d, 1]);
        let v = inputs.v.clone().reshape([1, h, 1, d]);
        let content_bias = k.clone().matmul(u).swap_dims(2, 3); // [B, H, 1, Nk]
        let r = heads_of(self.r_net.forward(inputs.table.clone()), h); // [1, H, 2w+1, d]
        let pos = (q.clone() + v).matmul(r.swap_dims(2, 3)); // [B, H, Nq, 2w+1]
        let pos = pos.gather(3, inputs.index.clone().expand([b, h, nq, nk]));
        pos + content_bias
    }
}

/// Transformer-XL as one layer sees it: its terms before the scale (hook 2).
#[derive(Debug)]
pub struct XlAt<'a, B: Backend> {
    /// The layer's W_R.
    pub terms: &'a XlTerms<B>,
    /// The distance table, index, u and v of this forward pass.
    pub inputs: &'a XlInputs<B>,
}

impl<B: Backend> AttentionHooks<B> for XlAt<'_, B> {
    fn transform(&self, q: Tensor<B, 4>, k: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        (q, k)
    }

    fn score_terms(&self, q: &Tensor<B, 4>, k: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        Some(self.terms.score_terms(q, k, self.inputs))
    }

    fn scaled_bias(&self) -> Option<Tensor<B, 4>> {
        None
    }

    fn value_term(&self, _probs: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        None
    }
}
