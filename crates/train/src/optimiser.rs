//! The optimiser section of a spec: AdamW's settings, the learning-rate schedule and gradient clipping,
//! shared by pre-training and fine-tuning.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::schedule::Decay;

/// AdamW and the learning-rate schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimiserSpec {
    /// Peak learning rate.
    pub lr: f64,
    /// Adam's (beta1, beta2).
    pub betas: [f64; 2],
    /// Adam's epsilon.
    pub eps: f64,
    /// Decoupled weight decay, applied to every parameter except biases and LayerNorm parameters (the official
    /// code's `no_decay`); see [`crate::decay`].
    pub weight_decay: f64,
    /// Decay biases and LayerNorm parameters too (off by default, as in the official code).
    pub decay_bias_and_norm: bool,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_steps: u64,
    /// What follows the warm-up: `linear` decay to 0 at the last step, or `constant`.
    pub decay: Decay,
    /// Largest global L2 norm of the gradient (0: no clipping).
    pub clip: f64,
}

impl Default for OptimiserSpec {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            betas: [0.9, 0.999],
            eps: 1e-6,
            weight_decay: 0.01,
            decay_bias_and_norm: false,
            warmup_steps: 100,
            decay: Decay::Linear,
            clip: 1.0,
        }
    }
}

impl OptimiserSpec {
    /// AdamW with these betas and epsilon and NO decay of its own: the decay is applied by
    /// [`crate::decay::apply`] with the official exclusions.
    pub fn adamw<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> OptimizerAdaptor<AdamW, M, B> {
        AdamWConfig::new()
            .with_beta_1(self.betas[0] as f32)
            .with_beta_2(self.betas[1] as f32)
            .with_epsilon(self.eps as f32)
            .with_weight_decay(0.0)
            .init::<B, M>()
    }

    /// Rejects values outside their ranges; `prefix` is the section's dotted name.
    pub fn validate(&self, prefix: &str, steps: u64) -> Result<()> {
        let key = |k: &str| format!("{prefix}.{k}");
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TrainError::spec(
                key("lr"),
                format!("{} is not a positive finite number (e.g. 1e-4)", self.lr),
            ));
        }
        for (i, b) in self.betas.iter().enumerate() {
            if !(0.0..1.0).contains(b) {
                return Err(TrainError::spec(
                    key("betas"),
                    format!("betas[{i}] = {b} is not in [0, 1) (e.g. [0.9, 0.999])"),
                ));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(TrainError::spec(
                key("eps"),
                format!("{} is not a positive finite number (e.g. 1e-6)", self.eps),
            ));
        }
        if !(self.weight_decay.is_finite() && (0.0..1.0).contains(&self.weight_decay)) {
            return Err(TrainError::spec(
                key("weight_decay"),
                format!("{} is not in [0, 1) (e.g. 0.01)", self.weight_decay),
            ));
        }
        if self.warmup_steps > steps {
            return Err(TrainError::spec(
                key("warmup_steps"),
                format!("{} is more than the run's {steps} steps", self.warmup_steps),
            ));
        }
        if !(self.clip.is_finite() && self.clip >= 0.0) {
            return Err(TrainError::spec(
                key("clip"),
                format!(
                    "{} is not a finite number >= 0 (0 turns clipping off)",
                    self.clip
                ),
            ));
        }
        Ok(())
    }
}
