//! Loads HF DeBERTa-v2/v3 weights (`model.safetensors`, or `pytorch_model.bin`) into a [`Model`] through
//! burn-store, mapping names by a short table. Tensor names may carry a `deberta.` prefix or not; extra tensors
//! (MLM or classification heads, buffers) are ignored; a missing tensor or a shape mismatch is an error that
//! names the tensor.

use std::path::Path;

use burn::tensor::backend::Backend;
use burn_store::{
    ApplyResult, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};

use super::config::model_config_from_hf;
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

fn remapper() -> KeyRemapper {
    NAME_TABLE.iter().fold(KeyRemapper::new(), |r, (from, to)| {
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
    let config = model_config_from_hf(&text, &config_path)?;
    let mut model =
        Model::<B>::new(&config, device).map_err(|source| CheckpointError::Invalid {
            path: config_path.clone(),
            source,
        })?;
    let safetensors = dir.join("model.safetensors");
    let torch = dir.join("pytorch_model.bin");
    let (path, result) = if safetensors.is_file() {
        let mut store = SafetensorsStore::from_file(&safetensors)
            .remap(remapper())
            .with_from_adapter(PyTorchToBurnAdapter)
            .skip_enum_variants(true)
            .allow_partial(true);
        let r = model
            .load_from(&mut store)
            .map_err(|e| CheckpointError::BadTensor {
                path: safetensors.clone(),
                message: e.to_string(),
            })?;
        (safetensors, r)
    } else if torch.is_file() {
        let mut store = PytorchStore::from_file(&torch)
            .remap(remapper())
            .skip_enum_variants(true)
            .allow_partial(true);
        let r = model
            .load_from(&mut store)
            .map_err(|e| CheckpointError::BadTensor {
                path: torch.clone(),
                message: e.to_string(),
            })?;
        (torch, r)
    } else {
        return Err(CheckpointError::NoWeights {
            dir: dir.to_owned(),
        });
    };
    check(&path, &result)?;
    Ok((model, config))
}

fn check(path: &Path, result: &ApplyResult) -> Result<(), CheckpointError> {
    if let Some(e) = result.errors.first() {
        return Err(CheckpointError::BadTensor {
            path: path.to_owned(),
            message: format!(
                "{e} (HF names: the lab's path maps back to `{}`)",
                hf_name(&error_path(e))
            ),
        });
    }
    if !result.missing.is_empty() {
        return Err(CheckpointError::MissingTensors {
            path: path.to_owned(),
            names: result.missing.iter().map(|(p, _)| hf_name(p)).collect(),
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
