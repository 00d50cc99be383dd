//! The masked-LM model: encoder, decoder (plain or EMD), and BERT's prediction head with the decoder tied to
//! the word embeddings. Only masked positions are decoded.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear};
use burn::tensor::{Tensor, backend::Backend};

use super::{MaskedPositions, emd, gather_rows};
use crate::config::{HiddenAct, MlmDecoder, ModelConfig};
use crate::encoder::{EncoderInput, Model};
use crate::error::ConfigError;
use crate::norm::LayerNorm;
use crate::position::linear;

/// Dense + activation + LayerNorm, then the tied decoder and its bias.
#[derive(Module, Debug)]
pub struct MlmHead<B: Backend> {
    /// `hidden -> hidden`.
    pub dense: Linear<B>,
    /// After the activation.
    pub layer_norm: LayerNorm<B>,
    /// Output bias, `[vocab]`.
    pub bias: Param<Tensor<B, 1>>,
    /// The activation.
    #[module(skip)]
    pub act: HiddenAct,
}

impl<B: Backend> MlmHead<B> {
    /// Builds the head for `model`.
    pub fn init(model: &ModelConfig, device: &B::Device) -> Self {
        Self {
            dense: linear(
                model.hidden_size,
                model.hidden_size,
                true,
                model.initializer_range,
                device,
            ),
            layer_norm: LayerNorm::new(model.hidden_size, model.layer_norm_eps, device),
            bias: Initializer::Zeros.init([model.vocab_size], device),
            act: model.hidden_act,
        }
    }

    /// Logits `[B, M, vocab]` from hidden states `[B, M, D]` and the word embeddings `[vocab, D]`.
    pub fn forward(&self, hidden: Tensor<B, 3>, word_embeddings: Tensor<B, 2>) -> Tensor<B, 3> {
        // as 2-D rows: one plain matmul, and a bias add on the fast row-wise path (see `crate::rows`)
        let [b, m, d] = hidden.dims();
        let h = self.layer_norm.forward(crate::rows::dense(
            &self.dense,
            hidden.reshape([b * m, d]),
            Some(self.act),
        ));
        let logits = h.matmul(word_embeddings.transpose()) + self.bias.val().unsqueeze::<2>();
        let vocab = logits.dims()[1];
        logits.reshape([b, m, vocab])
    }
}

/// What an MLM forward pass returns.
#[derive(Debug, Clone)]
pub struct MlmOutput<B: Backend> {
    /// `[B, M, vocab]` at the masked positions.
    pub logits: Tensor<B, 3>,
    /// Attention probabilities of every encoder layer, when asked for.
    pub attentions: Vec<Tensor<B, 4>>,
}

/// Encoder + decoder + MLM head.
#[derive(Module, Debug)]
pub struct MlmModel<B: Backend> {
    /// Embeddings and encoder.
    pub model: Model<B>,
    /// The prediction head.
    pub lm_head: MlmHead<B>,
}

impl<B: Backend> MlmModel<B> {
    /// Builds a randomly initialised MLM model after validating `config`.
    pub fn new(config: &ModelConfig, device: &B::Device) -> Result<Self, ConfigError> {
        Ok(Self {
            model: Model::new(config, device)?,
            lm_head: MlmHead::init(config, device),
        })
    }

    /// Logits at `masked` positions.
    pub fn forward(
        &self,
        input: &EncoderInput<B>,
        masked: &MaskedPositions,
        keep_attentions: bool,
    ) -> MlmOutput<B> {
        let device = input.input_ids.device();
        let enc = self.model.forward(input, keep_attentions);
        let positions = masked.tensor::<B>(&device);
        let hidden = match self.model.config.decoder {
            MlmDecoder::Plain => gather_rows(enc.last_hidden_state, positions),
            MlmDecoder::Emd => emd::decode(&self.model, enc.penultimate, input, masked),
        };
        let logits = self
            .lm_head
            .forward(hidden, self.model.embeddings.word_embeddings.weight.val());
        MlmOutput {
            logits,
            attentions: enc.attentions,
        }
    }
}
