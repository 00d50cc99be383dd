//! The attention core, written once. Every position scheme reaches it through the four hooks of
//! [`AttentionHooks`], called in this order, and through nothing else:
//!
//! ```text
//! (q, k) = transform(q, k)
//! s      = (q k^T + terms) / scale + bias + mask,   scale = sqrt(d_head * (1 + n_terms))
//! p      = dropout(softmax(s))                       (row maximum subtracted, logits in f32)
//! out    = p v + value_term
//! ```
//!
//! then the output projection, residual and LayerNorm.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use crate::config::ModelConfig;
use crate::dropout::Dropout;
use crate::norm::LayerNorm;
use crate::position::hooks::{AttentionHooks, Content, add_bias};
use crate::position::{LayerPosition, PositionInputs, linear};
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
                query_proj: linear(
                    model.hidden_size,
                    all_head,
                    true,
                    model.initializer_range,
                    device,
                ),
                key_proj: linear(
                    model.hidden_size,
                    all_head,
                    true,
                    model.initializer_range,
                    device,
                ),
                value_proj: linear(
                    model.hidden_size,
                    all_head,
                    true,
                    model.initializer_range,
                    device,
                ),
                rel: LayerPosition::init(&model.position, &model.dims(), device),
                dropout: Dropout::new(model.attention_probs_dropout_prob),
                num_heads: model.num_attention_heads,
                scale,
            },
            output: SelfOutput {
                dense: linear(
                    all_head,
                    model.hidden_size,
                    true,
                    model.initializer_range,
                    device,
                ),
                layer_norm: LayerNorm::new(model.hidden_size, model.layer_norm_eps, device),
                dropout: Dropout::new(model.hidden_dropout_prob),
            },
        }
    }

    /// Attends from `query_states` `[B, Nq, hidden]` to `kv_states` `[B, Nk, hidden]`. `mask_bias` is
    /// additive, broadcastable to `[B, H, Nq, Nk]` (0 where attended, a large negative number elsewhere).
    pub fn forward(
        &self,
        query_states: Tensor<B, 3>,
        kv_states: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        inputs: &PositionInputs<B>,
        keep_probs: bool,
    ) -> AttentionOutput<B> {
        let (context, probs) = self.self_attn.forward(
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
        query_states: Tensor<B, 3>,
        kv_states: Tensor<B, 3>,
        mask_bias: Tensor<B, 4>,
        inputs: &PositionInputs<B>,
        keep_probs: bool,
    ) -> (Tensor<B, 3>, Option<Tensor<B, 4>>) {
        let pos = self.hooks(inputs);
        let q = self.split_heads(rows::linear(&self.query_proj, query_states));
        let k = self.split_heads(rows::linear(&self.key_proj, kv_states.clone()));
        let v = self.split_heads(rows::linear(&self.value_proj, kv_states));

        let (q, k) = pos.transform(q, k);
        let scores = Self::unscaled(pos.as_ref(), &q, &k);
        // the bias after the scale joins the additive mask: s = (q k^T + terms) / scale + (bias + mask)
        let mask_bias = match pos.scaled_bias() {
            Some(bias) => add_bias(mask_bias, bias),
            None => mask_bias,
        };
        let probs = rows::attention_probs(scores, mask_bias, self.scale, &self.dropout);
        let kept = keep_probs.then(|| probs.clone());

        let mut context = probs.clone().matmul(v);
        if let Some(value) = pos.value_term(&probs) {
            context = context + value;
        }
        let [b, h, nq, d] = context.dims();
        (context.swap_dims(1, 2).reshape([b, nq, h * d]), kept)
    }

    /// The position scheme as this layer sees it: `inputs` (built once per forward pass) with this layer's
    /// own position parameters and content projections.
    pub fn hooks<'a>(&'a self, inputs: &'a PositionInputs<B>) -> Box<dyn AttentionHooks<B> + 'a> {
        inputs.hooks(
            self.rel.as_ref(),
            Content {
                query_proj: &self.query_proj,
                key_proj: &self.key_proj,
            },
        )
    }

    /// The scores before the mask, `(q k^T + terms) / scale + bias`, for `q` `[B, H, Nq, d]` and `k`
    /// `[B, H, Nk, d]` as they leave the projections (the transform is applied here): what the core feeds
    /// the softmax, less the mask.
    pub fn scores(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        inputs: &PositionInputs<B>,
    ) -> Tensor<B, 4> {
        let pos = self.hooks(inputs);
        let (q, k) = pos.transform(q, k);
        let scores = Self::unscaled(pos.as_ref(), &q, &k) / self.scale;
        match pos.scaled_bias() {
            Some(bias) => add_bias(scores, bias),
            None => scores,
        }
    }

    /// `q k^T + terms`.
    fn unscaled(pos: &dyn AttentionHooks<B>, q: &Tensor<B, 4>, k: &Tensor<B, 4>) -> Tensor<B, 4> {
        let scores = q.clone().matmul(k.clone().swap_dims(2, 3));
        match pos.score_terms(q, k) {
            Some(terms) => scores + terms,
            None => scores,
        }
    }
}
