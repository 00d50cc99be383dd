//! Token, absolute-position and token-type embeddings, LayerNorm, padding mask, dropout
//! (HF `DebertaV2Embeddings`).

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig};
use burn::tensor::{Int, Tensor, backend::Backend};

use crate::config::ModelConfig;
use crate::dropout::Dropout;
use crate::norm::LayerNorm;
use crate::position::AbsoluteEmbedding;
use crate::position::absolute::sinusoid_table;

/// How absolute positions enter at the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPositions {
    /// They do not.
    None,
    /// From the learned table `position_embeddings`.
    Learned,
    /// From the fixed sinusoid.
    Sinusoidal,
}

/// The embedding block.
#[derive(Module, Debug)]
pub struct Embeddings<B: Backend> {
    /// `[vocab, hidden]`, also the tied MLM decoder.
    pub word_embeddings: Embedding<B>,
    /// `[max_position_embeddings, hidden]`: present when positions are learned at the input or EMD needs them.
    pub position_embeddings: Option<Embedding<B>>,
    /// `[type_vocab_size, hidden]` when `type_vocab_size > 0`.
    pub token_type_embeddings: Option<Embedding<B>>,
    /// LayerNorm after the sum.
    pub layer_norm: LayerNorm<B>,
    /// Dropout after the mask.
    pub dropout: Dropout,
    /// What enters at the input.
    #[module(skip)]
    pub input_positions: InputPositions,
}

impl<B: Backend> Embeddings<B> {
    /// Builds the block for `model`: every table normal with standard deviation `initializer_range` and the padding row of the word
    /// embeddings zero (HF `_init_weights`), LayerNorm at weight 1, bias 0.
    pub fn init(model: &ModelConfig, device: &B::Device) -> Self {
        let table = |rows: usize| {
            EmbeddingConfig::new(rows, model.hidden_size)
                .with_initializer(crate::position::normal_init(model.initializer_range))
                .init(device)
        };
        let mut word_embeddings = table(model.vocab_size);
        let pad = model.pad_token_id;
        word_embeddings.weight = word_embeddings.weight.map(|w| {
            let zeros = Tensor::zeros([1, model.hidden_size], &w.device());
            w.slice_assign([pad..pad + 1, 0..model.hidden_size], zeros)
                .detach()
                .require_grad()
        });
        let input_positions = match (
            model.position.input_embedding(),
            model.position_biased_input,
        ) {
            (Some(AbsoluteEmbedding::Sinusoidal), _) => InputPositions::Sinusoidal,
            (Some(AbsoluteEmbedding::Learned), _) | (None, true) => InputPositions::Learned,
            (None, false) => InputPositions::None,
        };
        Self {
            word_embeddings,
            position_embeddings: model
                .has_learned_positions()
                .then(|| table(model.max_position_embeddings)),
            token_type_embeddings: (model.type_vocab_size > 0)
                .then(|| table(model.type_vocab_size)),
            layer_norm: LayerNorm::new(model.hidden_size, model.layer_norm_eps, device),
            dropout: Dropout::new(model.hidden_dropout_prob),
            input_positions,
        }
    }

    /// Embeds `input_ids` `[B, N]`; `mask` `[B, N]` is 1 for real tokens, 0 for padding.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
        mask: Tensor<B, 2>,
    ) -> Tensor<B, 3> {
        self.finish(self.sum(input_ids, token_type_ids), mask)
    }

    /// Word, input-position and token-type embeddings summed: the input of the embedding LayerNorm
    /// (where SiFT perturbs), `[B, N, hidden]`.
    pub fn sum(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Option<Tensor<B, 2, Int>>,
    ) -> Tensor<B, 3> {
        let [b, n] = input_ids.dims();
        let device = input_ids.device();
        let mut x = self.word_embeddings.forward(input_ids);
        let hidden = x.dims()[2];
        match (self.input_positions, &self.position_embeddings) {
            (InputPositions::Learned, Some(table)) => {
                let ids = Tensor::<B, 1, Int>::arange(0..n as i64, &device).reshape([1, n]);
                x = x + table.forward(ids);
            }
            (InputPositions::Sinusoidal, _) => {
                x = x + sinusoid_table::<B>(0..n as i64, hidden, &device).unsqueeze::<3>();
            }
            (InputPositions::Learned, None) | (InputPositions::None, _) => {}
        }
        if let Some(types) = &self.token_type_embeddings {
            let ids = token_type_ids.unwrap_or_else(|| Tensor::zeros([b, n], &device));
            x = x + types.forward(ids);
        }
        x
    }

    /// The rest of the block from [`Self::sum`]'s output: LayerNorm, padding mask, dropout.
    pub fn finish(&self, sum: Tensor<B, 3>, mask: Tensor<B, 2>) -> Tensor<B, 3> {
        let x = crate::rows::layer_norm(&self.layer_norm, sum) * mask.unsqueeze_dim::<3>(2);
        self.dropout.forward(x)
    }

    /// Learned absolute embeddings of `positions` `[B, M]` (the EMD query input), if the table exists.
    pub fn absolute_at(&self, positions: Tensor<B, 2, Int>) -> Option<Tensor<B, 3>> {
        self.position_embeddings
            .as_ref()
            .map(|t| t.forward(positions))
    }
}
