//! SiFT, scale-invariant fine-tuning (DeBERTa paper, official code's `sift.py`): virtual adversarial
//! training on NORMALISED embeddings.
//!
//! With SiFT on, the embedding output always passes through a LayerNorm without affine parameters
//! ([`normalise`]), in training and evaluation alike. Each training step then
//! 1. draws Gaussian noise δ (std `noise_std`, clamped to ±2·std) on the normalised embeddings;
//! 2. runs the model on `detach(e) + δ` and takes the gradient g of the symmetric KL to the clean
//!    prediction (detached) with respect to δ;
//! 3. takes one ascent step `δ += step_size · g / (max_abs_row(g) + 1e-6)` (g scaled by its largest
//!    absolute value per token row);
//! 4. returns the symmetric KL between the clean prediction and the prediction on `detach(e) + δ`, which
//!    the step adds to the task loss with weight `lambda`.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::loss::symmetric_kl;
use crate::rng::Exclusive;

/// SiFT settings (defaults as in the paper and the official code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiftSpec {
    /// Whether SiFT is on.
    pub enabled: bool,
    /// Weight of the adversarial symmetric-KL term.
    pub lambda: f64,
    /// Size of the one ascent step on the perturbation.
    pub step_size: f64,
    /// Standard deviation of the initial Gaussian perturbation.
    pub noise_std: f64,
}

impl Default for SiftSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            lambda: 3.0,
            step_size: 1e-4,
            noise_std: 1e-2,
        }
    }
}

impl SiftSpec {
    /// Rejects values outside their ranges.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("sift.lambda", self.lambda),
            ("sift.step_size", self.step_size),
            ("sift.noise_std", self.noise_std),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(TrainError::spec(
                    key,
                    format!("{v} is not a finite number >= 0"),
                ));
            }
        }
        Ok(())
    }
}

/// LayerNorm over the last dimension without scale or shift (epsilon 1e-7).
pub fn normalise<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    let (var, mean) = x.clone().var_mean_bias(2);
    (x - mean) / (var + 1e-7).sqrt()
}

/// Seeds of the random draws of one SiFT step.
#[derive(Debug, Clone, Copy)]
pub struct SiftSeeds {
    /// The initial noise.
    pub noise: u64,
    /// Dropout of the forward pass that measures the ascent direction.
    pub probe: u64,
    /// Dropout of the forward pass on the final perturbation.
    pub adversarial: u64,
}

/// SiFT's adversarial term for one batch. `embedded` is the normalised embedding output of the clean
/// pass, `clean_logits` its prediction, `logits_of` runs the rest of the model from an embedding tensor;
/// the caller holds the training guard `gate`.
pub fn adversarial_loss<B: AutodiffBackend>(
    spec: &SiftSpec,
    embedded: Tensor<B, 3>,
    clean_logits: Tensor<B, 2>,
    logits_of: impl Fn(Tensor<B, 3>) -> Tensor<B, 2>,
    seeds: SiftSeeds,
    gate: &Exclusive,
    device: &B::Device,
) -> Tensor<B, 1> {
    let base = embedded.detach();
    let std = spec.noise_std;
    gate.seed::<B>(device, seeds.noise);
    let noise =
        Tensor::<B::InnerBackend, 3>::random(base.shape(), Distribution::Normal(0.0, std), device)
            .clamp(-2.0 * std, 2.0 * std);
    let delta = Tensor::<B, 3>::from_inner(noise.clone()).require_grad();

    gate.seed::<B>(device, seeds.probe);
    let probe_logits = logits_of(base.clone() + delta.clone());
    let probe = symmetric_kl(clean_logits.clone().detach(), probe_logits);
    let grads = probe.backward();
    let delta = match delta.grad(&grads) {
        Some(g) => {
            let scale = g.clone().abs().max_dim(2) + 1e-6;
            noise + (g / scale).mul_scalar(spec.step_size)
        }
        None => noise,
    };
    let perturbed = base + Tensor::<B, 3>::from_inner(delta);
    gate.seed::<B>(device, seeds.adversarial);
    let adv_logits = logits_of(perturbed);
    symmetric_kl(clean_logits, adv_logits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn normalise_gives_zero_mean_unit_variance_rows() {
        let device = Default::default();
        let x = Tensor::<Flex, 3>::from_data(
            TensorData::new(
                vec![1.0f32, 2.0, 3.0, 4.0, -10.0, 0.0, 10.0, 20.0],
                [1, 2, 4],
            ),
            &device,
        );
        let y = normalise(x).into_data().to_vec::<f32>().unwrap();
        for row in y.chunks(4) {
            let mean: f32 = row.iter().sum::<f32>() / 4.0;
            let var: f32 = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 4.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "{row:?}");
        }
    }
}
