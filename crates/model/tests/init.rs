//! Initialisation audit against HF `DebertaV2PreTrainedModel._init_weights` (and `TransfoXL`'s for u, v):
//! every linear weight and embedding table normal with std `initializer_range` (0.02 and 0.05 checked), every bias zero,
//! LayerNorm weight 1 and bias 0, the padding row of the word embeddings zero. T5's bucket table and FIRE's
//! MLP follow the same rule; FIRE's `log_c` and `log_threshold` (logarithms of its scalars relative to their
//! configured starting values) start at zero. Checked for every preset, the MLM and the classification model,
//! by walking every parameter with its name.

use ablate_model::{ClassifierModel, MlmModel, Model, ModelConfig, PositionScheme, Preset};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

type B = burn::backend::Flex;

/// Parameters as (dotted path, type of the struct holding them, values).
#[derive(Default)]
struct Collect {
    path: Vec<(String, String)>,
    params: Vec<(String, String, Vec<f32>)>,
}

impl ModuleVisitor<B> for Collect {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.push((name.to_string(), container.to_string()));
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let name: Vec<&str> = self.path.iter().map(|(n, _)| n.as_str()).collect();
        let holder = self.path.last().map_or(String::new(), |(_, c)| c.clone());
        let values = param.val().into_data().convert::<f32>().to_vec().unwrap();
        self.params.push((name.join("."), holder, values));
    }
}

fn config(preset: Preset) -> ModelConfig {
    ModelConfig {
        vocab_size: 600,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        max_position_embeddings: 64,
        type_vocab_size: 2,
        ..preset.config()
    }
}

fn check(model_name: &str, params: &[(String, String, Vec<f32>)], hidden: usize, sd: f64) -> usize {
    let mut normals = 0;
    for (name, holder, v) in params {
        let what = format!("{model_name}: {name} ({holder})");
        let leaf = name.rsplit('.').next().unwrap();
        if holder == "Struct:LayerNorm" {
            let want = if leaf == "gamma" { 1.0 } else { 0.0 };
            assert!(
                v.iter().all(|&x| x == want),
                "{what}: LayerNorm not at {want}"
            );
        } else if leaf == "bias" {
            assert!(v.iter().all(|&x| x == 0.0), "{what}: bias not zero");
        } else if leaf.starts_with("log_") {
            assert!(
                v.iter().all(|&x| x == 0.0),
                "{what}: log-scalar not at its start"
            );
        } else {
            let mut v = v.clone();
            if name.ends_with("word_embeddings.weight") {
                // pad_token_id = 0: row 0 is zero, the rest normal
                assert!(v[..hidden].iter().all(|&x| x == 0.0), "{what}: pad row");
                v.drain(..hidden);
            }
            let n = v.len() as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let std = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            // std of a sample of n normals has sd ~ sd / sqrt(2n): 6 sigma bounds
            let tol = 6.0 * sd / (2.0 * n).sqrt() + 1e-4;
            assert!(
                (std - sd).abs() <= tol && mean.abs() <= 6.0 * sd / n.sqrt(),
                "{what}: mean {mean}, std {std} (want 0, {sd} within {tol}); {n} values"
            );
            normals += 1;
        }
    }
    normals
}

#[test]
fn every_parameter_is_initialised_as_hf_does() {
    let dev = Default::default();
    let mut schemes_seen = std::collections::BTreeSet::new();
    // HF's default initializer_range, and another value, which every normal tensor must follow
    for (preset, sd) in Preset::ALL.into_iter().flat_map(|p| [(p, 0.02), (p, 0.05)]) {
        let cfg = ModelConfig {
            initializer_range: sd,
            ..config(preset)
        };
        schemes_seen.insert(cfg.position.name());
        let mut c = Collect::default();
        MlmModel::<B>::new(&cfg, &dev).unwrap().visit(&mut c);
        let normals = check(&preset.name(), &c.params, cfg.hidden_size, sd);
        assert!(normals >= 6, "{preset:?}: only {normals} normal tensors");
        let mut c = Collect::default();
        ClassifierModel::new(Model::<B>::new(&cfg, &dev).unwrap(), 3, &dev).visit(&mut c);
        check(
            &format!("{} classifier", preset.name()),
            &c.params,
            cfg.hidden_size,
            sd,
        );
    }
    // the relative tables and biases named in the audit were all walked
    for scheme in PositionScheme::every_kind() {
        let name = scheme.name();
        assert!(schemes_seen.contains(name), "no preset uses {name}");
    }
}

#[test]
fn the_audit_names_the_tensors_it_must_cover() {
    let dev = Default::default();
    let names = |preset: Preset| {
        let mut c = Collect::default();
        MlmModel::<B>::new(&config(preset), &dev)
            .unwrap()
            .visit(&mut c);
        c.params
            .into_iter()
            .map(|(n, h, _)| format!("{n} ({h})"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let deberta = names(Preset::Deberta);
    for part in [
        "rel_embeddings.weight",
        "pos_key_proj.weight",
        "position_embeddings.weight",
    ] {
        assert!(deberta.contains(part), "{part} missing from:\n{deberta}");
    }
    let xl = names(Preset::Xl);
    assert!(
        xl.contains("r_w_bias") && xl.contains("r_net.weight"),
        "{xl}"
    );
    assert!(names(Preset::Shaw).contains("rel_key"));
    assert!(names(Preset::T5).contains("rel_bias_table"));
    let fire = names(Preset::Fire);
    for part in ["mlp_in.weight", "mlp_out.bias", "log_c", "log_threshold"] {
        assert!(fire.contains(part), "{part} missing from:\n{fire}");
    }
}
