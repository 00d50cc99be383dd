//! Shaw, Uszkoreit and Vaswani (2018): learned relative key and value vectors, `2k + 1` of each, clipped at
//! distance k, shared across heads, separate per layer.
//!
//! `e_ij = q_i . (k_j + aK[clip(j - i, -k, k)]) / sqrt(d)`, `z_i = sum_j a_ij (v_j + aV[clip(j - i, -k, k)])`.
//! The key term is a matmul against the `2k + 1`-row table then a gather; the value term scatters the
//! attention probabilities into `2k + 1` buckets per query, then one matmul. No `[N, N, d]` tensor is built.

use burn::module::{Module, Param};
use burn::tensor::{IndexingUpdateOp, Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use super::Dims;
use super::hooks::AttentionHooks;
use super::relative::{Positions, shaw_index};
use crate::error::ConfigError;

/// The `shaw` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShawConfig {
    /// Clipping distance k (128 here, the span of the other relative schemes; tensor2tensor used 20).
    pub max_relative_position: usize,
    /// Add the value term `aV`; `false` gives the key-only variant.
    pub value_term: bool,
}

impl Default for ShawConfig {
    fn default() -> Self {
        Self {
            max_relative_position: 128,
            value_term: true,
        }
    }
}

impl ShawConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_relative_position == 0 {
            return Err(ConfigError::new(
                "position.max_relative_position",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The `[rows, 1, Nq, Nk]` table-row index.
    pub fn index<B: Backend>(
        &self,
        positions: &Positions,
        device: &B::Device,
    ) -> Tensor<B, 4, Int> {
        positions.index(device, |q, k| shaw_index(q, k, self.max_relative_position))
    }
}

/// Per-layer tables.
#[derive(Module, Debug)]
pub struct ShawTerms<B: Backend> {
    /// `aK`, `[2k + 1, d_head]`.
    pub rel_key: Param<Tensor<B, 2>>,
    /// `aV`, `[2k + 1, d_head]`, absent in the key-only variant.
    pub rel_value: Option<Param<Tensor<B, 2>>>,
}

impl<B: Backend> ShawTerms<B> {
    /// Builds the tables (normal, standard deviation `dims.init_std`).
    pub fn init(dims: &Dims, cfg: &ShawConfig, device: &B::Device) -> Self {
        let rows = 2 * cfg.max_relative_position + 1;
        let init = super::normal_init(dims.init_std);
        Self {
            rel_key: init.init([rows, dims.head_size], device),
            rel_value: cfg
                .value_term
                .then(|| init.init([rows, dims.head_size], device)),
        }
    }

    /// `q_i . aK[idx(i, j)]`, `[B, H, Nq, Nk]`.
    pub fn score_terms(&self, q: &Tensor<B, 4>, index: &Tensor<B, 4, Int>) -> Tensor<B, 4> {
        let [b, h, nq, _] = q.dims();
        let nk = index.dims()[3];
        let table = self.rel_key.val().unsqueeze::<4>(); // [1, 1, 2k+1, d]
        let scores = q.clone().matmul(table.swap_dims(2, 3)); // [B, H, Nq, 2k+1]
        scores.gather(3, index.clone().expand([b, h, nq, nk]))
    }

    /// `sum_j a_ij aV[idx(i, j)]`, `[B, H, Nq, d]`, or `None` in the key-only variant.
    pub fn value_term(
        &self,
        probs: &Tensor<B, 4>,
        index: &Tensor<B, 4, Int>,
    ) -> Option<Tensor<B, 4>> {
        let rel_value = self.rel_value.as_ref()?.val();
        let [b, h, nq, nk] = probs.dims();
        let rows = rel_value.dims()[0];
        let buckets = Tensor::<B, 4>::zeros([b, h, nq, rows], &probs.device()).scatter(
            3,
            index.clone().expand([b, h, nq, nk]),
            probs.clone(),
            IndexingUpdateOp::Add,
        );
        Some(buckets.matmul(rel_value.unsqueeze::<4>()))
    }
}

/// Shaw's scheme as one layer sees it: the key term before the scale (hook 2), the value term (hook 4).
#[derive(Debug)]
pub struct ShawAt<'a, B: Backend> {
    /// The layer's tables.
    pub terms: &'a ShawTerms<B>,
    /// The table-row index of this forward pass, `[rows, 1, Nq, Nk]`.
    pub index: &'a Tensor<B, 4, Int>,
}

impl<B: Backend> AttentionHooks<B> for ShawAt<'_, B> {
    fn transform(&self, q: Tensor<B, 4>, k: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        (q, k)
    }

    fn score_terms(&self, q: &Tensor<B, 4>, _k: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        Some(self.terms.score_terms(q, self.index))
    }

    fn scaled_bias(&self) -> Option<Tensor<B, 4>> {
        None
    }

    fn value_term(&self, probs: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        self.terms.value_term(probs, self.index)
    }
}
