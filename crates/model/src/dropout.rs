//! Dropout (HF `StableDropout` in training, identity in inference), as one fused operation
//! ([`crate::fused::FusedOps::fused_dropout`]): on the flex CPU backend a counter-based mask
//! ([`crate::fused::mask`]) that the backward regenerates; elsewhere burn's Bernoulli mask.

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

use crate::fused::FusedOps;

/// Zeroes each element with probability `prob` and scales the rest by `1 / (1 - prob)` while training
/// (an autodiff backend); the identity otherwise.
#[derive(Module, Clone, Debug)]
pub struct Dropout {
    /// The probability of dropping an element, in `[0, 1)`.
    pub prob: f64,
}

impl Dropout {
    /// Dropout with probability `prob` (checked by the model config: `[0, 1)`).
    pub fn new(prob: f64) -> Self {
        Self { prob }
    }

    /// Applies the dropout to `x`.
    pub fn forward<B: Backend, const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        if !B::ad_enabled(&x.device()) || self.prob == 0.0 {
            return x;
        }
        B::fused_dropout(x, self.prob)
    }
}
