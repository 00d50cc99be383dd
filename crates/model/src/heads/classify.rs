//! Sequence classification: DeBERTa's context pooler on the first token, dropout, linear.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use crate::config::{HiddenAct, ModelConfig};
use crate::dropout::Dropout;
use crate::encoder::{EncoderInput, Model};
use crate::position::linear;

/// HF `ContextPooler`: dropout, dense, activation on the first token.
#[derive(Module, Debug)]
pub struct ContextPooler<B: Backend> {
    /// `hidden -> hidden`.
    pub dense: Linear<B>,
    /// Dropout before the dense layer.
    pub dropout: Dropout,
    /// The activation.
    #[module(skip)]
    pub act: HiddenAct,
}

/// Encoder + pooler + classifier.
#[derive(Module, Debug)]
pub struct ClassifierModel<B: Backend> {
    /// Embeddings and encoder.
    pub model: Model<B>,
    /// The pooler.
    pub pooler: ContextPooler<B>,
    /// `hidden -> num_labels`.
    pub classifier: Linear<B>,
    /// Dropout before the classifier.
    pub dropout: Dropout,
}

impl<B: Backend> ClassifierModel<B> {
    /// Puts a fresh pooler and classifier with `num_labels` outputs on top of `model` (pooler dropout =
    /// the model's hidden dropout).
    pub fn new(model: Model<B>, num_labels: usize, device: &B::Device) -> Self {
        let cfg: &ModelConfig = &model.config;
        let p = cfg.hidden_dropout_prob;
        Self {
            pooler: ContextPooler {
                dense: linear(
                    cfg.hidden_size,
                    cfg.hidden_size,
                    true,
                    cfg.initializer_range,
                    device,
                ),
                dropout: Dropout::new(p),
                act: HiddenAct::Gelu,
            },
            classifier: linear(
                cfg.hidden_size,
                num_labels,
                true,
                cfg.initializer_range,
                device,
            ),
            dropout: Dropout::new(p),
            model,
        }
    }

    /// Logits `[B, num_labels]`.
    pub fn forward(&self, input: &EncoderInput<B>) -> Tensor<B, 2> {
        let sum = self
            .model
            .embeddings
            .sum(input.input_ids.clone(), input.token_type_ids.clone());
        self.forward_from_sum(sum, input)
    }

    /// Logits from the embedding sum (the embedding LayerNorm's input, where SiFT perturbs); see
    /// [`Model::forward_from_sum`].
    pub fn forward_from_sum(&self, sum: Tensor<B, 3>, input: &EncoderInput<B>) -> Tensor<B, 2> {
        let hidden = self
            .model
            .forward_from_sum(sum, input, false)
            .last_hidden_state;
        let [b, _, d] = hidden.dims();
        let first = hidden.narrow(1, 0, 1).reshape([b, d]);
        let pooled = self.pooler.act.forward(
            self.pooler
                .dense
                .forward(self.pooler.dropout.forward(first)),
        );
        self.classifier.forward(self.dropout.forward(pooled))
    }
}
