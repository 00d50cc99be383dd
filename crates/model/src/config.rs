//! The model's typed configuration: sizes, the position scheme, the MLM decoder.
//!
//! Field names follow HF DeBERTa-v2 (`hidden_size`, `max_relative_positions`, `position_buckets`, ...) so a
//! reader can compare with HF side by side. Unknown keys are rejected when a config is parsed, and conflicting
//! options are rejected by [`ModelConfig::validate`], which every constructor of a model calls.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::position::{AbsoluteEmbedding, Dims, PositionScheme};

/// The activation of the feed-forward block (HF `hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HiddenAct {
    /// Exact GELU (erf form), HF `gelu`.
    #[default]
    Gelu,
    /// Tanh approximation of GELU, HF `gelu_new` / `gelu_pytorch_tanh`.
    GeluTanh,
    /// HF `relu`.
    Relu,
    /// HF `silu` / `swish`.
    Silu,
    /// HF `tanh`.
    Tanh,
}

impl HiddenAct {
    /// Maps an HF `hidden_act` string to the typed value.
    pub fn from_hf(name: &str) -> Option<Self> {
        Some(match name {
            "gelu" => Self::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Self::GeluTanh,
            "relu" => Self::Relu,
            "silu" | "swish" => Self::Silu,
            "tanh" => Self::Tanh,
            _ => return None,
        })
    }

    /// Applies the activation.
    pub fn forward<B: burn::tensor::backend::Backend, const D: usize>(
        self,
        x: burn::tensor::Tensor<B, D>,
    ) -> burn::tensor::Tensor<B, D> {
        use burn::tensor::activation;
        match self {
            Self::Gelu => activation::gelu(x),
            Self::GeluTanh => activation::gelu_approximate(x),
            Self::Relu => activation::relu(x),
            Self::Silu => activation::silu(x),
            Self::Tanh => activation::tanh(x),
        }
    }
}

/// Which decoder feeds the MLM head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MlmDecoder {
    /// BERT's head on the last encoder layer.
    #[default]
    Plain,
    /// DeBERTa's Enhanced Mask Decoder in its official-code form: the last encoder layer run twice, its query
    /// being absolute positions + H_{L-1} and its keys/values H_{L-1}; masked positions only.
    Emd,
}

/// Everything that defines a model's architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Vocabulary size (rows of `word_embeddings`).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    pub num_attention_heads: usize,
    /// Width of one head; `None` means `hidden_size / num_attention_heads` (HF `attention_head_size`).
    pub attention_head_size: Option<usize>,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    pub hidden_act: HiddenAct,
    /// Dropout on embeddings, sub-layer outputs and the relative table.
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    pub attention_probs_dropout_prob: f64,
    /// Rows of the absolute position table; also the longest input with absolute positions.
    pub max_position_embeddings: usize,
    /// Token-type (segment) vocabulary; 0 means no token-type embeddings.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Standard deviation of the normal initialiser of every weight matrix and embedding table (HF
    /// `initializer_range`; biases start at zero, LayerNorm at one and zero).
    pub initializer_range: f64,
    /// Padding token id.
    pub pad_token_id: usize,
    /// The position scheme of the attention.
    pub position: PositionScheme,
    /// Learned absolute positions added at the input on top of a relative scheme (DeBERTa-AP, HF
    /// `position_biased_input`). The `absolute` scheme adds its own input positions and rejects this flag.
    pub position_biased_input: bool,
    /// The decoder under the MLM head.
    pub decoder: MlmDecoder,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            vocab_size: 8192,
            hidden_size: 256,
            num_hidden_layers: 4,
            num_attention_heads: 4,
            attention_head_size: None,
            intermediate_size: 1024,
            hidden_act: HiddenAct::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 0,
            layer_norm_eps: 1e-7,
            initializer_range: crate::position::INITIALIZER_RANGE,
            pad_token_id: 0,
            position: PositionScheme::default(),
            position_biased_input: false,
            decoder: MlmDecoder::Plain,
        }
    }
}

impl ModelConfig {
    /// Width of one attention head.
    pub fn head_size(&self) -> usize {
        self.attention_head_size
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// A lower bound on the number of parameters: the word embeddings and each layer's attention and
    /// feed-forward matrices (position tables, biases, norms and heads left out). Checks that must never
    /// refuse a model that would fit use it.
    pub fn least_parameter_count(&self) -> u128 {
        let (h, i) = (self.hidden_size as u128, self.intermediate_size as u128);
        let heads = (self.num_attention_heads as u128) * (self.head_size() as u128);
        let per_layer = 4 * h * heads + 2 * h * i;
        (self.vocab_size as u128) * h + (self.num_hidden_layers as u128) * per_layer
    }

    /// The sizes the position scheme is built from.
    pub fn dims(&self) -> Dims {
        Dims {
            hidden: self.hidden_size,
            heads: self.num_attention_heads,
            head_size: self.head_size(),
            layer_norm_eps: self.layer_norm_eps,
            init_std: self.initializer_range,
            dropout: self.hidden_dropout_prob,
        }
    }

    /// Whether the embeddings hold a learned absolute position table.
    pub fn has_learned_positions(&self) -> bool {
        self.position_biased_input
            || self.decoder == MlmDecoder::Emd
            || self.position.input_embedding() == Some(AbsoluteEmbedding::Learned)
    }

    /// Checks sizes and rejects conflicting options, with a message naming the key and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if self.attention_head_size.is_none()
            && !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(ConfigError::new(
                "hidden_size",
                format!(
                    "{} is not a multiple of num_attention_heads = {}; change one of them or set \
                     attention_head_size",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        if self.attention_head_size == Some(0) {
            return Err(ConfigError::new(
                "attention_head_size",
                "must be at least 1",
            ));
        }
        for (key, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(ConfigError::new(key, format!("{p} is not in [0, 1)")));
            }
        }
        if self.layer_norm_eps.is_nan() || self.layer_norm_eps <= 0.0 {
            return Err(ConfigError::new("layer_norm_eps", "must be positive"));
        }
        if !(self.initializer_range.is_finite() && self.initializer_range > 0.0) {
            return Err(ConfigError::new(
                "initializer_range",
                format!(
                    "{} is not a positive standard deviation (HF's default is 0.02)",
                    self.initializer_range
                ),
            ));
        }
        if self.pad_token_id >= self.vocab_size {
            return Err(ConfigError::new(
                "pad_token_id",
                format!(
                    "{} is not below vocab_size = {}",
                    self.pad_token_id, self.vocab_size
                ),
            ));
        }
        if self.position_biased_input && !self.position.is_relative() {
            return Err(ConfigError::new(
                "position_biased_input",
                format!(
                    "only combines with a scheme that acts inside attention ({}); the {} scheme {}",
                    PositionScheme::relative_names().join(", "),
                    self.position.name(),
                    if self.position.input_embedding().is_none() {
                        "means no position information at all"
                    } else {
                        "already adds positions at the input"
                    }
                ),
            ));
        }
        if self.decoder == MlmDecoder::Emd {
            let why = if self.position_biased_input {
                Some(
                    "position_biased_input = true already adds absolute positions at the input, and the \
                      official code then skips the EMD",
                )
            } else {
                match &self.position {
                    PositionScheme::Absolute(_) => Some(
                        "the absolute scheme already adds positions at the input, and the official code \
                         then skips the EMD",
                    ),
                    PositionScheme::Nope => Some(
                        "nope is the no-position control, and the EMD would add absolute positions before \
                         the MLM head",
                    ),
                    PositionScheme::Shaw(_)
                    | PositionScheme::Xl(_)
                    | PositionScheme::Deberta(_)
                    | PositionScheme::Alibi(_)
                    | PositionScheme::Rope(_)
                    | PositionScheme::T5(_)
                    | PositionScheme::Fire(_) => None,
                }
            };
            if let Some(why) = why {
                return Err(ConfigError::new(
                    "decoder",
                    format!(
                        "\"emd\" does not combine with this model: {why}; set decoder = \"plain\""
                    ),
                ));
            }
        }
        self.position.validate(&self.dims())
    }

    /// Parses a config from TOML text, rejecting unknown keys, then validates it.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self =
            toml::from_str(text).map_err(|e| ConfigError::new("model", e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }
}
