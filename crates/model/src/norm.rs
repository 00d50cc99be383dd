//! LayerNorm over the last dimension (HF `LayerNorm`, burn's parameter names `gamma`/`beta`), computed as one
//! fused operation ([`crate::fused`]) on rows.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::{Tensor, backend::Backend};

use crate::fused::FusedOps;

/// `y = (x - mean) / sqrt(var + epsilon) * gamma + beta` over the last dimension (biased variance).
#[derive(Module, Debug)]
pub struct LayerNorm<B: Backend> {
    /// Scale, `[d]`, initialised to 1.
    pub gamma: Param<Tensor<B, 1>>,
    /// Shift, `[d]`, initialised to 0 (always present; an `Option` so that records keep burn's layout).
    pub beta: Option<Param<Tensor<B, 1>>>,
    /// Added to the variance.
    #[module(skip)]
    pub epsilon: f64,
}

impl<B: Backend> LayerNorm<B> {
    /// A LayerNorm of width `d` at weight 1, bias 0.
    pub fn new(d: usize, epsilon: f64, device: &B::Device) -> Self {
        Self {
            gamma: Initializer::Ones.init([d], device),
            beta: Some(Initializer::Zeros.init([d], device)),
            epsilon,
        }
    }

    /// Normalises every row of `x` (any rank; the last dimension is the feature dimension).
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let dims = x.dims();
        let d = dims[D - 1];
        let rows = x.reshape([dims.iter().product::<usize>() / d.max(1), d]);
        let beta = match &self.beta {
            Some(b) => b.val(),
            None => Tensor::zeros([d], &rows.device()),
        };
        B::fused_layer_norm(rows, self.gamma.val(), beta, self.epsilon).reshape(dims)
    }
}
