//! Decoupled weight decay with the official DeBERTa optimiser's exclusions
//! (`DeBERTa/training/optimizer_utils.py`, `no_decay = ['bias', 'LayerNorm.weight']`): every bias (the
//! linear layers', the MLM head's output bias, Transformer-XL's `r_w_bias`/`r_r_bias`) and the LayerNorm
//! weights and biases are not decayed; everything else is (linear weights, embedding tables, relative
//! tables). AdamW's own decay is kept at 0 and this step applies `p <- p (1 - lr * weight_decay)` to the
//! decayed parameters that have a gradient, exactly what AdamW does before its update.

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

/// Whether a parameter named `field`, held by a struct of type `holder` (burn's `Struct:Name`), is decayed.
pub fn is_decayed(field: &str, holder: &str) -> bool {
    !(field.contains("bias") || holder == "Struct:LayerNorm")
}

struct Path {
    stack: Vec<(String, String)>,
}

impl Path {
    fn decayed(&self) -> bool {
        self.stack
            .last()
            .is_none_or(|(field, holder)| is_decayed(field, holder))
    }
}

struct Decay<'a> {
    path: Path,
    grads: &'a GradientsParams,
    factor: f64,
    all: bool,
}

impl<B: AutodiffBackend> ModuleMapper<B> for Decay<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .stack
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.stack.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let has_grad = self.grads.get::<B::InnerBackend, D>(param.id).is_some();
        if !has_grad || !(self.all || self.path.decayed()) {
            return param;
        }
        let factor = self.factor;
        param.map(|t| Tensor::from_inner(t.inner().mul_scalar(factor)).require_grad())
    }
}

/// Applies decoupled weight decay `p <- p (1 - lr * weight_decay)` to the parameters of `module` that have
/// a gradient in `grads`: all of them with `all`, otherwise all but biases and LayerNorm parameters.
pub fn apply<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: M,
    grads: &GradientsParams,
    lr: f64,
    weight_decay: f64,
    all: bool,
) -> M {
    if weight_decay == 0.0 {
        return module;
    }
    let mut mapper = Decay {
        path: Path { stack: Vec::new() },
        grads,
        factor: 1.0 - lr * weight_decay,
        all,
    };
    module.map(&mut mapper)
}

/// The dotted names of the parameters of `module` that [`apply`] decays (without `all`), for documentation
/// and tests.
pub fn decayed_names<B: AutodiffBackend, M: AutodiffModule<B>>(module: &M) -> Vec<(String, bool)> {
    struct Names {
        path: Path,
        out: Vec<(String, bool)>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Names {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            self.path
                .stack
                .push((name.to_string(), container_type.to_string()));
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.stack.pop();
        }
        fn visit_float<const D: usize>(&mut self, _: &Param<Tensor<B, D>>) {
            let name: Vec<&str> = self.path.stack.iter().map(|(n, _)| n.as_str()).collect();
            self.out.push((name.join("."), self.path.decayed()));
        }
    }
    let mut names = Names {
        path: Path { stack: Vec::new() },
        out: Vec::new(),
    };
    module.visit(&mut names);
    names.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ablate_model::{EncoderInput, Model, ModelConfig, Preset};
    use burn::backend::{Autodiff, Flex};
    use burn::module::Module;
    use burn::tensor::{Distribution, Int, TensorData};

    type B = Autodiff<Flex>;

    struct Randomise;
    impl ModuleMapper<B> for Randomise {
        fn map_float<const D: usize>(&mut self, p: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            p.map(|t| {
                Tensor::random(t.shape(), Distribution::Normal(0.0, 0.3), &t.device())
                    .require_grad()
            })
        }
    }

    fn model(preset: Preset) -> Model<B> {
        let cfg = ModelConfig {
            vocab_size: 30,
            hidden_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            intermediate_size: 16,
            max_position_embeddings: 16,
            ..preset.config()
        };
        Model::<B>::new(&cfg, &Default::default())
            .unwrap()
            .map(&mut Randomise)
    }

    fn flat(m: &Model<B>) -> Vec<(String, Vec<f32>)> {
        struct All(Path, Vec<(String, Vec<f32>)>);
        impl ModuleVisitor<B> for All {
            fn enter_module(&mut self, name: &str, c: &str) {
                self.0.stack.push((name.into(), c.into()));
            }
            fn exit_module(&mut self, _: &str, _: &str) {
                self.0.stack.pop();
            }
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
                let name: Vec<&str> = self.0.stack.iter().map(|(n, _)| n.as_str()).collect();
                self.1
                    .push((name.join("."), p.val().into_data().to_vec::<f32>().unwrap()));
            }
        }
        let mut v = All(Path { stack: Vec::new() }, Vec::new());
        m.visit(&mut v);
        v.1
    }

    #[test]
    fn the_official_no_decay_list_is_followed() {
        let names = decayed_names(&model(Preset::Deberta));
        let get = |suffix: &str| {
            names
                .iter()
                .find(|(n, _)| n.ends_with(suffix))
                .unwrap_or_else(|| panic!("{suffix} not in {names:?}"))
                .1
        };
        assert!(get("query_proj.weight") && !get("query_proj.bias"));
        assert!(get("word_embeddings.weight") && get("rel_embeddings.weight"));
        assert!(get("pos_key_proj.weight") && !get("pos_key_proj.bias"));
        assert!(!get("embeddings.layer_norm.gamma") && !get("embeddings.layer_norm.beta"));
        assert!(!get("output.layer_norm.gamma"));
        let xl = decayed_names(&model(Preset::Xl));
        for (n, d) in &xl {
            if n.ends_with("r_w_bias") || n.ends_with("r_r_bias") {
                assert!(!d, "{n}");
            }
        }
    }

    #[test]
    fn decay_scales_exactly_the_decayed_parameters_with_a_gradient() {
        let m = model(Preset::DebertaNoEmd);
        let ids = TensorData::new(vec![1i64, 4, 6, 2, 9, 3], [1, 6]);
        let input =
            EncoderInput::unmasked(Tensor::<B, 2, Int>::from_data(ids, &Default::default()));
        let loss = m
            .forward(&input, false)
            .last_hidden_state
            .powi_scalar(2)
            .sum();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        let before = flat(&m);
        let names = decayed_names(&m);
        for all in [false, true] {
            let after = flat(&apply(m.clone(), &grads, 0.1, 0.5, all));
            let mut scaled = 0;
            for (((name, b), (_, a)), (_, decayed)) in before.iter().zip(&after).zip(&names) {
                // position_embeddings are unused by this model: no gradient, never decayed
                let want = if (all || *decayed) && !name.contains("position_embeddings") {
                    scaled += 1;
                    0.95
                } else {
                    1.0
                };
                for (x, y) in b.iter().zip(a) {
                    assert!(
                        (x * want - y).abs() < 1e-6,
                        "{name} (all = {all}): {x} -> {y}"
                    );
                }
            }
            assert!(scaled > 5, "only {scaled} tensors decayed");
        }
    }
}
