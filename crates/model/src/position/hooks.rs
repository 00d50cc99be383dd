//! The four hooks through which a position scheme acts inside attention, in the order the core calls them:
//!
//! ```text
//! (q, k) = transform(q, k)                                  hook 1 (RoPE)
//! s      = (q k^T + score_terms) / scale + scaled_bias + mask   hooks 2 (Shaw, XL, DeBERTa) and 3 (ALiBi, T5, FIRE)
//! p      = softmax(s)
//! out    = p v + value_term                                 hook 4 (Shaw)
//! ```
//!
//! `scale = sqrt(d_head * (1 + terms))`, `terms` from [`super::PositionScheme::scale_terms`]. A scheme answers
//! every hook explicitly (the trait has no default methods), so none is forgotten.

use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

/// What a position scheme does inside one layer's attention. `q`: `[B, H, Nq, d]`, `k`: `[B, H, Nk, d]`,
/// `probs`: `[B, H, Nq, Nk]`; score terms and biases are `[B | 1, H, Nq, Nk]` (a leading 1 broadcasts).
pub trait AttentionHooks<B: Backend> {
    /// Hook 1: changes q and k before the dot product (the identity for most schemes).
    fn transform(&self, q: Tensor<B, 4>, k: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>);

    /// Hook 2: terms added to `q k^T` before the division by the scale.
    fn score_terms(&self, q: &Tensor<B, 4>, k: &Tensor<B, 4>) -> Option<Tensor<B, 4>>;

    /// Hook 3: a bias added after the division by the scale, next to the mask.
    fn scaled_bias(&self) -> Option<Tensor<B, 4>>;

    /// Hook 4: a term `[B, H, Nq, d]` added to `probs v`.
    fn value_term(&self, probs: &Tensor<B, 4>) -> Option<Tensor<B, 4>>;
}

/// The layer's content projections, for schemes that project their tables with them (DeBERTa's
/// `share_att_key`).
#[derive(Debug)]
pub struct Content<'a, B: Backend> {
    /// The content query projection.
    pub query_proj: &'a Linear<B>,
    /// The content key projection.
    pub key_proj: &'a Linear<B>,
}

impl<B: Backend> Clone for Content<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B: Backend> Copy for Content<'_, B> {}

/// A scheme that does nothing inside attention (absolute positions at the input, or none at all).
#[derive(Debug, Clone, Copy)]
pub struct NoHooks;

impl<B: Backend> AttentionHooks<B> for NoHooks {
    fn transform(&self, q: Tensor<B, 4>, k: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        (q, k)
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

/// A scheme whose only effect is a bias after the scale, built once per forward pass and the same in every
/// layer (ALiBi, T5, FIRE): `[rows, H, Nq, Nk]`.
#[derive(Debug)]
pub struct ScaledBias<'a, B: Backend>(pub &'a Tensor<B, 4>);

impl<B: Backend> AttentionHooks<B> for ScaledBias<'_, B> {
    fn transform(&self, q: Tensor<B, 4>, k: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        (q, k)
    }

    fn score_terms(&self, _q: &Tensor<B, 4>, _k: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        None
    }

    fn scaled_bias(&self) -> Option<Tensor<B, 4>> {
        Some(self.0.clone())
    }

    fn value_term(&self, _probs: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        None
    }
}

/// `x` `[B, H, Nq, Nk]` plus `bias` `[1 | B, H, Nq, Nk]`, as 2-D rows `[B, H * Nq * Nk]` so that a bias shared
/// by the batch takes the backend's fast row-wise broadcast (see `crate::rows`).
pub fn add_bias<B: Backend>(x: Tensor<B, 4>, bias: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, h, nq, nk] = x.dims();
    let rows = bias.dims()[0];
    let width = h * nq * nk;
    (x.reshape([b, width]) + bias.reshape([rows, width])).reshape([b, h, nq, nk])
}
