//! Shaw, Uszkoreit and Vaswani (2018): learned relative key and value vectors, `2k + 1` of each, clipped at
//! distance k, shared across heads, separate per layer.
//!
//! `e_ij = q_i . (k_j + aK[clip(j - i, -k, k)]) / sqrt(d)`, `z_i = sum_j a_ij (v_j + aV[clip(j - i, -k, k)])`.
//! The key term is a matmul against the rows of the `2k + 1`-row table the pass reaches ([`ShawIndex`]) then
//! a gather; the value term scatters the attention probabilities into those rows' buckets per query, then one
//! matmul. No `[N, N, d]` tensor is built.

use burn::module::{Module, Param};
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData, backend::Backend};
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

    /// The table rows `positions` reach and the index into them.
    pub fn index<B: Backend>(&self, positions: &Positions, device: &B::Device) -> ShawIndex<B> {
        let values = positions.values(|q, k| shaw_index(q, k, self.max_relative_position));
        ShawIndex::new(values, positions, device)
    }
}

/// Which rows of the `2k + 1`-row tables a forward pass reaches (`first .. first + rows`: with N tokens and
/// N <= k, only the `2N - 1` rows of distances `-(N - 1) ..= N - 1`), and the index into that window. Both
/// terms then work on the window alone: the same values as on the whole table, whose other rows would get
/// zero weight and zero gradient.
#[derive(Debug, Clone)]
pub struct ShawIndex<B: Backend> {
    /// `[rows, 1, Nq, Nk]`: row of the window for each (query, key).
    pub index: Tensor<B, 4, Int>,
    /// The table row the window starts at.
    pub first: usize,
    /// Rows in the window.
    pub rows: usize,
}

impl<B: Backend> ShawIndex<B> {
    fn new(mut values: Vec<i64>, positions: &Positions, device: &B::Device) -> Self {
        let first = values.iter().copied().min().unwrap_or(0);
        let last = values.iter().copied().max().unwrap_or(0);
        values.iter_mut().for_each(|v| *v -= first);
        let shape = [
            positions.query.index_rows(),
            1,
            positions.query.len(),
            positions.key_len,
        ];
        Self {
            index: Tensor::from_data(TensorData::new(values, shape), device),
            first: first as usize,
            rows: (last - first + 1) as usize,
        }
    }

    fn window(&self, table: Tensor<B, 2>) -> Tensor<B, 2> {
        table.narrow(0, self.first, self.rows)
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
    pub fn score_terms(&self, q: &Tensor<B, 4>, index: &ShawIndex<B>) -> Tensor<B, 4> {
        let [b, h, nq, _] = q.dims();
        let nk = index.index.dims()[3];
        let table = index.window(self.rel_key.val()).unsqueeze::<4>(); // [1, 1, rows, d]
        let scores = q.clone().matmul(table.swap_dims(2, 3)); // [B, H, Nq, rows]
        scores.gather(3, index.index.clone().expand([b, h, nq, nk]))
    }

    /// `sum_j a_ij aV[idx(i, j)]`, `[B, H, Nq, d]`, or `None` in the key-only variant.
    pub fn value_term(&self, probs: &Tensor<B, 4>, index: &ShawIndex<B>) -> Option<Tensor<B, 4>> {
        let rel_value = index.window(self.rel_value.as_ref()?.val());
        let [b, h, nq, nk] = probs.dims();
        let buckets = Tensor::<B, 4>::zeros([b, h, nq, index.rows], &probs.device()).scatter(
            3,
            index.index.clone().expand([b, h, nq, nk]),
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
    /// The table window and index of this forward pass.
    pub index: &'a ShawIndex<B>,
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
