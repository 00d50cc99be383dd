//! SiFT against the official code's behaviour (`DeBERTa/sift/sift.py`): the clean forward pass is the model's
//! plain forward whether SiFT is on or off; the one ascent step raises the symmetric KL to the clean
//! prediction; the adversarial term vanishes when the perturbation does, and is positive when it does not.

use ablate_model::{ClassifierModel, EncoderInput, Model, ModelConfig, Preset};
use ablate_train::loss::{scalar, symmetric_kl};
use ablate_train::rng::exclusive;
use ablate_train::sift::{self, SiftSeeds, SiftSpec, normalise, perturbation};
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Int, Tensor, TensorData};

type B = Autodiff<Flex>;

/// Every parameter redrawn from N(0, 0.3²) so that small input changes move the logits measurably. The draws
/// come from a fixed counter-based stream (not the backend's shared generator, which tests running in parallel
/// advance in any order), so every run builds the same model.
#[derive(Default)]
struct Randomise {
    drawn: u64,
}

impl Randomise {
    fn uniform(&mut self) -> f64 {
        self.drawn += 1;
        let mut z = self.drawn.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal value (Box-Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

impl ModuleMapper<B> for Randomise {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| {
            let shape = t.shape();
            let values: Vec<f32> = (0..shape.num_elements())
                .map(|_| 0.3 * self.normal())
                .collect();
            Tensor::from_data(TensorData::new(values, shape), &t.device()).require_grad()
        })
    }
}

fn setup() -> (ClassifierModel<B>, EncoderInput<B>) {
    let device = Default::default();
    let cfg = ModelConfig {
        vocab_size: 40,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 16,
        hidden_dropout_prob: 0.0,
        attention_probs_dropout_prob: 0.0,
        ..Preset::DebertaNoEmd.config()
    };
    let model = Model::<B>::new(&cfg, &device).unwrap();
    let clf = ClassifierModel::new(model, 3, &device).map(&mut Randomise::default());
    let ids = TensorData::new(vec![1i64, 7, 9, 2, 5, 3, 1, 5, 6, 2, 3, 8], [2, 6]);
    let input = EncoderInput::unmasked(Tensor::<B, 2, Int>::from_data(ids, &device));
    (clf, input)
}

fn seeds() -> SiftSeeds {
    SiftSeeds {
        noise: 11,
        probe: 12,
        adversarial: 13,
    }
}

fn spec(noise_std: f64, step_size: f64) -> SiftSpec {
    SiftSpec {
        enabled: true,
        noise_std,
        step_size,
        ..SiftSpec::default()
    }
}

fn values(t: Tensor<B, 2>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

#[test]
fn the_clean_forward_is_the_plain_forward_with_sift_on_or_off() {
    let (clf, input) = setup();
    let device = Default::default();
    let gate = exclusive();
    let plain = values(clf.forward(&input));
    for enabled in [false, true] {
        let s = SiftSpec {
            enabled,
            ..SiftSpec::default()
        };
        let out = sift::forward(&clf, &input, &s, seeds(), &gate, &device);
        assert_eq!(out.adversarial.is_some(), enabled);
        let got = values(out.logits);
        for (g, p) in got.iter().zip(&plain) {
            assert!((g - p).abs() < 1e-6, "SiFT {enabled}: {got:?} vs {plain:?}");
        }
    }
}

#[test]
fn the_ascent_step_raises_the_symmetric_kl() {
    let (clf, input) = setup();
    let device = Default::default();
    let gate = exclusive();
    let emb = &clf.model.embeddings;
    let base = normalise(emb.sum(input.input_ids.clone(), None)).detach();
    let clean = clf.forward(&input);
    let logits_of = |x| clf.forward_from_sum(x, &input);
    let kl_at = |delta: Tensor<Flex, 3>| {
        let logits = logits_of(base.clone() + Tensor::from_inner(delta));
        scalar(symmetric_kl(logits, clean.clone().detach()))
    };
    for step_size in [1e-2, 1e-1] {
        let s = spec(1e-2, step_size);
        let (noise, ascended) =
            perturbation(&s, &base, &clean, &logits_of, seeds(), &gate, &device);
        let (before, after) = (kl_at(noise.clone()), kl_at(ascended.clone()));
        assert!(
            after > before * 1.05 && before > 0.0,
            "step {step_size}: KL {before} -> {after}"
        );
        // the step is at most step_size in any coordinate (the gradient scaled by its row's max-abs + 1e-6)
        let moved = (ascended - noise).abs().max_dim(2);
        for m in moved.into_data().to_vec::<f32>().unwrap() {
            assert!(m > 0.0 && m as f64 <= step_size * (1.0 + 1e-5), "{m}");
        }
    }
}

#[test]
fn the_adversarial_term_vanishes_with_the_perturbation_only() {
    let (clf, input) = setup();
    let device = Default::default();
    let gate = exclusive();
    let term = |s: SiftSpec| {
        let out = sift::forward(&clf, &input, &s, seeds(), &gate, &device);
        scalar(out.adversarial.unwrap())
    };
    let zero = term(spec(0.0, 0.0));
    assert!(zero.abs() < 1e-7, "no perturbation: {zero}");
    // at δ = 0 the KL's gradient is zero, so the ascent step has nowhere to go either
    let still_zero = term(spec(0.0, 1e-3));
    assert!(
        still_zero.abs() < 1e-7,
        "zero noise, nonzero step: {still_zero}"
    );
    let positive = term(spec(1.0, 1e-2));
    assert!(positive > 1e-6, "perturbed: {positive}");
}
