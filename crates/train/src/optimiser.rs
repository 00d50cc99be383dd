//! The optimiser section of a spec: AdamW's settings, the learning-rate schedule and gradient clipping,
//! shared by pre-training and fine-tuning.

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
    /// Decoupled weight decay (applied to every parameter).
    pub weight_decay: f64,
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
            warmup_steps: 100,
            decay: Decay::Linear,
            clip: 1.0,
        }
    }
}

impl OptimiserSpec {
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
