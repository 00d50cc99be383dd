//! The decomposed forms of the fused operations in plain burn tensor ops: what every backend without a
//! kernel runs, and the reference the kernel tests compare against.

use burn::tensor::activation::{gelu, softmax as burn_softmax};
use burn::tensor::{Distribution, Tensor, backend::Backend};

use super::linear::Act;

/// LayerNorm over the last dimension (biased variance, as burn's and PyTorch's).
pub fn layer_norm<B: Backend>(
    x: Tensor<B, 2>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    eps: f64,
) -> Tensor<B, 2> {
    let (var, mean) = x.clone().var_mean_bias(1);
    let xhat = (x - mean) / (var + eps).sqrt();
    xhat * gamma.unsqueeze::<2>() + beta.unsqueeze::<2>()
}

/// Softmax over the last dimension.
pub fn softmax<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    burn_softmax(x, 1)
}

/// Dropout with burn's Bernoulli mask: kept elements scaled by `1 / (1 - prob)`.
pub fn dropout<B: Backend, const D: usize>(x: Tensor<B, D>, prob: f64) -> Tensor<B, D> {
    let keep = 1.0 - prob;
    let mask = x.random_like(Distribution::Bernoulli(keep));
    x * mask * (1.0 / keep)
}

/// `dropout(softmax(scores * inv_scale + additive))` (`prob` 0: no dropout).
pub fn attention_probs<B: Backend>(
    scores: Tensor<B, 2>,
    additive: Tensor<B, 2>,
    inv_scale: f64,
    prob: f64,
) -> Tensor<B, 2> {
    let p = softmax(scores * inv_scale + additive);
    if prob > 0.0 { dropout(p, prob) } else { p }
}

/// `act(x w + b)` for rows `x` `[rows, d_in]`, `w` `[d_in, d_out]`, `b` `[d_out]`.
pub fn linear<B: Backend>(
    x: Tensor<B, 2>,
    w: Tensor<B, 2>,
    b: Tensor<B, 1>,
    act: Act,
) -> Tensor<B, 2> {
    let z = x.matmul(w) + b.unsqueeze::<2>();
    match act {
        Act::Identity => z,
        Act::Gelu => gelu(z),
    }
}
