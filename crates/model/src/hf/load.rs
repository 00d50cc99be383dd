//! Loads HF DeBERTa-v2/v3 weights (`model.safetensors`, or `pytorch_model.bin`) into a [`Model`] through
//! burn-store, mapping names by a short table. Tensor names may carry a `deberta.` prefix or not; extra tensors
//! (MLM or classification heads, buffers) are ignored; a missing tensor or a shape mismatch is an error that
//! names the tensor. HF BERT checkpoints (`model_type = "bert"`) load by their own table ([`BERT_NAME_TABLE`]).

use std::collections::HashSet;
use std::path::Path;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Element, Tensor};
use burn_store::{
    ApplyResult, KeyRemapper, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore,
};

use super::config::model_config_and_arch;
use super::export::HfArch;
use crate::config::ModelConfig;
use crate::encoder::Model;
use crate::error::CheckpointError;

/// HF name (left) to the lab's module path (right), applied in order. burn-store drops enum variant names
/// (`rel.Deberta.` becomes `rel.`) and maps LayerNorm `weight`/`bias` to `gamma`/`beta` and transposes
/// linear weights.
pub const NAME_TABLE: [(&str, &str); 6] = [
    (r"^deberta\.", ""),
    (r"\.LayerNorm\.", ".layer_norm."),
    (r"^encoder\.layer_norm\.", "encoder.rel.layer_norm."),
    (r"^encoder\.rel_embeddings\.", "encoder.rel.rel_embeddings."),
    (
        r"\.attention\.self\.(pos_key_proj|pos_query_proj)\.",
        ".attention.self_attn.rel.$1.",
    ),
    (r"\.attention\.self\.", ".attention.self_attn."),
];

/// [`NAME_TABLE`] for HF BERT: `bert.` prefix, `query`/`key`/`value` for the projections. The MLM head
/// (`cls.*`), the pooler and buffers are extra tensors, ignored.
pub const BERT_NAME_TABLE: [(&str, &str); 3] = [
    (r"^bert\.", ""),
    (r"\.LayerNorm\.", ".layer_norm."),
    (
        r"\.attention\.self\.(query|key|value)\.",
        ".attention.self_attn.${1}_proj.",
    ),
];

/// The HF BERT name of one of the lab's module paths, for error messages.
pub fn bert_hf_name(path: &str) -> String {
    let p = path
        .replace(".self_attn.query_proj.", ".self.query.")
        .replace(".self_attn.key_proj.", ".self.key.")
        .replace(".self_attn.value_proj.", ".self.value.")
        .replace(".layer_norm.", ".LayerNorm.")
        .replace(".gamma", ".weight")
        .replace(".beta", ".bias");
    format!("bert.{p}")
}

/// The HF name of one of the lab's module paths, for error messages.
pub fn hf_name(path: &str) -> String {
    let p = path
        .replace(".self_attn.rel.", ".self.")
        .replace(".self_attn.", ".self.")
        .replace("encoder.rel.layer_norm.", "encoder.LayerNorm.")
        .replace("encoder.rel.rel_embeddings.", "encoder.rel_embeddings.")
        .replace(".layer_norm.", ".LayerNorm.")
        .replace("layer_norm.", "LayerNorm.")
        .replace(".gamma", ".weight")
        .replace(".beta", ".bias");
    format!("deberta.{p}")
}

fn remapper(arch: HfArch) -> KeyRemapper {
    let table: &[(&str, &str)] = match arch {
        HfArch::DebertaV2 => &NAME_TABLE,
        HfArch::Bert => &BERT_NAME_TABLE,
    };
    table.iter().fold(KeyRemapper::new(), |r, (from, to)| {
        r.add_pattern(*from, *to)
            .expect("the name table's patterns are valid regexes")
    })
}

/// Reads `dir/config.json` and `dir/model.safetensors` (or `dir/pytorch_model.bin`) into a model.
pub fn load_checkpoint<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(Model<B>, ModelConfig), CheckpointError> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|source| CheckpointError::Io {
        path: config_path.clone(),
        source,
    })?;
    let (config, arch) = model_config_and_arch(&text, &config_path)?;
    let safetensors = dir.join("model.safetensors");
    let torch = dir.join("pytorch_model.bin");
    let weights = if safetensors.is_file() {
        safetensors
    } else if torch.is_file() {
        torch
    } else {
        return Err(CheckpointError::NoWeights {
            dir: dir.to_owned(),
        });
    };
    if weights.ends_with("pytorch_model.bin") {
        // Before anything else reads it: its sizes are checked against the file's, and a pickle that calls
        // a global is refused here, naming the global.
        super::torch_file::check(&weights).map_err(|message| CheckpointError::BadTensor {
            path: weights.clone(),
            message,
        })?;
    }
    check_fits(&config, &config_path, &weights)?;
    let mut model =
        Model::<B>::new(&config, device).map_err(|source| CheckpointError::Invalid {
            path: config_path.clone(),
            source,
        })?;
    let result = if weights.ends_with("model.safetensors") {
        let mut store = SafetensorsStore::from_file(&weights)
            .remap(remapper(arch))
            .with_from_adapter(PyTorchToBurnAdapter)
            .skip_enum_variants(true)
            .allow_partial(true);
        apply(&mut model, &mut store, &weights, arch)?
    } else {
        let mut store = PytorchStore::from_file(&weights)
            .remap(remapper(arch))
            .skip_enum_variants(true)
            .allow_partial(true);
        apply(&mut model, &mut store, &weights, arch)?
    };
    check(&weights, &result, arch)?;
    // Weights saved in half precision (f16, bf16) load in their own type; the model computes in the backend's.
    let mut widen = ToFloatType(<B::FloatElem as Element>::dtype());
    Ok((model.map(&mut widen), config))
}

/// Loads `store` into `model`, after refusing by name any tensor the model would take whose values are not
/// floating point (burn-store would stop on it with a panic).
fn apply<B: Backend, S: ModuleStore>(
    model: &mut Model<B>,
    store: &mut S,
    weights: &Path,
    arch: HfArch,
) -> Result<ApplyResult, CheckpointError> {
    let bad = |message: String| CheckpointError::BadTensor {
        path: weights.to_owned(),
        message,
    };
    // The model's parameter paths, with the PyTorch names burn-store also accepts for LayerNorm's.
    let mut params = HashSet::new();
    for p in model
        .collect(None, None, true)
        .iter()
        .map(|s| s.full_path())
    {
        let alt = (p.strip_suffix(".gamma").map(|b| format!("{b}.weight")))
            .or_else(|| p.strip_suffix(".beta").map(|b| format!("{b}.bias")));
        params.extend(alt);
        params.insert(p);
    }
    let name_of = |p: &str| match arch {
        HfArch::DebertaV2 => hf_name(p),
        HfArch::Bert => bert_hf_name(p),
    };
    let not_float: Vec<String> = store
        .get_all_snapshots()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .filter(|(name, s)| !s.dtype.is_float() && params.contains(*name))
        .map(|(name, s)| format!("`{}` ({:?})", name_of(name), s.dtype))
        .collect();
    if !not_float.is_empty() {
        let more = match not_float.len() {
            n if n > 5 => format!(" and {} more", n - 5),
            _ => String::new(),
        };
        return Err(bad(format!(
            "tensor(s) {}{more} do not hold floating-point values, which the model's weights are (f32, f16 \
             or bf16); the file is damaged or holds something else",
            not_float[..not_float.len().min(5)].join(", ")
        )));
    }
    model.load_from(store).map_err(|e| bad(e.to_string()))
}

/// Casts every float parameter to one type (HF checkpoints saved in f16 or bf16 are widened to the backend's
/// f32 exactly; mixed types would stop the first operation).
struct ToFloatType(DType);

impl<B: Backend> ModuleMapper<B> for ToFloatType {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let tensor = if tensor.dtype() == self.0 {
            tensor
        } else {
            tensor.cast(self.0)
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// Refuses a config whose model cannot fit in the weights file beside it, before that model is built (and its
/// memory asked for): the word embeddings and each layer's attention and feed-forward matrices alone, at two
/// bytes per value (the narrowest type HF saves), must fit in the file. A damaged size in `config.json` is
/// then reported instead of allocated.
fn check_fits(
    config: &ModelConfig,
    config_path: &Path,
    weights: &Path,
) -> Result<(), CheckpointError> {
    let file_len = std::fs::metadata(weights)
        .map_err(|source| CheckpointError::Io {
            path: weights.to_owned(),
            source,
        })?
        .len() as u128;
    let least = config.least_parameter_count();
    if least * 2 > file_len {
        return Err(CheckpointError::BadConfig {
            path: config_path.to_owned(),
            message: format!(
                "it declares a model of at least {least} values (vocab_size {}, hidden_size {}, {} layers, \
                 intermediate_size {}), more than {} ({file_len} bytes) can hold; config.json and the weights \
                 do not belong together, or one of them is damaged",
                config.vocab_size,
                config.hidden_size,
                config.num_hidden_layers,
                config.intermediate_size,
                weights.display()
            ),
        });
    }
    Ok(())
}

fn check(path: &Path, result: &ApplyResult, arch: HfArch) -> Result<(), CheckpointError> {
    let name_of = |p: &str| match arch {
        HfArch::DebertaV2 => hf_name(p),
        HfArch::Bert => bert_hf_name(p),
    };
    if let Some(e) = result.errors.first() {
        return Err(CheckpointError::BadTensor {
            path: path.to_owned(),
            message: format!(
                "{e} (HF names: the lab's path maps back to `{}`)",
                name_of(&error_path(e))
            ),
        });
    }
    if !result.missing.is_empty() {
        return Err(CheckpointError::MissingTensors {
            path: path.to_owned(),
            names: result.missing.iter().map(|(p, _)| name_of(p)).collect(),
        });
    }
    Ok(())
}

fn error_path(e: &burn_store::ApplyError) -> String {
    use burn_store::ApplyError::*;
    match e {
        ShapeMismatch { path, .. }
        | DTypeMismatch { path, .. }
        | AdapterError { path, .. }
        | LoadError { path, .. } => path.clone(),
    }
}
