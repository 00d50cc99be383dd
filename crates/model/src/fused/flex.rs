//! The fused operations on the flex CPU backend, plain and under autodiff: the kernels of
//! [`super::kernels`] on contiguous `f32` storage, and for `Autodiff<Flex>` one graph node per operation
//! whose backward (burn-autodiff's `Backward`) runs the matching backward kernel from saved state.

use burn::backend::Flex;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Shape, TensorMetadata};
use burn_flex::FlexTensor;

use super::{kernels, mask};

/// The CPU autodiff backend the fused kernels serve.
pub type FlexAutodiff = Autodiff<Flex, NoCheckpointing>;

fn f32_rows(t: &FlexTensor) -> Option<(FlexTensor, usize)> {
    if t.dtype() != DType::F32 {
        return None;
    }
    let d = *t.shape().last()?;
    Some((t.to_contiguous(), d))
}

/// A zeroed `f32` tensor of `shape`. (Not `FlexTensor::empty`: that builds its buffer as bytes, recorded with
/// alignment 1, which burn's `Bytes` then copies into a freshly aligned allocation: a second full pass over
/// every output. A `Vec<f32>` is taken over as it is, and a large zeroed one comes from the allocator's
/// zero pages.)
pub(crate) fn f32_tensor(shape: Shape) -> FlexTensor {
    let n = shape.num_elements();
    FlexTensor::from_data(burn::tensor::TensorData::new(vec![0f32; n], shape))
}

fn vector(values: Vec<f32>) -> FlexTensor {
    let n = values.len();
    FlexTensor::from_data(burn::tensor::TensorData::new(values, [n]))
}

/// LayerNorm over the last dimension on flex tensors: `(y, xhat, rstd)`, or `None` for a dtype the kernel
/// does not take.
pub fn layer_norm_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    eps: f64,
) -> Option<(FlexTensor, FlexTensor, FlexTensor)> {
    let (x, d) = f32_rows(x)?;
    let (gamma, _) = f32_rows(gamma)?;
    let (beta, _) = f32_rows(beta)?;
    let shape = x.shape();
    let rows = shape.num_elements() / d.max(1);
    let mut y = f32_tensor(shape.clone());
    let mut xhat = f32_tensor(shape);
    let mut rstd = f32_tensor(Shape::new([rows]));
    kernels::layer_norm_forward(
        x.storage::<f32>(),
        gamma.storage::<f32>(),
        beta.storage::<f32>(),
        d,
        eps as f32,
        y.storage_mut::<f32>(),
        xhat.storage_mut::<f32>(),
        rstd.storage_mut::<f32>(),
    );
    Some((y, xhat, rstd))
}

#[derive(Debug)]
struct LayerNormBackward;

impl Backward<Flex, 3> for LayerNormBackward {
    /// `xhat`, `rstd`, `gamma`.
    type State = (FlexTensor, FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (xhat, rstd, gamma) = ops.state;
        let d = *xhat.shape().last().expect("rank >= 1");
        let mut dx = f32_tensor(xhat.shape());
        let (dgamma, dbeta) = kernels::layer_norm_backward(
            dy.storage::<f32>(),
            xhat.storage::<f32>(),
            rstd.storage::<f32>(),
            gamma.storage::<f32>(),
            d,
            dx.storage_mut::<f32>(),
        );
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, vector(dgamma));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, vector(dbeta));
        }
    }
}

/// LayerNorm as one autodiff node, or `None` when the kernel does not apply (the caller then takes the
/// reference path).
pub fn layer_norm_autodiff(
    x: FloatTensor<FlexAutodiff>,
    gamma: FloatTensor<FlexAutodiff>,
    beta: FloatTensor<FlexAutodiff>,
    eps: f64,
) -> Option<FloatTensor<FlexAutodiff>> {
    let (y, xhat, rstd) = layer_norm_forward(&x.primitive, &gamma.primitive, &beta.primitive, eps)?;
    let nodes = [x.node.clone(), gamma.node.clone(), beta.node.clone()];
    Some(
        match LayerNormBackward
            .prepare::<NoCheckpointing>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((xhat, rstd, gamma.primitive.to_contiguous()), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        },
    )
}

#[derive(Debug)]
struct DropoutBackward;

impl Backward<Flex, 1> for DropoutBackward {
    /// The call's key, drop threshold and scale: the mask is regenerated, not stored.
    type State = (u64, u64, f32);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let Some(node) = node_x else { return };
        let (key, threshold, scale) = ops.state;
        let mut dx = f32_tensor(dy.shape());
        mask::apply(
            dy.storage::<f32>(),
            key,
            threshold,
            scale,
            dx.storage_mut::<f32>(),
        );
        grads.register::<Flex>(node.id, dx);
    }
}

/// Dropout with probability `prob` and key `key` on a flex tensor, or `None` for another dtype.
pub fn dropout_forward(x: &FlexTensor, prob: f64, key: u64) -> Option<FlexTensor> {
    if x.dtype() != DType::F32 {
        return None;
    }
    let x = x.to_contiguous();
    let mut y = f32_tensor(x.shape());
    let scale = (1.0 / (1.0 - prob)) as f32;
    mask::apply(
        x.storage::<f32>(),
        key,
        mask::threshold(prob),
        scale,
        y.storage_mut::<f32>(),
    );
    Some(y)
}

/// Dropout as one autodiff node whose backward regenerates the mask, or `None` when the kernel does
/// not apply.
pub fn dropout_autodiff(
    x: FloatTensor<FlexAutodiff>,
    prob: f64,
    key: u64,
) -> Option<FloatTensor<FlexAutodiff>> {
    let y = dropout_forward(&x.primitive, prob, key)?;
    let state = (key, mask::threshold(prob), (1.0 / (1.0 - prob)) as f32);
    Some(
        match DropoutBackward
            .prepare::<NoCheckpointing>([x.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(state, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        },
    )
}

#[derive(Debug)]
struct AttentionProbsBackward;

impl Backward<Flex, 2> for AttentionProbsBackward {
    /// The probabilities before dropout, `1 / scale`, and the dropout's key, threshold and scale.
    type State = (FlexTensor, f32, Option<(u64, u64, f32)>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_scores, node_additive] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (p, inv_scale, dropout) = ops.state;
        let d = *p.shape().last().expect("rank >= 1");
        let mut d_scores = f32_tensor(p.shape());
        let mut d_additive = f32_tensor(p.shape());
        kernels::attention_probs_backward(
            dy.storage::<f32>(),
            p.storage::<f32>(),
            inv_scale,
            d,
            dropout,
            d_scores.storage_mut::<f32>(),
            d_additive.storage_mut::<f32>(),
        );
        if let Some(node) = node_scores {
            grads.register::<Flex>(node.id, d_scores);
        }
        if let Some(node) = node_additive {
            grads.register::<Flex>(node.id, d_additive);
        }
    }
}

/// `softmax(scores * inv_scale + additive)` then dropout (`prob` 0: none) on flex tensors of equal shape:
/// `(p, y)`, or `None` when the kernel does not apply.
pub fn attention_probs_forward(
    scores: &FlexTensor,
    additive: &FlexTensor,
    inv_scale: f64,
    prob: f64,
    key: u64,
) -> Option<(FlexTensor, FlexTensor)> {
    let (scores, d) = f32_rows(scores)?;
    let (additive, _) = f32_rows(additive)?;
    if scores.shape() != additive.shape() {
        return None;
    }
    let mut p = f32_tensor(scores.shape());
    if prob == 0.0 {
        kernels::attention_probs_forward(
            scores.storage::<f32>(),
            additive.storage::<f32>(),
            inv_scale as f32,
            d,
            p.storage_mut::<f32>(),
            None,
        );
        return Some((p.clone(), p));
    }
    let mut y = f32_tensor(scores.shape());
    let drop = (
        y.storage_mut::<f32>(),
        key,
        mask::threshold(prob),
        (1.0 / (1.0 - prob)) as f32,
    );
    kernels::attention_probs_forward(
        scores.storage::<f32>(),
        additive.storage::<f32>(),
        inv_scale as f32,
        d,
        p.storage_mut::<f32>(),
        Some(drop),
    );
    Some((p, y))
}

/// Attention probabilities as one autodiff node with both inputs' gradients, or `None` when the kernel
/// does not apply.
pub fn attention_probs_autodiff(
    scores: FloatTensor<FlexAutodiff>,
    additive: FloatTensor<FlexAutodiff>,
    inv_scale: f64,
    prob: f64,
    key: u64,
) -> Option<FloatTensor<FlexAutodiff>> {
    let (p, y) =
        attention_probs_forward(&scores.primitive, &additive.primitive, inv_scale, prob, key)?;
    let dropout = (prob > 0.0).then(|| (key, mask::threshold(prob), (1.0 / (1.0 - prob)) as f32));
    let nodes = [scores.node.clone(), additive.node.clone()];
    Some(
        match AttentionProbsBackward
            .prepare::<NoCheckpointing>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((p, inv_scale as f32, dropout), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        },
    )
}
