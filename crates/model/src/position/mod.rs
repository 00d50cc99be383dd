//! Position schemes and the one seam through which they reach the attention core.
//!
//! A scheme may add something to the input embeddings (absolute positions), and inside attention acts only
//! through four hooks ([`hooks::AttentionHooks`]), called by the core in this order: transform q and k
//! (RoPE); unscaled score terms (Shaw, Transformer-XL, DeBERTa); a bias after the scale (ALiBi, T5, FIRE);
//! a value term (Shaw). [`PositionScheme::scale_terms`] sets the scale `sqrt(d_head * (1 + terms))`.
//!
//! Adding a scheme: one file here (its config, its parameters, its hooks), a variant of [`PositionScheme`],
//! then the arms the compiler asks for (every match over schemes names every scheme), a preset, tests. See
//! docs/extending.md, which walks through `alibi.rs`.

pub mod absolute;
pub mod alibi;
pub mod band;
pub mod disentangled;
pub mod fire;
pub mod hooks;
pub mod relative;
pub mod rope;
pub mod seam;
pub mod shaw;
pub mod t5;
pub mod xl;

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

pub use absolute::{AbsoluteConfig, AbsoluteEmbedding};
pub use alibi::AlibiConfig;
pub use disentangled::{DisentangledConfig, P2cIndex, PosAttType};
pub use fire::{FireConfig, FireNormaliser};
pub use hooks::{AttentionHooks, Content};
pub use relative::{Positions, QueryPositions};
pub use rope::RopeConfig;
pub use seam::{LayerPosition, PositionInputs, SharedPosition};
pub use shaw::ShawConfig;
pub use t5::T5Config;
pub use xl::XlConfig;

use crate::error::ConfigError;

/// The sizes a scheme is built from, and nothing else of the model config, so that a scheme can be built
/// and tested on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dims {
    /// Width of the residual stream (Transformer-XL's sinusoids, DeBERTa's table).
    pub hidden: usize,
    /// Number of attention heads.
    pub heads: usize,
    /// Width of one head.
    pub head_size: usize,
    /// LayerNorm epsilon (DeBERTa's `norm_rel_ebd`).
    pub layer_norm_eps: f64,
    /// Standard deviation of the normal initialiser (the model's `initializer_range`).
    pub init_std: f64,
    /// Dropout on position tables (DeBERTa's `pos_dropout`).
    pub dropout: f64,
}

impl Dims {
    /// `heads * head_size`, the width of the projected queries, keys and values.
    pub fn all_heads(&self) -> usize {
        self.heads * self.head_size
    }
}

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
    /// ALiBi: a fixed per-head linear distance bias after the scale.
    Alibi(AlibiConfig),
    /// RoPE: q and k rotated by position.
    Rope(RopeConfig),
    /// T5's learned bias per log bucket of the distance and head, after the scale.
    T5(T5Config),
    /// FIRE: an MLP of the normalised log distance, per head, after the scale.
    Fire(FireConfig),
    /// No position information at all (a control).
    Nope,
}

impl Default for PositionScheme {
    fn default() -> Self {
        Self::Deberta(DisentangledConfig::default())
    }
}

impl PositionScheme {
    /// One scheme of every kind, at its defaults, in the order of the enum (for messages, docs and the
    /// tests that must cover every kind; `tests/plugins.rs` fails to compile when a kind is missing here).
    pub fn every_kind() -> Vec<Self> {
        vec![
            Self::Absolute(AbsoluteConfig::default()),
            Self::Shaw(ShawConfig::default()),
            Self::Xl(XlConfig::default()),
            Self::Deberta(DisentangledConfig::default()),
            Self::Alibi(AlibiConfig::default()),
            Self::Rope(RopeConfig::default()),
            Self::T5(T5Config::default()),
            Self::Fire(FireConfig::default()),
            Self::Nope,
        ]
    }

    /// The scheme's name as written in config files.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Absolute(_) => "absolute",
            Self::Shaw(_) => "shaw",
            Self::Xl(_) => "xl",
            Self::Deberta(_) => "deberta",
            Self::Alibi(_) => "alibi",
            Self::Rope(_) => "rope",
            Self::T5(_) => "t5",
            Self::Fire(_) => "fire",
            Self::Nope => "nope",
        }
    }

    /// Whether the scheme acts inside attention (and so may be combined with `position_biased_input`).
    pub fn is_relative(&self) -> bool {
        match self {
            Self::Shaw(_)
            | Self::Xl(_)
            | Self::Deberta(_)
            | Self::Alibi(_)
            | Self::Rope(_)
            | Self::T5(_)
            | Self::Fire(_) => true,
            Self::Absolute(_) | Self::Nope => false,
        }
    }

    /// The names of the schemes that act inside attention, for messages.
    pub fn relative_names() -> Vec<&'static str> {
        Self::every_kind()
            .iter()
            .filter(|s| s.is_relative())
            .map(Self::name)
            .collect()
    }

    /// The embedding the scheme itself adds at the input, if any (`position_biased_input` may add learned
    /// positions on top of a relative scheme; see [`crate::ModelConfig::has_learned_positions`]).
    pub fn input_embedding(&self) -> Option<AbsoluteEmbedding> {
        match self {
            Self::Absolute(c) => Some(c.embedding),
            Self::Shaw(_)
            | Self::Xl(_)
            | Self::Deberta(_)
            | Self::Alibi(_)
            | Self::Rope(_)
            | Self::T5(_)
            | Self::Fire(_)
            | Self::Nope => None,
        }
    }

    /// Number of score terms that enter the scale `sqrt(d_head * (1 + terms))`. Shaw and Transformer-XL keep
    /// the plain `sqrt(d_head)` of their papers; the biases after the scale do not count.
    pub fn scale_terms(&self) -> usize {
        match self {
            Self::Deberta(c) => c.pos_att_type.len(),
            Self::Absolute(_)
            | Self::Shaw(_)
            | Self::Xl(_)
            | Self::Alibi(_)
            | Self::Rope(_)
            | Self::T5(_)
            | Self::Fire(_)
            | Self::Nope => 0,
        }
    }

    /// Checks the scheme's own fields against the model's sizes.
    pub fn validate(&self, dims: &Dims) -> Result<(), ConfigError> {
        match self {
            Self::Shaw(c) => c.validate(),
            Self::Xl(c) => c.validate(),
            Self::Deberta(c) => c.validate(),
            Self::Alibi(c) => c.validate(),
            Self::Rope(c) => c.validate(dims.head_size),
            Self::T5(c) => c.validate(),
            Self::Fire(c) => c.validate(),
            Self::Absolute(AbsoluteConfig {
                embedding: AbsoluteEmbedding::Sinusoidal,
            }) if !dims.hidden.is_multiple_of(2) => Err(ConfigError::new(
                "hidden_size",
                "the sinusoidal embedding needs an even hidden_size",
            )),
            Self::Absolute(_) | Self::Nope => Ok(()),
        }
    }
}

/// HF's default `initializer_range`: the standard deviation of every normal initialiser unless the model
/// config sets another.
pub const INITIALIZER_RANGE: f64 = 0.02;

/// HF's initialiser of weights and embeddings: normal, mean 0, standard deviation `std` (the model's
/// `initializer_range`).
pub fn normal_init(std: f64) -> Initializer {
    Initializer::Normal { mean: 0.0, std }
}

/// A linear layer `d_in -> d_out` with HF's initialisation: weight normal (standard deviation `std`), bias
/// zero. (burn's `LinearConfig` draws the bias from the weight's initialiser, so the bias is replaced here.)
pub fn linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    std: f64,
    device: &B::Device,
) -> Linear<B> {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(normal_init(std))
        .init(device);
    layer.bias = bias.then(|| Initializer::Zeros.init([d_out], device));
    layer
}

/// `[R, H * d]` -> `[1, H, R, d]`: a projected table split into heads.
pub fn heads_of<B: Backend>(t: Tensor<B, 2>, heads: usize) -> Tensor<B, 4> {
    let [rows, width] = t.dims();
    t.reshape([1, rows, heads, width / heads]).swap_dims(1, 2)
}
