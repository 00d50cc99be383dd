//! Fused operations: the encoder's hot element-wise paths (LayerNorm, the attention probabilities, dropout)
//! as single operations with their own backward.
//!
//! The seam is [`FusedOps`], a backend extension trait that every burn backend gets through one blanket
//! implementation. Its methods take the kernel path where one exists (the flex CPU backend, plain and under
//! `Autodiff`: [`flex`], with its kernels in [`kernels`]) and otherwise the decomposed form in plain burn
//! tensor ops ([`reference`]), which every other backend (CUDA today) runs unchanged and which the tests
//! compare the kernels against. The kernel path is chosen by the backend's type at run time (a `TypeId`
//! comparison and a downcast of the tensor primitive), so the model stays generic over `B: Backend` and a
//! new backend needs no code here to work.
//!
//! Under `Autodiff<Flex>` the decomposed LayerNorm is 5-9 tracked element-wise operations (each a pass over
//! the activations forward and backward); the fused one is one pass forward and one backward, from the saved
//! normalised rows and inverse standard deviations. The attention probabilities save the probabilities before
//! dropout; their backward is one pass, `ds = p (g - sum(g p))` with `g` the incoming gradient through the
//! regenerated dropout mask.

pub mod flex;
pub mod kernels;
pub mod linear;
pub mod mask;
pub mod reference;

use std::any::{Any, TypeId};

use burn::backend::Flex;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Distribution, Tensor, TensorPrimitive};
use burn_flex::FlexTensor;

use flex::FlexAutodiff;
pub use linear::Act;

/// The fused operations a backend offers; every backend has them (see the module documentation).
pub trait FusedOps: Backend {
    /// LayerNorm over the last dimension of `x` `[rows, d]` with scale `gamma` and shift `beta` `[d]`.
    fn fused_layer_norm(
        x: Tensor<Self, 2>,
        gamma: Tensor<Self, 1>,
        beta: Tensor<Self, 1>,
        eps: f64,
    ) -> Tensor<Self, 2>;

    /// Dropout of `x` with probability `prob` in `(0, 1)` (the caller applies it in training only).
    fn fused_dropout<const D: usize>(x: Tensor<Self, D>, prob: f64) -> Tensor<Self, D>;

    /// Attention probabilities of rows `[rows, Nk]`: `dropout(softmax(scores * inv_scale + additive))`, the
    /// dropout with probability `prob` (0: none). `additive` (mask and scaled biases) has the shape of
    /// `scores`; both get gradients.
    fn fused_attention_probs(
        scores: Tensor<Self, 2>,
        additive: Tensor<Self, 2>,
        inv_scale: f64,
        prob: f64,
    ) -> Tensor<Self, 2>;

    /// A linear layer with its bias and activation, `act(x w + b)`, for rows `x` `[rows, d_in]`, `w`
    /// `[d_in, d_out]` (burn's `Linear` layout), `b` `[d_out]`.
    fn fused_linear(
        x: Tensor<Self, 2>,
        weight: Tensor<Self, 2>,
        bias: Tensor<Self, 1>,
        act: Act,
    ) -> Tensor<Self, 2>;
}

/// A 64-bit key for one dropout call, drawn from the backend's seeded generator (two uniform floats' bits),
/// so that seeding the backend before a step fixes every mask of the step.
fn draw_key<B: Backend>(device: &B::Device) -> u64 {
    let v = Tensor::<B, 1>::random([2], Distribution::Default, device)
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap_or_default();
    let bits = |i: usize| v.get(i).map_or(0, |x| u64::from(x.to_bits()));
    (bits(0) << 32) | bits(1)
}

/// Moves `value` into type `U` when it is one (`Err(value)` otherwise).
fn cast<T: 'static, U: 'static>(value: T) -> Result<U, T> {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(u) => Ok(u.take().expect("just filled")),
        None => Err(slot.expect("untouched")),
    }
}

fn primitive<B: Backend, const D: usize>(t: Tensor<B, D>) -> B::FloatTensorPrimitive {
    t.into_primitive().tensor()
}

fn wrap<B: Backend, const D: usize>(p: B::FloatTensorPrimitive) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

/// Which kernel path a backend takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `Flex`: forward kernels.
    Flex,
    /// `Autodiff<Flex>`: forward kernels and one graph node with its backward kernel.
    FlexAutodiff,
    /// Any other backend: the decomposed reference.
    Reference,
}

/// The path `B` takes.
pub fn path_of<B: Backend>() -> Path {
    let id = TypeId::of::<B>();
    if id == TypeId::of::<Flex>() {
        Path::Flex
    } else if id == TypeId::of::<FlexAutodiff>() {
        Path::FlexAutodiff
    } else {
        Path::Reference
    }
}

impl<B: Backend> FusedOps for B {
    fn fused_layer_norm(
        x: Tensor<B, 2>,
        gamma: Tensor<B, 1>,
        beta: Tensor<B, 1>,
        eps: f64,
    ) -> Tensor<B, 2> {
        match path_of::<B>() {
            Path::Flex => {
                let p = |t| cast::<B::FloatTensorPrimitive, FlexTensor>(t).ok();
                let (px, pg, pb) = (
                    p(primitive(x.clone())),
                    p(primitive(gamma.clone())),
                    p(primitive(beta.clone())),
                );
                if let (Some(px), Some(pg), Some(pb)) = (px, pg, pb)
                    && let Some((y, _, _)) = flex::layer_norm_forward(&px, &pg, &pb, eps)
                    && let Ok(y) = cast::<FlexTensor, B::FloatTensorPrimitive>(y)
                {
                    return wrap(y);
                }
                reference::layer_norm(x, gamma, beta, eps)
            }
            Path::FlexAutodiff => {
                let p = |t| cast::<B::FloatTensorPrimitive, FloatTensor<FlexAutodiff>>(t).ok();
                let (px, pg, pb) = (
                    p(primitive(x.clone())),
                    p(primitive(gamma.clone())),
                    p(primitive(beta.clone())),
                );
                if let (Some(px), Some(pg), Some(pb)) = (px, pg, pb)
                    && let Some(y) = flex::layer_norm_autodiff(px, pg, pb, eps)
                    && let Ok(y) = cast::<FloatTensor<FlexAutodiff>, B::FloatTensorPrimitive>(y)
                {
                    return wrap(y);
                }
                reference::layer_norm(x, gamma, beta, eps)
            }
            Path::Reference => reference::layer_norm(x, gamma, beta, eps),
        }
    }

    fn fused_dropout<const D: usize>(x: Tensor<B, D>, prob: f64) -> Tensor<B, D> {
        match path_of::<B>() {
            Path::FlexAutodiff => {
                let key = draw_key::<B>(&x.device());
                if let Ok(px) = cast::<_, FloatTensor<FlexAutodiff>>(primitive(x.clone()))
                    && let Some(y) = flex::dropout_autodiff(px, prob, key)
                    && let Ok(y) = cast::<_, B::FloatTensorPrimitive>(y)
                {
                    return wrap(y);
                }
                reference::dropout(x, prob)
            }
            Path::Flex => {
                let key = draw_key::<B>(&x.device());
                if let Ok(px) = cast::<_, FlexTensor>(primitive(x.clone()))
                    && let Some(y) = flex::dropout_forward(&px, prob, key)
                    && let Ok(y) = cast::<_, B::FloatTensorPrimitive>(y)
                {
                    return wrap(y);
                }
                reference::dropout(x, prob)
            }
            Path::Reference => reference::dropout(x, prob),
        }
    }

    fn fused_attention_probs(
        scores: Tensor<B, 2>,
        additive: Tensor<B, 2>,
        inv_scale: f64,
        prob: f64,
    ) -> Tensor<B, 2> {
        // the key is drawn on the kernel paths only: the reference draws its own mask
        let key = || {
            if prob > 0.0 {
                draw_key::<B>(&scores.device())
            } else {
                0
            }
        };
        match path_of::<B>() {
            Path::FlexAutodiff => {
                let p = |t| cast::<B::FloatTensorPrimitive, FloatTensor<FlexAutodiff>>(t).ok();
                if let (Some(ps), Some(pa)) =
                    (p(primitive(scores.clone())), p(primitive(additive.clone())))
                    && let Some(y) = flex::attention_probs_autodiff(ps, pa, inv_scale, prob, key())
                    && let Ok(y) = cast::<_, B::FloatTensorPrimitive>(y)
                {
                    return wrap(y);
                }
            }
            Path::Flex => {
                let p = |t| cast::<B::FloatTensorPrimitive, FlexTensor>(t).ok();
                if let (Some(ps), Some(pa)) =
                    (p(primitive(scores.clone())), p(primitive(additive.clone())))
                    && let Some((_, y)) =
                        flex::attention_probs_forward(&ps, &pa, inv_scale, prob, key())
                    && let Ok(y) = cast::<_, B::FloatTensorPrimitive>(y)
                {
                    return wrap(y);
                }
            }
            Path::Reference => {}
        }
        reference::attention_probs(scores, additive, inv_scale, prob)
    }

    fn fused_linear(
        x: Tensor<B, 2>,
        weight: Tensor<B, 2>,
        bias: Tensor<B, 1>,
        act: Act,
    ) -> Tensor<B, 2> {
        match path_of::<B>() {
            Path::FlexAutodiff => {
                let p = |t| cast::<B::FloatTensorPrimitive, FloatTensor<FlexAutodiff>>(t).ok();
                let (px, pw, pb) = (
                    p(primitive(x.clone())),
                    p(primitive(weight.clone())),
                    p(primitive(bias.clone())),
                );
                if let (Some(px), Some(pw), Some(pb)) = (px, pw, pb)
                    && let Some(y) = linear::autodiff(px, pw, pb, act)
                    && let Ok(y) = cast::<_, B::FloatTensorPrimitive>(y)
                {
                    return wrap(y);
                }
            }
            Path::Flex => {
                let p = |t| cast::<B::FloatTensorPrimitive, FlexTensor>(t).ok();
                let (px, pw, pb) = (
                    p(primitive(x.clone())),
                    p(primitive(weight.clone())),
                    p(primitive(bias.clone())),
                );
                if let (Some(px), Some(pw), Some(pb)) = (px, pw, pb)
                    && let Some((y, ..)) = linear::forward(&px, &pw, &pb, act)
                    && let Ok(y) = cast::<_, B::FloatTensorPrimitive>(y)
                {
                    return wrap(y);
                }
            }
            Path::Reference => {}
        }
        reference::linear(x, weight, bias, act)
    }
}
