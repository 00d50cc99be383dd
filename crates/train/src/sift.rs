//! SiFT, scale-invariant fine-tuning (DeBERTa paper; the official code's `DeBERTa/sift/sift.py`:
//! `hook_sift_layer` on `embeddings.LayerNorm` with `AdversarialLearner`).
//!
//! The perturbation acts at the INPUT of the embedding LayerNorm: the embedding sum x is normalised without
//! scale or shift ([`normalise`], epsilon 1e-7) and δ is added, then the model's own affine LayerNorm and
//! everything after it run as usual. The clean forward pass is the model's plain forward: SiFT does not touch
//! it, in training or evaluation. (The official pre-hook also routes the clean pass through the non-affine
//! LayerNorm first; LayerNorm of a normalised row equals LayerNorm of the row up to the epsilons, so the two
//! differ by rounding only.) Each training step
//! 1. draws Gaussian noise δ (std `noise_std`, clamped to ±2·std) on `normalise(x)` (detached);
//! 2. runs the model on `normalise(x) + δ` and takes the gradient g, with respect to δ, of the symmetric KL
//!    to the clean prediction (detached), summed over the batch as the official `.sum()`;
//! 3. takes one ascent step `δ += step_size · g / (max_abs_row(g) + 1e-6)` (g scaled by its largest absolute
//!    value per token row);
//! 4. returns the symmetric KL between the prediction on `normalise(x) + δ` and the clean prediction (not
//!    detached: the official `symmetric_kl(pert_logits, target)`), averaged over the batch, which the step
//!    adds to the task loss with weight `lambda`.

use ablate_model::{ClassifierModel, EncoderInput};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::loss::{symmetric_kl, symmetric_kl_rows};
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

/// The perturbation of one step (steps 1-3): the initial noise and δ after the ascent step, both on the
/// inner backend. `base` is `normalise(x)` of the embedding sum, detached; `logits_of` runs the model from
/// an embedding sum.
pub fn perturbation<B: AutodiffBackend>(
    spec: &SiftSpec,
    base: &Tensor<B, 3>,
    clean_logits: &Tensor<B, 2>,
    logits_of: &impl Fn(Tensor<B, 3>) -> Tensor<B, 2>,
    seeds: SiftSeeds,
    gate: &Exclusive,
    device: &B::Device,
) -> (Tensor<B::InnerBackend, 3>, Tensor<B::InnerBackend, 3>) {
    let std = spec.noise_std;
    gate.seed::<B>(device, seeds.noise);
    let noise =
        Tensor::<B::InnerBackend, 3>::random(base.shape(), Distribution::Normal(0.0, std), device)
            .clamp(-2.0 * std, 2.0 * std);
    let delta = Tensor::<B, 3>::from_inner(noise.clone()).require_grad();
    gate.seed::<B>(device, seeds.probe);
    let probe_logits = logits_of(base.clone() + delta.clone());
    let probe = symmetric_kl_rows(probe_logits, clean_logits.clone().detach()).sum();
    let grads = probe.backward();
    let ascended = match delta.grad(&grads) {
        Some(g) => {
            let scale = g.clone().abs().max_dim(2) + 1e-6;
            noise.clone() + (g / scale).mul_scalar(spec.step_size)
        }
        None => noise.clone(),
    };
    (noise, ascended)
}

/// What one fine-tuning forward pass returns: the clean logits (the model's plain forward) and, with SiFT
/// on, the adversarial term.
#[derive(Debug)]
pub struct SiftForward<B: AutodiffBackend> {
    /// `[B, labels]` from the unperturbed input.
    pub logits: Tensor<B, 2>,
    /// SiFT's symmetric KL (before `lambda`), when SiFT is on.
    pub adversarial: Option<Tensor<B, 1>>,
}

/// The forward pass of a fine-tuning step: the plain forward from the embedding sum, then SiFT's term when
/// `spec.enabled`. The caller has seeded the clean pass's dropout and holds `gate`.
pub fn forward<B: AutodiffBackend>(
    clf: &ClassifierModel<B>,
    input: &EncoderInput<B>,
    spec: &SiftSpec,
    seeds: SiftSeeds,
    gate: &Exclusive,
    device: &B::Device,
) -> SiftForward<B> {
    let emb = &clf.model.embeddings;
    let sum = emb.sum(input.input_ids.clone(), input.token_type_ids.clone());
    let logits = clf.forward_from_sum(sum.clone(), input);
    let adversarial = spec.enabled.then(|| {
        let rest = |x| clf.forward_from_sum(x, input);
        adversarial_loss(spec, sum, logits.clone(), rest, seeds, gate, device)
    });
    SiftForward {
        logits,
        adversarial,
    }
}

/// SiFT's adversarial term for one batch. `sum` is the embedding sum of the clean pass (the embedding
/// LayerNorm's input), `clean_logits` the clean prediction, `logits_of` runs the model from an embedding
/// sum; the caller holds the training guard `gate`.
pub fn adversarial_loss<B: AutodiffBackend>(
    spec: &SiftSpec,
    sum: Tensor<B, 3>,
    clean_logits: Tensor<B, 2>,
    logits_of: impl Fn(Tensor<B, 3>) -> Tensor<B, 2>,
    seeds: SiftSeeds,
    gate: &Exclusive,
    device: &B::Device,
) -> Tensor<B, 1> {
    let base = normalise(sum.detach());
    let (_, delta) = perturbation(spec, &base, &clean_logits, &logits_of, seeds, gate, device);
    gate.seed::<B>(device, seeds.adversarial);
    let adv_logits = logits_of(base + Tensor::<B, 3>::from_inner(delta));
    symmetric_kl(adv_logits, clean_logits)
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
