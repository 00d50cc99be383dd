//! Position schemes and the one seam through which they reach the attention core.
//!
//! A scheme may (1) add something to the input embeddings, (2) return additive score terms `[B, H, Nq, Nk]`,
//! (3) transform q and k (none yet), (4) add a value term to the attention output, and (5) say how many score
//! terms enter the scale `sqrt(d_head * (1 + terms))`. Nothing else. Adding a scheme means one file here, one
//! arm in [`PositionScheme`] (and in [`LayerPosition`] / [`SharedPosition`] when it has parameters), one
//! preset, and tests: see docs/extending.md.

pub mod absolute;
pub mod band;
pub mod disentangled;
pub mod relative;
pub mod shaw;
pub mod xl;

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

pub use absolute::{AbsoluteConfig, AbsoluteEmbedding};
pub use disentangled::{DisentangledConfig, P2cIndex, PosAttType};
pub use relative::{Positions, QueryPositions};
pub use shaw::ShawConfig;
pub use xl::XlConfig;

use crate::config::ModelConfig;
use crate::error::ConfigError;

/// The position scheme of a model, chosen by `kind` in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PositionScheme {
    /// Positions added at the input only (BERT).
    Absolute(AbsoluteConfig),
    /// Shaw et al. relative key (and value) vectors.
    Shaw(ShawConfig),
    /// Transformer-XL relative attention, bidirectional.
    Xl(XlConfig),
    /// DeBERTa disentangled attention.
    Deberta(DisentangledConfig),
    /// No position information at all (a control).
    Nope,
}

impl Default for PositionScheme {
    fn default() -> Self {
        Self::Deberta(DisentangledConfig::default())
    }
}

impl PositionScheme {
    /// The scheme's name as written in config files.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Absolute(_) => "absolute",
            Self::Shaw(_) => "shaw",
            Self::Xl(_) => "xl",
            Self::Deberta(_) => "deberta",
            Self::Nope => "nope",
        }
    }

    /// Whether the scheme acts inside attention.
    pub fn is_relative(&self) -> bool {
        matches!(self, Self::Shaw(_) | Self::Xl(_) | Self::Deberta(_))
    }

    /// Number of score terms that enter the scale `sqrt(d_head * (1 + terms))`. Shaw and Transformer-XL keep
    /// the plain `sqrt(d_head)` of their papers.
    pub fn scale_terms(&self) -> usize {
        match self {
            Self::Deberta(c) => c.pos_att_type.len(),
            _ => 0,
        }
    }

    /// Checks the scheme's own fields.
    pub fn validate(&self, model: &ModelConfig) -> Result<(), ConfigError> {
        match self {
            Self::Shaw(c) => c.validate(),
            Self::Xl(c) => c.validate(),
            Self::Deberta(c) => c.validate(),
            Self::Absolute(AbsoluteConfig {
                embedding: AbsoluteEmbedding::Sinusoidal,
            }) if !model.hidden_size.is_multiple_of(2) => Err(ConfigError::new(
                "hidden_size",
                "the sinusoidal embedding needs an even hidden_size",
            )),
            Self::Absolute(_) | Self::Nope => Ok(()),
        }
    }
}

/// Per-layer parameters of a relative scheme.
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
    /// The per-layer parameters of `model.position`, if it has any.
    pub fn init(model: &ModelConfig, device: &B::Device) -> Option<Self> {
        match &model.position {
            PositionScheme::Shaw(c) => Some(Self::Shaw(shaw::ShawTerms::init(model, c, device))),
            PositionScheme::Xl(_) => Some(Self::Xl(xl::XlTerms::init(model, device))),
            PositionScheme::Deberta(c) => Some(Self::Deberta(
                disentangled::DisentangledTerms::init(model, c, device),
            )),
            PositionScheme::Absolute(_) | PositionScheme::Nope => None,
        }
    }
}

/// Parameters shared by all layers.
#[derive(Module, Debug)]
pub enum SharedPosition<B: Backend> {
    /// Transformer-XL's u and v.
    Xl(xl::XlShared<B>),
    /// DeBERTa's relative table.
    Deberta(disentangled::RelEmbeddings<B>),
}

impl<B: Backend> SharedPosition<B> {
    /// The shared parameters of `model.position`, if it has any.
    pub fn init(model: &ModelConfig, device: &B::Device) -> Option<Self> {
        match &model.position {
            PositionScheme::Xl(_) => Some(Self::Xl(xl::XlShared::init(model, device))),
            PositionScheme::Deberta(c) => Some(Self::Deberta(disentangled::RelEmbeddings::init(
                model, c, device,
            ))),
            _ => None,
        }
    }
}

/// Everything a scheme needs at forward time, built once per pass and handed to every layer.
#[derive(Debug, Clone)]
pub enum PositionInputs<B: Backend> {
    /// The scheme acts outside attention.
    None,
    /// Shaw's table-row index, `[rows, 1, Nq, Nk]`.
    Shaw(Tensor<B, 4, Int>),
    /// Transformer-XL's distance table, index and biases.
    Xl(xl::XlInputs<B>),
    /// DeBERTa's table and indices.
    Deberta(disentangled::DisentangledInputs<B>),
}

impl<B: Backend> PositionInputs<B> {
    /// Prepares the inputs of `model.position` for `positions`.
    pub fn new(
        model: &ModelConfig,
        shared: Option<&SharedPosition<B>>,
        positions: &Positions,
        device: &B::Device,
    ) -> Self {
        match (&model.position, shared) {
            (PositionScheme::Shaw(c), _) => Self::Shaw(c.index(positions, device)),
            (PositionScheme::Xl(c), Some(SharedPosition::Xl(s))) => Self::Xl(xl::XlInputs::new(
                c,
                s,
                positions,
                model.hidden_size,
                device,
            )),
            (PositionScheme::Deberta(c), Some(SharedPosition::Deberta(t))) => Self::Deberta(
                disentangled::DisentangledInputs::new(c, t.table(), positions),
            ),
            _ => Self::None,
        }
    }
}

/// The standard deviation of every normal initialiser (HF `initializer_range`).
pub const INITIALIZER_RANGE: f64 = 0.02;

/// HF's initialiser of weights and embeddings: normal, mean 0, std [`INITIALIZER_RANGE`].
pub fn normal_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: INITIALIZER_RANGE,
    }
}

/// A linear layer `d_in -> d_out` with HF's initialisation: weight normal (std 0.02), bias zero. (burn's
/// `LinearConfig` draws the bias from the weight's initialiser, so the bias is replaced here.)
pub fn linear<B: Backend>(d_in: usize, d_out: usize, bias: bool, device: &B::Device) -> Linear<B> {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(normal_init())
        .init(device);
    layer.bias = bias.then(|| Initializer::Zeros.init([d_out], device));
    layer
}

/// `[R, H * d]` -> `[1, H, R, d]`: a projected table split into heads.
pub fn heads_of<B: Backend>(t: Tensor<B, 2>, heads: usize) -> Tensor<B, 4> {
    let [rows, width] = t.dims();
    t.reshape([1, rows, heads, width / heads]).swap_dims(1, 2)
}
