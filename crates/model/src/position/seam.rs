//! Where a scheme's pieces live and how they meet at forward time:
//!
//! - [`SharedPosition`]: parameters shared by all layers, held once by the encoder (Transformer-XL's u and v,
//!   DeBERTa's relative table, T5's bucket table, FIRE's MLP);
//! - [`LayerPosition`]: parameters of one layer, held by its attention (Shaw's tables, XL's W_R, DeBERTa's
//!   position projections);
//! - [`PositionInputs`]: what a forward pass builds once from the shared parameters and the positions, and
//!   hands to every layer (indices, tables, biases), carrying the config the hooks need;
//! - [`PositionInputs::hooks`]: the scheme as one layer of one model sees it, the four hooks of
//!   [`AttentionHooks`].
//!
//! Every match here names every scheme: adding one is a compile error until each place answers for it.

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

use super::hooks::{AttentionHooks, Content, NoHooks, ScaledBias};
use super::relative::Positions;
use super::rope::{RopeAt, RopeInputs};
use super::{Dims, PositionScheme, disentangled, fire, shaw, t5, xl};

/// Per-layer parameters, for the schemes that have any.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum LayerPosition<B: Backend> {
    /// Shaw's `aK`, `aV`.
    Shaw(shaw::ShawTerms<B>),
    /// Transformer-XL's W_R.
    Xl(xl::XlTerms<B>),
    /// DeBERTa's `pos_key_proj`, `pos_query_proj`.
    Deberta(disentangled::DisentangledTerms<B>),
}

impl<B: Backend> LayerPosition<B> {
    /// The per-layer parameters of `scheme`, if it has any.
    pub fn init(scheme: &PositionScheme, dims: &Dims, device: &B::Device) -> Option<Self> {
        match scheme {
            PositionScheme::Shaw(c) => Some(Self::Shaw(shaw::ShawTerms::init(dims, c, device))),
            PositionScheme::Xl(_) => Some(Self::Xl(xl::XlTerms::init(dims, device))),
            PositionScheme::Deberta(c) => Some(Self::Deberta(
                disentangled::DisentangledTerms::init(dims, c, device),
            )),
            PositionScheme::Absolute(_)
            | PositionScheme::Alibi(_)
            | PositionScheme::Rope(_)
            | PositionScheme::T5(_)
            | PositionScheme::Fire(_)
            | PositionScheme::Nope => None,
        }
    }
}

/// Parameters shared by all layers, for the schemes that have any.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum SharedPosition<B: Backend> {
    /// Transformer-XL's u and v.
    Xl(xl::XlShared<B>),
    /// DeBERTa's relative table.
    Deberta(disentangled::RelEmbeddings<B>),
    /// T5's bias per bucket and head.
    T5(t5::T5Bias<B>),
    /// FIRE's MLP, `c` and threshold.
    Fire(fire::FireBias<B>),
}

impl<B: Backend> SharedPosition<B> {
    /// The shared parameters of `scheme`, if it has any.
    pub fn init(scheme: &PositionScheme, dims: &Dims, device: &B::Device) -> Option<Self> {
        match scheme {
            PositionScheme::Xl(_) => Some(Self::Xl(xl::XlShared::init(dims, device))),
            PositionScheme::Deberta(c) => Some(Self::Deberta(disentangled::RelEmbeddings::init(
                dims, c, device,
            ))),
            PositionScheme::T5(c) => Some(Self::T5(t5::T5Bias::init(
                c,
                dims.heads,
                dims.init_std,
                device,
            ))),
            PositionScheme::Fire(c) => Some(Self::Fire(fire::FireBias::init(
                c,
                dims.heads,
                dims.init_std,
                device,
            ))),
            PositionScheme::Absolute(_)
            | PositionScheme::Shaw(_)
            | PositionScheme::Alibi(_)
            | PositionScheme::Rope(_)
            | PositionScheme::Nope => None,
        }
    }
}

/// Everything a scheme needs at forward time, built once per pass from the shared parameters and the
/// positions, and handed to every layer.
#[derive(Debug, Clone)]
pub enum PositionInputs<B: Backend> {
    /// Absolute positions act at the input only.
    Absolute,
    /// Shaw's table window and index.
    Shaw(shaw::ShawIndex<B>),
    /// Transformer-XL's distance table, index and biases.
    Xl(xl::XlInputs<B>),
    /// DeBERTa's config, table and indices.
    Deberta(disentangled::DisentangledInputs<B>),
    /// ALiBi's bias, `[rows, H, Nq, Nk]`.
    Alibi(Tensor<B, 4>),
    /// RoPE's rotation tables.
    Rope(RopeInputs<B>),
    /// T5's bias, `[rows, H, Nq, Nk]`.
    T5(Tensor<B, 4>),
    /// FIRE's bias, `[rows, H, Nq, Nk]`.
    Fire(Tensor<B, 4>),
    /// No positions.
    Nope,
}

/// A shared-parameter enum that does not belong to the model's scheme: a model is built from one config, so
/// this is a programming error.
fn missing(scheme: &str, what: &str) -> ! {
    panic!("the model's {scheme} scheme found no {scheme} {what}: it was built from another config")
}

impl<B: Backend> PositionInputs<B> {
    /// Prepares the inputs of `scheme` for `positions`; `shared` is the encoder's [`SharedPosition`].
    pub fn new(
        scheme: &PositionScheme,
        dims: &Dims,
        shared: Option<&SharedPosition<B>>,
        positions: &Positions,
        device: &B::Device,
    ) -> Self {
        match scheme {
            PositionScheme::Absolute(_) => Self::Absolute,
            PositionScheme::Nope => Self::Nope,
            PositionScheme::Shaw(c) => Self::Shaw(c.index(positions, device)),
            PositionScheme::Xl(c) => {
                let Some(SharedPosition::Xl(s)) = shared else {
                    missing("xl", "shared parameters")
                };
                Self::Xl(xl::XlInputs::new(c, s, positions, dims.hidden, device))
            }
            PositionScheme::Deberta(c) => {
                let Some(SharedPosition::Deberta(t)) = shared else {
                    missing("deberta", "shared parameters")
                };
                Self::Deberta(disentangled::DisentangledInputs::new(
                    c,
                    t.table(),
                    positions,
                ))
            }
            PositionScheme::Alibi(c) => Self::Alibi(c.bias(dims.heads, positions, device)),
            PositionScheme::Rope(c) => {
                Self::Rope(RopeInputs::new(c, dims.head_size, positions, device))
            }
            PositionScheme::T5(c) => {
                let Some(SharedPosition::T5(t)) = shared else {
                    missing("t5", "shared parameters")
                };
                Self::T5(t.bias(c, positions, device))
            }
            PositionScheme::Fire(c) => {
                let Some(SharedPosition::Fire(f)) = shared else {
                    missing("fire", "shared parameters")
                };
                Self::Fire(f.bias(c, positions, device))
            }
        }
    }

    /// The scheme as one layer sees it: these inputs with the layer's own parameters `layer` and content
    /// projections `content`.
    pub fn hooks<'a>(
        &'a self,
        layer: Option<&'a LayerPosition<B>>,
        content: Content<'a, B>,
    ) -> Box<dyn AttentionHooks<B> + 'a> {
        match self {
            Self::Absolute | Self::Nope => Box::new(NoHooks),
            Self::Shaw(index) => {
                let Some(LayerPosition::Shaw(terms)) = layer else {
                    missing("shaw", "layer parameters")
                };
                Box::new(shaw::ShawAt { terms, index })
            }
            Self::Xl(inputs) => {
                let Some(LayerPosition::Xl(terms)) = layer else {
                    missing("xl", "layer parameters")
                };
                Box::new(xl::XlAt { terms, inputs })
            }
            Self::Deberta(inputs) => {
                let Some(LayerPosition::Deberta(terms)) = layer else {
                    missing("deberta", "layer parameters")
                };
                Box::new(disentangled::DisentangledAt {
                    terms,
                    inputs,
                    content,
                })
            }
            Self::Alibi(bias) | Self::T5(bias) | Self::Fire(bias) => Box::new(ScaledBias(bias)),
            Self::Rope(tables) => Box::new(RopeAt(tables)),
        }
    }
}
