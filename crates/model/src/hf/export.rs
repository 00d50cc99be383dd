//! Exports a lab MLM model as the model files of an HF checkpoint folder: `config.json` (DeBERTa-v2 or BERT,
//! with exactly the keys HF's config class reads) and `model.safetensors` with HF's tensor names, the MLM head
//! included (`cls.predictions.*`). The inverse of [`super::load`]: [`super::load_checkpoint`] reads the folder
//! back into the same encoder.
//!
//! What HF cannot represent is refused with [`ExportError::Unsupported`], naming the feature: the Shaw,
//! Transformer-XL, ALiBi, RoPE, T5 and FIRE schemes, sinusoidal absolute positions, the p2p term,
//! `p2c_index = "paper"`, and a head width BERT cannot express. The Enhanced Mask Decoder is dropped with a
//! warning: the encoder and the plain MLM head are exported, so hidden states are the lab's but MLM
//! predictions are not.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::TensorData;
use burn::tensor::backend::Backend;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot};
use safetensors::{Dtype, tensor::TensorView};

use crate::heads::mlm::MlmModel;

pub use super::export_config::{EMD_WARNING, ExportError, HfArch, HfConfig, hf_config};

/// HF's name of one of the lab's tensors (a path collected with burn-store's PyTorch adapter and enum variants
/// skipped, so LayerNorm parameters are `weight`/`bias`), or `None` when HF has no such tensor.
pub fn hf_tensor_name(path: &str, arch: HfArch) -> Option<String> {
    let segs: Vec<&str> = path.split('.').collect();
    let wb = |s: &str| matches!(s, "weight" | "bias");
    let deberta = arch == HfArch::DebertaV2;
    let encoder = |rest: &[&str]| -> Option<String> {
        Some(match rest {
            ["embeddings", table, "weight"]
                if matches!(
                    *table,
                    "word_embeddings" | "position_embeddings" | "token_type_embeddings"
                ) =>
            {
                format!("embeddings.{table}.weight")
            }
            ["embeddings", "layer_norm", p] if wb(p) => format!("embeddings.LayerNorm.{p}"),
            ["encoder", "rel", "rel_embeddings", "weight"] if deberta => {
                "encoder.rel_embeddings.weight".into()
            }
            ["encoder", "rel", "layer_norm", p] if deberta && wb(p) => {
                format!("encoder.LayerNorm.{p}")
            }
            ["encoder", "layer", n, rest @ ..] if n.parse::<usize>().is_ok() => {
                let inner = match rest {
                    ["attention", "self_attn", proj, p] if wb(p) => {
                        let proj = match (*proj, deberta) {
                            ("query_proj" | "key_proj" | "value_proj", true) => *proj,
                            ("query_proj", false) => "query",
                            ("key_proj", false) => "key",
                            ("value_proj", false) => "value",
                            _ => return None,
                        };
                        format!("attention.self.{proj}.{p}")
                    }
                    ["attention", "self_attn", "rel", proj, p]
                        if deberta
                            && wb(p)
                            && matches!(*proj, "pos_key_proj" | "pos_query_proj") =>
                    {
                        format!("attention.self.{proj}.{p}")
                    }
                    [block @ ("intermediate" | "output"), "dense", p] if wb(p) => {
                        format!("{block}.dense.{p}")
                    }
                    ["attention", "output", "dense", p] if wb(p) => {
                        format!("attention.output.dense.{p}")
                    }
                    ["attention", "output", "layer_norm", p] if wb(p) => {
                        format!("attention.output.LayerNorm.{p}")
                    }
                    ["output", "layer_norm", p] if wb(p) => format!("output.LayerNorm.{p}"),
                    _ => return None,
                };
                format!("encoder.layer.{n}.{inner}")
            }
            _ => return None,
        })
    };
    match segs.as_slice() {
        ["model", rest @ ..] => encoder(rest).map(|n| format!("{}.{n}", arch.prefix())),
        ["lm_head", "dense", p] if wb(p) => Some(format!("cls.predictions.transform.dense.{p}")),
        ["lm_head", "layer_norm", p] if wb(p) => {
            Some(format!("cls.predictions.transform.LayerNorm.{p}"))
        }
        ["lm_head", "bias"] => Some("cls.predictions.bias".into()),
        _ => None,
    }
}

/// The model's tensors under HF's names, ready for [`write_safetensors`]: the encoder under `deberta.` or
/// `bert.`, the MLM head as `cls.predictions.*` with the decoder written out (`cls.predictions.decoder.weight`
/// = the word embeddings, `cls.predictions.decoder.bias` = `cls.predictions.bias`, as HF ties them). An EMD
/// model's position table (used by the EMD only) is left out; a BERT model without token types gets one zero
/// row.
pub fn hf_tensors<B: Backend>(
    mlm: &MlmModel<B>,
    hf: &HfConfig,
) -> Result<Vec<(String, TensorData)>, ExportError> {
    let cfg = &mlm.model.config;
    let keep_positions = hf.arch == HfArch::Bert || cfg.position_biased_input;
    let mut out = Vec::new();
    for snapshot in mlm.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true) {
        let path = snapshot.full_path();
        if path == "model.embeddings.position_embeddings.weight" && !keep_positions {
            continue;
        }
        let name = hf_tensor_name(&path, hf.arch).ok_or_else(|| ExportError::Tensor {
            name: path.clone(),
            message: format!(
                "HF {} has no such tensor (a part of the model the export does not know)",
                hf.arch.prefix()
            ),
        })?;
        let data = snapshot.to_data().map_err(|e| ExportError::Tensor {
            name: path.clone(),
            message: format!("cannot read its values: {e:?}"),
        })?;
        out.push((name, data));
    }
    let find = |name: &str| {
        out.iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| ExportError::Tensor {
                name: name.to_owned(),
                message: "the model has no such tensor".into(),
            })
    };
    let words = find(&format!(
        "{}.embeddings.word_embeddings.weight",
        hf.arch.prefix()
    ))?;
    let bias = find("cls.predictions.bias")?;
    out.push(("cls.predictions.decoder.weight".into(), words));
    out.push(("cls.predictions.decoder.bias".into(), bias));
    if hf.arch == HfArch::Bert && cfg.type_vocab_size == 0 {
        out.push((
            "bert.embeddings.token_type_embeddings.weight".into(),
            TensorData::new(vec![0f32; cfg.hidden_size], [1, cfg.hidden_size]),
        ));
    }
    Ok(out)
}

/// Writes `tensors` (float32, names unique) as a safetensors file with `{"format": "pt"}` metadata, with HF's
/// `safetensors` library.
pub fn write_safetensors(path: &Path, tensors: &[(String, TensorData)]) -> Result<(), ExportError> {
    let mut blobs = Vec::with_capacity(tensors.len());
    for (name, data) in tensors {
        let values: Vec<f32> =
            data.clone()
                .convert::<f32>()
                .to_vec()
                .map_err(|e| ExportError::Tensor {
                    name: name.clone(),
                    message: format!("cannot read its values as float32: {e:?}"),
                })?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        blobs.push((name.clone(), data.shape.to_vec(), bytes));
    }
    let mut views = Vec::with_capacity(blobs.len());
    for (name, shape, bytes) in &blobs {
        if views.iter().any(|(n, _)| n == name) {
            return Err(ExportError::Tensor {
                name: name.clone(),
                message: "written twice".into(),
            });
        }
        let view =
            TensorView::new(Dtype::F32, shape.clone(), bytes).map_err(|e| ExportError::Tensor {
                name: name.clone(),
                message: e.to_string(),
            })?;
        views.push((name.clone(), view));
    }
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(views, Some(metadata), path).map_err(|e| ExportError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Writes `config.json` and `model.safetensors` of `mlm` into the existing folder `dir`; returns the HF
/// config (with the warnings to show).
pub fn export_model<B: Backend>(mlm: &MlmModel<B>, dir: &Path) -> Result<HfConfig, ExportError> {
    let hf = hf_config(&mlm.model.config)?;
    let tensors = hf_tensors(mlm, &hf)?;
    write_safetensors(&dir.join("model.safetensors"), &tensors)?;
    let path = dir.join("config.json");
    let text = serde_json::to_string_pretty(&hf.json).map_err(|e| ExportError::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    std::fs::write(&path, text + "\n").map_err(|source| ExportError::Io { path, source })?;
    Ok(hf)
}
