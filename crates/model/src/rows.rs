//! Per-feature modules (Linear, LayerNorm) and the attention probabilities applied to activations flattened to
//! 2-D rows: `[B, N, D]` runs as `[B * N, D]` (a free reshape of a contiguous tensor).
//!
//! Why: on the flex CPU backend a broadcasting binary op (a bias add, LayerNorm's centring, scaling and
//! affine, softmax's max subtraction and division) has a row-wise fast path for 2-D tensors only; at rank 3
//! or 4 it walks every element with a generic strided iterator. Profiling a config-S training step
//! (docs/benchmarks.md) put about a third of the time there. The results are the same numbers.

use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use crate::config::HiddenAct;
use crate::fused::{Act, FusedOps};
use crate::norm::LayerNorm;

/// `layer` applied to every row of `x` `[B, N, D_in]` -> `[B, N, D_out]`.
pub fn linear<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    dense_rows(layer, x, None)
}

/// `act(layer(x))` for every row of `x` `[B, N, D_in]` -> `[B, N, D_out]`.
pub fn linear_act<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>, act: HiddenAct) -> Tensor<B, 3> {
    dense_rows(layer, x, Some(act))
}

/// [`dense`] on `[B, N, D_in]` as `[B * N, D_in]` rows, reshaped back to `[B, N, D_out]`.
fn dense_rows<B: Backend>(
    layer: &Linear<B>,
    x: Tensor<B, 3>,
    act: Option<HiddenAct>,
) -> Tensor<B, 3> {
    let [b, n, d] = x.dims();
    let y = dense(layer, x.reshape([b * n, d]), act);
    let out = y.dims()[1];
    y.reshape([b, n, out])
}

/// `act(layer(x))` for rows `x` `[rows, D_in]` (no activation when `act` is `None`): one fused operation
/// ([`crate::fused`]) when the layer has a bias and the activation is none or exact GELU, otherwise burn's
/// `Linear` then the activation.
pub fn dense<B: Backend>(
    layer: &Linear<B>,
    x: Tensor<B, 2>,
    act: Option<HiddenAct>,
) -> Tensor<B, 2> {
    let fused = match act {
        None => Some(Act::Identity),
        Some(HiddenAct::Gelu) => Some(Act::Gelu),
        Some(HiddenAct::GeluTanh | HiddenAct::Relu | HiddenAct::Silu | HiddenAct::Tanh) => None,
    };
    match (&layer.bias, fused) {
        (Some(bias), Some(f)) => B::fused_linear(x, layer.weight.val(), bias.val(), f),
        _ => {
            let y = layer.forward(x);
            match act {
                Some(act) => act.forward(y),
                None => y,
            }
        }
    }
}

/// `norm` applied to every row of `x` `[B, N, D]` (one fused operation, [`crate::fused`]).
pub fn layer_norm<B: Backend>(norm: &LayerNorm<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    norm.forward(x)
}

/// Attention probabilities `dropout(softmax(scores / scale + additive))` of `scores` `[B, H, Nq, Nk]`, with
/// `additive` (the mask and any scaled bias, broadcastable to it; full-shape is cheapest), as one fused operation ([`crate::fused`]);
/// the dropout acts in training only.
pub fn attention_probs<B: Backend>(
    scores: Tensor<B, 4>,
    additive: Tensor<B, 4>,
    scale: f64,
    dropout: &crate::dropout::Dropout,
) -> Tensor<B, 4> {
    let [b, h, nq, nk] = scores.dims();
    let prob = if B::ad_enabled(&scores.device()) {
        dropout.prob
    } else {
        0.0
    };
    let rows = |t: Tensor<B, 4>| t.reshape([b * h * nq, nk]);
    let additive = additive.expand([b, h, nq, nk]);
    B::fused_attention_probs(rows(scores), rows(additive), 1.0 / scale, prob)
        .reshape([b, h, nq, nk])
}
