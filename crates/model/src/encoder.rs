//! The encoder: the layers and the position parameters they share (HF `DebertaV2Encoder`), plus the full
//! embeddings + encoder model.

use burn::module::Module;
use burn::tensor::{Int, Tensor, backend::Backend};

use crate::config::ModelConfig;
use crate::embeddings::{Embeddings, InputPositions};
use crate::error::ConfigError;
use crate::layer::Layer;
use crate::position::{PositionInputs, Positions, SharedPosition};

/// The layer stack and the shared position parameters.
#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    /// The layers, bottom first.
    pub layer: Vec<Layer<B>>,
    /// Parameters shared by all layers (DeBERTa's relative table, Transformer-XL's u and v).
    pub rel: Option<SharedPosition<B>>,
}

/// A batch of token ids for the encoder.
#[derive(Debug, Clone)]
pub struct EncoderInput<B: Backend> {
    /// `[B, N]` token ids.
    pub input_ids: Tensor<B, 2, Int>,
    /// `[B, N]`: 1 for real tokens, 0 for padding.
    pub attention_mask: Tensor<B, 2>,
    /// `[B, N]` segment ids, when the model has token types.
    pub token_type_ids: Option<Tensor<B, 2, Int>>,
}

impl<B: Backend> EncoderInput<B> {
    /// Ids with every position attended.
    pub fn unmasked(input_ids: Tensor<B, 2, Int>) -> Self {
        let [b, n] = input_ids.dims();
        let attention_mask = Tensor::ones([b, n], &input_ids.device());
        Self {
            input_ids,
            attention_mask,
            token_type_ids: None,
        }
    }

    /// The additive key mask `[B, 1, 1, N]`: 0 where attended, -1e30 where padded.
    pub fn mask_bias(&self) -> Tensor<B, 4> {
        let [b, n] = self.attention_mask.dims();
        ((self.attention_mask.clone() - 1.0) * 1e30).reshape([b, 1, 1, n])
    }

    /// The additive key mask written out for every head and each of `queries` query rows,
    /// `[B, heads, queries, N]`, built once per forward pass so that each layer adds it without
    /// broadcasting (see [`crate::rows`]).
    pub fn full_mask_bias(&self, heads: usize, queries: usize) -> Tensor<B, 4> {
        self.mask_bias().repeat_dim(1, heads).repeat_dim(2, queries)
    }
}

/// What the encoder returns.
#[derive(Debug, Clone)]
pub struct EncoderOutput<B: Backend> {
    /// Output of the last layer, `[B, N, hidden]`.
    pub last_hidden_state: Tensor<B, 3>,
    /// Input of the last layer (H_{L-1}), which the Enhanced Mask Decoder attends to.
    pub penultimate: Tensor<B, 3>,
    /// Attention probabilities of every layer, `[B, H, N, N]` each, when asked for.
    pub attentions: Vec<Tensor<B, 4>>,
}

/// Embeddings + encoder: the part every head shares.
#[derive(Module, Debug)]
pub struct Model<B: Backend> {
    /// The embedding block.
    pub embeddings: Embeddings<B>,
    /// The layers.
    pub encoder: Encoder<B>,
    /// The architecture.
    #[module(skip)]
    pub config: ModelConfig,
}

impl<B: Backend> Model<B> {
    /// Builds a randomly initialised model after validating `config`.
    pub fn new(config: &ModelConfig, device: &B::Device) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            embeddings: Embeddings::init(config, device),
            encoder: Encoder {
                layer: (0..config.num_hidden_layers)
                    .map(|_| Layer::init(config, device))
                    .collect(),
                rel: SharedPosition::init(&config.position, &config.dims(), device),
            },
            config: config.clone(),
        })
    }

    /// The longest input the model accepts: `max_position_embeddings` when absolute positions are learned at
    /// the input, otherwise unbounded.
    pub fn max_input_len(&self) -> Option<usize> {
        (self.embeddings.input_positions == InputPositions::Learned)
            .then_some(self.config.max_position_embeddings)
    }

    /// Checks that a batch of `len` tokens fits, with a message naming the limit.
    pub fn check_len(&self, len: usize) -> Result<(), ConfigError> {
        match self.max_input_len() {
            Some(max) if len > max => Err(ConfigError::new(
                "max_position_embeddings",
                format!("the input has {len} tokens but absolute positions stop at {max}"),
            )),
            _ if len == 0 => Err(ConfigError::new("input", "the input is empty")),
            _ => Ok(()),
        }
    }

    /// The position inputs for `positions`, built once and shared by every layer.
    pub fn position_inputs(&self, positions: &Positions, device: &B::Device) -> PositionInputs<B> {
        PositionInputs::new(
            &self.config.position,
            &self.config.dims(),
            self.encoder.rel.as_ref(),
            positions,
            device,
        )
    }

    /// Runs embeddings and encoder. Inputs longer than [`Self::max_input_len`] are the caller's error
    /// ([`Self::check_len`]).
    pub fn forward(&self, input: &EncoderInput<B>, keep_attentions: bool) -> EncoderOutput<B> {
        let sum = self
            .embeddings
            .sum(input.input_ids.clone(), input.token_type_ids.clone());
        self.forward_from_sum(sum, input, keep_attentions)
    }

    /// The forward pass from the embedding sum (the embedding LayerNorm's input, [`Embeddings::sum`]):
    /// the one path every caller takes, including SiFT, which perturbs that sum.
    pub fn forward_from_sum(
        &self,
        sum: Tensor<B, 3>,
        input: &EncoderInput<B>,
        keep_attentions: bool,
    ) -> EncoderOutput<B> {
        let device = sum.device();
        let n = sum.dims()[1];
        let hidden = self.embeddings.finish(sum, input.attention_mask.clone());
        let inputs = self.position_inputs(&Positions::square(n), &device);
        let mask_bias = input.full_mask_bias(self.config.num_attention_heads, n);
        run_layers(
            &self.encoder.layer,
            hidden,
            KeysValues::Own,
            &mask_bias,
            &inputs,
            keep_attentions,
        )
    }
}

/// Where the layers of [`run_layers`] take their keys and values from.
#[derive(Debug, Clone)]
pub enum KeysValues<B: Backend> {
    /// From their own input: self-attention (the encoder).
    Own,
    /// From this fixed tensor `[B, N, hidden]`, whatever the query (the Enhanced Mask Decoder's H_{L-1}).
    Fixed(Tensor<B, 3>),
}

/// The one loop over layers, shared by the encoder and the Enhanced Mask Decoder: each of `layers` in turn
/// attends from the running hidden state (starting at `query` `[B, Nq, hidden]`) to `kv`, with the additive
/// `mask_bias` `[B, H, Nq, Nk]` and the position `inputs` of this pass. `penultimate` in the output is the
/// input of the last layer.
pub fn run_layers<'a, B: Backend>(
    layers: impl IntoIterator<Item = &'a Layer<B>>,
    query: Tensor<B, 3>,
    kv: KeysValues<B>,
    mask_bias: &Tensor<B, 4>,
    inputs: &PositionInputs<B>,
    keep_attentions: bool,
) -> EncoderOutput<B> {
    let mut hidden = query;
    let mut penultimate = hidden.clone();
    let mut attentions = Vec::new();
    for layer in layers {
        penultimate = hidden.clone();
        let kv_states = match &kv {
            KeysValues::Own => hidden.clone(),
            KeysValues::Fixed(t) => t.clone(),
        };
        let out = layer.forward(
            hidden,
            kv_states,
            mask_bias.clone(),
            inputs,
            keep_attentions,
        );
        hidden = out.hidden;
        attentions.extend(out.probs);
    }
    EncoderOutput {
        last_hidden_state: hidden,
        penultimate,
        attentions,
    }
}
