//! Per-feature modules (Linear, LayerNorm) and the attention softmax applied to activations flattened to
//! 2-D rows: `[B, N, D]` runs as `[B * N, D]` (a free reshape of a contiguous tensor).
//!
//! Why: on the flex CPU backend a broadcasting binary op (a bias add, LayerNorm's centring, scaling and
//! affine, softmax's max subtraction and division) has a row-wise fast path for 2-D tensors only; at rank 3
//! or 4 it walks every element with a generic strided iterator. Profiling a config-S training step
//! (docs/benchmarks.md) put about a third of the time there. The results are the same numbers.

use burn::nn::{LayerNorm, Linear};
use burn::tensor::{Tensor, activation::softmax, backend::Backend};

/// `layer` applied to every row of `x` `[B, N, D_in]` -> `[B, N, D_out]`.
pub fn linear<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, n, d] = x.dims();
    let y = layer.forward(x.reshape([b * n, d]));
    let out = y.dims()[1];
    y.reshape([b, n, out])
}

/// `norm` applied to every row of `x` `[B, N, D]`.
pub fn layer_norm<B: Backend>(norm: &LayerNorm<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, n, d] = x.dims();
    norm.forward(x.reshape([b * n, d])).reshape([b, n, d])
}

/// Softmax over the last dimension of `x` `[B, H, Nq, Nk]`.
pub fn softmax_last<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, h, nq, nk] = x.dims();
    softmax(x.reshape([b * h * nq, nk]), 1).reshape([b, h, nq, nk])
}
