//! Loads HF DeBERTa-v2/v3 weights (`model.safetensors`, or `pytorch_model.bin`) into a [`Model`] through
//! burn-store, mapping names by a short table. Tensor names may carry a `deberta.` prefix or not; extra tensors
//! (MLM or classification heads, buffers) are ignored; a missing tensor or a shape mismatch is an error that
//! names the tensor. HF BERT checkpoints (`model_type = "bert"`) load by their own table ([`BERT_NAME_TABLE`]).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Element, Tensor};
use burn_store::{
    ApplyResult, KeyRemapper, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore, TensorSnapshot,
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
    let checkpoint = Checkpoint {
        config,
        config_path,
        arch,
    };
    if safetensors.is_file() {
        let store = SafetensorsStore::from_file(&safetensors)
            .remap(remapper(arch))
            .with_from_adapter(PyTorchToBurnAdapter)
            .skip_enum_variants(true)
            .allow_partial(true);
        checkpoint.load(store, &safetensors, device)
    } else if torch.is_file() {
        // Its format and every length in its pickle are checked before burn-store reads it.
        super::torch_file::check(&torch).map_err(|message| CheckpointError::BadTensor {
            path: torch.clone(),
            message,
        })?;
        let store = PytorchStore::from_file(&torch)
            .remap(remapper(arch))
            .skip_enum_variants(true)
            .allow_partial(true);
        checkpoint.load(store, &torch, device)
    } else {
        Err(CheckpointError::NoWeights {
            dir: dir.to_owned(),
        })
    }
}

/// A checkpoint's config, read; its weights come from a burn-store store.
struct Checkpoint {
    config: ModelConfig,
    config_path: std::path::PathBuf,
    arch: HfArch,
}

impl Checkpoint {
    /// The HF name of one of the lab's module paths, for error messages.
    fn hf_name(&self, path: &str) -> String {
        match self.arch {
            HfArch::DebertaV2 => hf_name(path),
            HfArch::Bert => bert_hf_name(path),
        }
    }

    /// Reads the store's tensor list (a pickle that calls a global is refused here, naming it) and checks
    /// every size in it against the weights file, then the config against the file, before the model is
    /// built; then refuses non-float weights by name, loads, checks that nothing is missing, and widens
    /// half-precision weights to the backend's float type.
    fn load<B: Backend, S: ModuleStore>(
        self,
        mut store: S,
        weights: &Path,
        device: &B::Device,
    ) -> Result<(Model<B>, ModelConfig), CheckpointError> {
        let bad = |message: String| CheckpointError::BadTensor {
            path: weights.to_owned(),
            message,
        };
        let file_len = std::fs::metadata(weights)
            .map_err(|source| CheckpointError::Io {
                path: weights.to_owned(),
                source,
            })?
            .len();
        let snapshots = store.get_all_snapshots().map_err(|e| bad(e.to_string()))?;
        // burn-store allocates a tensor's declared size when its data is read.
        for (name, s) in snapshots {
            let bytes =
                (s.shape.iter()).try_fold(s.dtype.size() as u64, |n, &d| n.checked_mul(d as u64));
            if bytes.is_none_or(|b| b > file_len) {
                return Err(bad(format!(
                    "tensor `{}` declares shape {:?} of {:?}, more than the file's {file_len} bytes can hold; \
                     the file is damaged",
                    self.hf_name(name),
                    s.shape.as_slice(),
                    s.dtype
                )));
            }
        }
        self.check_fits(weights, file_len)?;
        let mut model =
            Model::<B>::new(&self.config, device).map_err(|source| CheckpointError::Invalid {
                path: self.config_path.clone(),
                source,
            })?;
        self.check_float_types(&model, snapshots, weights)?;
        let result = model
            .load_from(&mut store)
            .map_err(|e| bad(e.to_string()))?;
        self.check(weights, &result)?;
        let mut widen = ToFloatType(<B::FloatElem as Element>::dtype());
        Ok((model.map(&mut widen), self.config))
    }

    /// Refuses by name any tensor the model would take whose values are not floating point (burn-store would
    /// stop on it with a panic).
    fn check_float_types<B: Backend>(
        &self,
        model: &Model<B>,
        snapshots: &BTreeMap<String, TensorSnapshot>,
        weights: &Path,
    ) -> Result<(), CheckpointError> {
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
        let not_float: Vec<String> = snapshots
            .iter()
            .filter(|(name, s)| !s.dtype.is_float() && params.contains(*name))
            .map(|(name, s)| format!("`{}` ({:?})", self.hf_name(name), s.dtype))
            .collect();
        if not_float.is_empty() {
            return Ok(());
        }
        let more = match not_float.len() {
            n if n > 5 => format!(" and {} more", n - 5),
            _ => String::new(),
        };
        Err(CheckpointError::BadTensor {
            path: weights.to_owned(),
            message: format!(
                "tensor(s) {}{more} do not hold floating-point values, which the model's weights are (f32, \
                 f16 or bf16); the file is damaged or holds something else",
                not_float[..not_float.len().min(5)].join(", ")
            ),
        })
    }

    /// Refuses a config whose model cannot fit in the weights file beside it, before that model is built
    /// (and its memory asked for): the word embeddings and each layer's attention and feed-forward matrices
    /// alone, at two bytes per value (the narrowest type HF saves), must fit in the file. A damaged size in
    /// `config.json` is then reported instead of allocated.
    fn check_fits(&self, weights: &Path, file_len: u64) -> Result<(), CheckpointError> {
        let config = &self.config;
        let least = config.least_parameter_count();
        if least * 2 > file_len as u128 {
            return Err(CheckpointError::BadConfig {
                path: self.config_path.clone(),
                message: format!(
                    "it declares a model of at least {least} values (vocab_size {}, hidden_size {}, {} layers, \
                     intermediate_size {}), more than {} ({file_len} bytes) can hold; config.json and the \
                     weights do not belong together, or one of them is damaged",
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

    /// Every tensor the model needs was found, with its shape.
    fn check(&self, path: &Path, result: &ApplyResult) -> Result<(), CheckpointError> {
        if let Some(e) = result.errors.first() {
            return Err(CheckpointError::BadTensor {
                path: path.to_owned(),
                message: format!(
                    "{e} (HF names: the lab's path maps back to `{}`)",
                    self.hf_name(&error_path(e))
                ),
            });
        }
        if !result.missing.is_empty() {
            return Err(CheckpointError::MissingTensors {
                path: path.to_owned(),
                names: result
                    .missing
                    .iter()
                    .map(|(p, _)| self.hf_name(p))
                    .collect(),
            });
        }
        Ok(())
    }
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

fn error_path(e: &burn_store::ApplyError) -> String {
    use burn_store::ApplyError::*;
    match e {
        ShapeMismatch { path, .. }
        | DTypeMismatch { path, .. }
        | AdapterError { path, .. }
        | LoadError { path, .. } => path.clone(),
    }
}
