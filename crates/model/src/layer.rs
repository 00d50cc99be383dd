//! One encoder layer: attention block, then the feed-forward block (HF `DebertaV2Layer`).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use crate::attention::{Attention, AttentionOutput};
use crate::config::{HiddenAct, ModelConfig};
use crate::dropout::Dropout;
use crate::norm::LayerNorm;
use crate::position::{PositionInputs, linear};
use crate::rows;

/// Feed-forward expansion (HF `DebertaV2Intermediate`).
#[derive(Module, Debug)]
pub struct Intermediate<B: Backend> {
    /// `hidden -> intermediate`.
    pub dense: Linear<B>,
}

/// Feed-forward contraction + residual + LayerNorm (HF `DebertaV2Output`).
#[derive(Module, Debug)]
pub struct Output<B: Backend> {
    /// `intermediate -> hidden`.
    pub dense: Linear<B>,
    /// Post-residual LayerNorm.
    pub layer_norm: LayerNorm<B>,
    /// Dropout before the residual.
    pub dropout: Dropout,
}

/// An encoder layer.
#[derive(Module, Debug)]
pub struct Layer<B: Backend> {
    /// Attention block.
    pub attention: Attention<B>,
    /// Feed-forward expansion.
    pub intermediate: Intermediate<B>,
    /// Feed-forward contraction.
    pub output: Output<B>,
    /// Feed-forward activation.
    #[module(skip)]
    pub act: HiddenAct,
}

impl<B: Backend> Layer<B> {
    /// Builds a layer for `model`.
    pub fn init(model: &ModelConfig, device: &B::Device) -> Self {
        Self {
            attention: Attention::init(model, device),
            intermediate: Intermediate {
                dense: linear(
                    model.hidden_size,
                    model.intermediate_size,
                    true,
                    model.initializer_range,
                    device,
                ),
            },
            output: Output {
                dense: linear(
                    model.intermediate_size,
                    model.hidden_size,
                    true,
                    model.initializer_range,
                    device,
                ),
                layer_norm: LayerNorm::new(model.hidden_size, model.layer_norm_eps, device),
                dropout: Dropout::new(model.hidden_dropout_prob),
            },
            act: model.hidden_act,
        }
    }

    /// Runs the layer: queries from `query_states`, keys and values from `kv_states`.
    pub fn forward(
        &self,
        query_states: Tensor<B, 3>,
        kv_states: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        inputs: &PositionInputs<B>,
        keep_probs: bool,
    ) -> AttentionOutput<B> {
        let AttentionOutput { hidden, probs } =
            self.attention
                .forward(query_states, kv_states, mask_bias, inputs, keep_probs);
        let inner = rows::linear_act(&self.intermediate.dense, hidden.clone(), self.act);
        let out = self
            .output
            .dropout
            .forward(rows::linear(&self.output.dense, inner));
        AttentionOutput {
            hidden: rows::layer_norm(&self.output.layer_norm, out + hidden),
            probs,
        }
    }
}
