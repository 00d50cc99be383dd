//! The attention core, written once. Every position scheme reaches it through [`LayerPosition`] and
//! [`PositionInputs`]: score terms added before the scale, a value term added after the value product.
//!
//! `scores = (q k^T + terms) / sqrt(d_head * (1 + n_terms)) + mask`, softmax with the row maximum subtracted
//! (logits in f32), dropout, `probs v (+ value term)`, output projection, residual, LayerNorm.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Tensor, backend::Backend};

use crate::config::ModelConfig;
use crate::position::{LayerPosition, PositionInputs, PositionScheme, linear};
use crate::rows;

/// Query/key/value projections, the scheme's per-layer parameters, and the core (HF
/// `DisentangledSelfAttention`).
#[derive(Module, Debug)]
pub struct SelfAttention<B: Backend> {
    /// Content query projection.
    pub query_proj: Linear<B>,
    /// Content key projection.
    pub key_proj: Linear<B>,
    /// Value projection.
    pub value_proj: Linear<B>,
    /// The position scheme's per-layer parameters.
    pub rel: Option<LayerPosition<B>>,
    /// Dropout on attention probabilities.
    pub dropout: Dropout,
    /// Number of heads.
    pub num_heads: usize,
    /// `sqrt(d_head * (1 + n_terms))`.
    pub scale: f64,
}

/// Attention output projection + residual + LayerNorm (HF `DebertaV2SelfOutput`).
#[derive(Module, Debug)]
pub struct SelfOutput<B: Backend> {
    /// Output projection.
    pub dense: Linear<B>,
    /// Post-residual LayerNorm.
    pub layer_norm: LayerNorm<B>,
    /// Dropout before the residual.
    pub dropout: Dropout,
}

/// A full attention block (HF `DebertaV2Attention`).
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// The core.
    pub self_attn: SelfAttention<B>,
    /// Output, residual, LayerNorm.
    pub output: SelfOutput<B>,
}

/// What one attention block returns.
#[derive(Debug, Clone)]
pub struct AttentionOutput<B: Backend> {
    /// `[B, Nq, hidden]`.
    pub hidden: Tensor<B, 3>,
    /// Attention probabilities `[B, H, Nq, Nk]` when asked for.
    pub probs: Option<Tensor<B, 4>>,
}

impl<B: Backend> Attention<B> {
    /// Builds a block for `model`.
    pub fn init(model: &ModelConfig, device: &B::Device) -> Self {
        let all_head = model.head_size() * model.num_attention_heads;
        let scale = (model.head_size() as f64 * (1 + model.position.scale_terms()) as f64).sqrt();
        Self {
            self_attn: SelfAttention {
                query_proj: linear(model.hidden_size, all_head, true, device),
                key_proj: linear(model.hidden_size, all_head, true, device),
                value_proj: linear(model.hidden_size, all_head, true, device),
                rel: LayerPosition::init(model, device),
                dropout: DropoutConfig::new(model.attention_probs_dropout_prob).init(),
                num_heads: model.num_attention_heads,
                scale,
            },
            output: SelfOutput {
                dense: linear(all_head, model.hidden_size, true, device),
                layer_norm: LayerNormConfig::new(model.hidden_size)
                    .with_epsilon(model.layer_norm_eps)
                    .init(device),
                dropout: DropoutConfig::new(model.hidden_dropout_prob).init(),
            },
        }
    }

    /// Attends from `query_states` `[B, Nq, hidden]` to `kv_states` `[B, Nk, hidden]`. `mask_bias` is
    /// additive, broadcastable to `[B, H, Nq, Nk]` (0 where attended, a large negative number elsewhere).
    pub fn forward(
        &self,
        scheme: &PositionScheme,
        query_states: Tensor<B, 3>,
        kv_states: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        inputs: &PositionInputs<B>,
        keep_probs: bool,
    ) -> AttentionOutput<B> {
        let (context, probs) = self.self_attn.forward(
            scheme,
            query_states.clone(),
            kv_states,
            mask_bias,
            inputs,
            keep_probs,
        );
        let out = self
            .output
            .dropout
            .forward(rows::linear(&self.output.dense, context));
        AttentionOutput {
            hidden: rows::layer_norm(&self.output.layer_norm, out + query_states),
            probs,
        }
    }
}

impl<B: Backend> SelfAttention<B> {
    /// `[B, N, H * d]` -> `[B, H, N, d]`.
    fn split_heads(&self, x: Tensor<B, 3>) -> Tensor<B, 4> {
        let [b, n, width] = x.dims();
        x.reshape([b, n, self.num_heads, width / self.num_heads])
            .swap_dims(1, 2)
    }

    /// The core: returns the context `[B, Nq, H * d]` and, when asked, the probabilities.
    pub fn forward(
        &self,
        scheme: &PositionScheme,
        query_states: Tensor<B, 3>,
        kv_states: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        inputs: &PositionInputs<B>,
        keep_probs: bool,
    ) -> (Tensor<B, 3>, Option<Tensor<B, 4>>) {
        let q = self.split_heads(rows::linear(&self.query_proj, query_states));
        let k = self.split_heads(rows::linear(&self.key_proj, kv_states.clone()));
        let v = self.split_heads(rows::linear(&self.value_proj, kv_states));

        let mut scores = q.clone().matmul(k.clone().swap_dims(2, 3));
        if let Some(terms) = self.score_terms(scheme, &q, &k, inputs) {
            scores = scores + terms;
        }
        let scores = scores / self.scale + mask_bias;
        let probs = rows::softmax_last(scores);
        let kept = keep_probs.then(|| probs.clone());
        let probs = self.dropout.forward(probs);

        let mut context = probs.clone().matmul(v);
        if let (Some(LayerPosition::Shaw(t)), PositionInputs::Shaw(index)) = (&self.rel, inputs)
            && let Some(value) = t.value_term(&probs, index)
        {
            context = context + value;
        }
        let [b, h, nq, d] = context.dims();
        (context.swap_dims(1, 2).reshape([b, nq, h * d]), kept)
    }

    /// The scheme's additive score terms, unscaled.
    pub fn score_terms(
        &self,
        scheme: &PositionScheme,
        q: &Tensor<B, 4>,
        k: &Tensor<B, 4>,
        inputs: &PositionInputs<B>,
    ) -> Option<Tensor<B, 4>> {
        match (&self.rel, inputs, scheme) {
            (Some(LayerPosition::Shaw(t)), PositionInputs::Shaw(index), _) => {
                Some(t.score_terms(q, index))
            }
            (Some(LayerPosition::Xl(t)), PositionInputs::Xl(x), _) => Some(t.score_terms(q, k, x)),
            (
                Some(LayerPosition::Deberta(t)),
                PositionInputs::Deberta(x),
                PositionScheme::Deberta(c),
            ) => t.score_terms(c, q, k, x, &self.query_proj, &self.key_proj),
            _ => None,
        }
    }
}
