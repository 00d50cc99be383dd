//! Maps an HF DeBERTa-v2 `config.json` to a [`ModelConfig`], honouring every attention key and HF's
//! defaults for absent ones, and an HF BERT one (`model_type = "bert"`) to the lab's absolute scheme.
//! Unknown extra keys are ignored, as HF does.

use std::path::Path;

use serde_json::{Map, Value};

use super::export::HfArch;
use crate::config::{HiddenAct, MlmDecoder, ModelConfig};
use crate::error::CheckpointError;
use crate::position::{AbsoluteConfig, DisentangledConfig, P2cIndex, PosAttType, PositionScheme};

struct Keys<'a> {
    map: &'a Map<String, Value>,
    path: &'a Path,
}

impl Keys<'_> {
    fn bad(&self, key: &str, want: &str) -> CheckpointError {
        CheckpointError::BadConfig {
            path: self.path.to_owned(),
            message: format!("key `{key}` should be {want}, found {}", self.map[key]),
        }
    }

    fn int(&self, key: &str, default: i64) -> Result<i64, CheckpointError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_i64().ok_or_else(|| self.bad(key, "an integer")),
        }
    }

    fn size(&self, key: &str, default: i64) -> Result<usize, CheckpointError> {
        let v = self.int(key, default)?;
        usize::try_from(v).map_err(|_| self.bad(key, "a non-negative integer"))
    }

    fn float(&self, key: &str, default: f64) -> Result<f64, CheckpointError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.bad(key, "a number")),
        }
    }

    fn boolean(&self, key: &str, default: bool) -> Result<bool, CheckpointError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.bad(key, "true or false")),
        }
    }

    fn string(&self, key: &str, default: &str) -> Result<String, CheckpointError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default.to_owned()),
            Some(v) => v
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| self.bad(key, "a string")),
        }
    }

    /// A list of strings, or one `"a|b"` string (HF accepts both), lower-cased and trimmed.
    fn list(&self, key: &str) -> Result<Vec<String>, CheckpointError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s
                .to_lowercase()
                .split('|')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for x in items {
                    let s = x
                        .as_str()
                        .ok_or_else(|| self.bad(key, "a list of strings or an \"a|b\" string"))?;
                    let s = s.trim().to_lowercase();
                    if !s.is_empty() {
                        out.push(s);
                    }
                }
                Ok(out)
            }
            Some(_) => Err(self.bad(key, "a list of strings or an \"a|b\" string")),
        }
    }

    fn unsupported(&self, key: &str, message: impl Into<String>) -> CheckpointError {
        CheckpointError::Unsupported {
            path: self.path.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Reads `config.json` text (from `path`, for messages) into a validated [`ModelConfig`]. The decoder is
/// `plain`: HF checkpoints carry no Enhanced Mask Decoder.
pub fn model_config_from_hf(text: &str, path: &Path) -> Result<ModelConfig, CheckpointError> {
    model_config_and_arch(text, path).map(|(cfg, _)| cfg)
}

/// [`model_config_from_hf`], plus the architecture whose tensor names the weights follow: BERT when
/// `model_type` is `"bert"`, DeBERTa-v2 otherwise (whatever `model_type` says, as before BERT was read).
pub fn model_config_and_arch(
    text: &str,
    path: &Path,
) -> Result<(ModelConfig, HfArch), CheckpointError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CheckpointError::BadConfig {
        path: path.to_owned(),
        message: format!("not valid JSON: {e}"),
    })?;
    let map = value
        .as_object()
        .ok_or_else(|| CheckpointError::BadConfig {
            path: path.to_owned(),
            message: "the top level should be a JSON object".into(),
        })?;
    let k = Keys { map, path };
    if map.get("model_type").and_then(Value::as_str) == Some("bert") {
        return bert_config(&k).map(|cfg| (cfg, HfArch::Bert));
    }

    let hidden_size = k.size("hidden_size", 1536)?;
    let max_position_embeddings = k.size("max_position_embeddings", 512)?;
    if k.size("embedding_size", hidden_size as i64)? != hidden_size {
        return Err(k.unsupported(
            "embedding_size",
            "an embedding size different from hidden_size (embed_proj)",
        ));
    }
    if k.int("conv_kernel_size", 0)? > 0 {
        return Err(k.unsupported(
            "conv_kernel_size",
            "the convolution layer of DeBERTa-v2 xlarge/xxlarge",
        ));
    }
    let hidden_act = hidden_act(&k)?;
    let position_biased_input = k.boolean("position_biased_input", true)?;
    let position = if k.boolean("relative_attention", false)? {
        let mut pos_att_type = Vec::new();
        for name in k.list("pos_att_type")? {
            let term = match name.as_str() {
                "c2p" => PosAttType::C2p,
                "p2c" => PosAttType::P2c,
                // HF's DeBERTa-v2 accepts and ignores p2p; do the same to match its outputs.
                "p2p" => continue,
                other => {
                    return Err(k.unsupported(
                        "pos_att_type",
                        format!("unknown term `{other}`; known: c2p, p2c, p2p"),
                    ));
                }
            };
            if !pos_att_type.contains(&term) {
                pos_att_type.push(term);
            }
        }
        let max_rel = k.int("max_relative_positions", -1)?;
        let max_relative_positions = if max_rel < 1 {
            max_position_embeddings
        } else {
            max_rel as usize
        };
        let buckets = k.int("position_buckets", -1)?;
        let norm = k.list("norm_rel_ebd")?;
        PositionScheme::Deberta(DisentangledConfig {
            pos_att_type,
            max_relative_positions,
            position_buckets: buckets.max(0) as usize,
            share_att_key: k.boolean("share_att_key", false)?,
            norm_rel_ebd: norm.iter().any(|x| x == "layer_norm"),
            p2c_index: P2cIndex::Code,
        })
    } else if position_biased_input {
        PositionScheme::Absolute(AbsoluteConfig::default())
    } else {
        PositionScheme::Nope
    };
    let cfg = ModelConfig {
        vocab_size: k.size("vocab_size", 128100)?,
        hidden_size,
        num_hidden_layers: k.size("num_hidden_layers", 24)?,
        num_attention_heads: k.size("num_attention_heads", 24)?,
        attention_head_size: match map.get("attention_head_size") {
            None | Some(Value::Null) => None,
            Some(_) => Some(k.size("attention_head_size", 0)?),
        },
        intermediate_size: k.size("intermediate_size", 6144)?,
        hidden_act,
        hidden_dropout_prob: k.float("hidden_dropout_prob", 0.1)?,
        attention_probs_dropout_prob: k.float("attention_probs_dropout_prob", 0.1)?,
        max_position_embeddings,
        type_vocab_size: k.size("type_vocab_size", 0)?,
        layer_norm_eps: k.float("layer_norm_eps", 1e-7)?,
        initializer_range: k.float("initializer_range", crate::position::INITIALIZER_RANGE)?,
        pad_token_id: k.size("pad_token_id", 0)?,
        position_biased_input: position_biased_input && position.is_relative(),
        position,
        decoder: MlmDecoder::Plain,
    };
    validated(cfg, path).map(|cfg| (cfg, HfArch::DebertaV2))
}

fn validated(cfg: ModelConfig, path: &Path) -> Result<ModelConfig, CheckpointError> {
    cfg.validate().map_err(|source| CheckpointError::Invalid {
        path: path.to_owned(),
        source,
    })?;
    Ok(cfg)
}

fn hidden_act(k: &Keys) -> Result<HiddenAct, CheckpointError> {
    let act_name = k.string("hidden_act", "gelu")?;
    HiddenAct::from_hf(&act_name).ok_or_else(|| {
        k.unsupported(
            "hidden_act",
            format!("`{act_name}`; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu, swish, tanh"),
        )
    })
}

/// An HF `BertConfig` (with HF's defaults): learned absolute positions at the input, the lab's `absolute`
/// scheme. Relative position embedding types and decoder settings are refused.
fn bert_config(k: &Keys) -> Result<ModelConfig, CheckpointError> {
    let kind = k.string("position_embedding_type", "absolute")?;
    if kind != "absolute" {
        return Err(k.unsupported(
            "position_embedding_type",
            format!("`{kind}`; the lab reads BERT checkpoints with \"absolute\" positions only"),
        ));
    }
    for key in ["is_decoder", "add_cross_attention"] {
        if k.boolean(key, false)? {
            return Err(k.unsupported(
                key,
                "a BERT decoder (causal or cross-attention); the lab's model is an encoder",
            ));
        }
    }
    let cfg = ModelConfig {
        vocab_size: k.size("vocab_size", 30522)?,
        hidden_size: k.size("hidden_size", 768)?,
        num_hidden_layers: k.size("num_hidden_layers", 12)?,
        num_attention_heads: k.size("num_attention_heads", 12)?,
        attention_head_size: None,
        intermediate_size: k.size("intermediate_size", 3072)?,
        hidden_act: hidden_act(k)?,
        hidden_dropout_prob: k.float("hidden_dropout_prob", 0.1)?,
        attention_probs_dropout_prob: k.float("attention_probs_dropout_prob", 0.1)?,
        max_position_embeddings: k.size("max_position_embeddings", 512)?,
        type_vocab_size: k.size("type_vocab_size", 2)?,
        layer_norm_eps: k.float("layer_norm_eps", 1e-12)?,
        initializer_range: k.float("initializer_range", crate::position::INITIALIZER_RANGE)?,
        pad_token_id: k.size("pad_token_id", 0)?,
        position: PositionScheme::Absolute(AbsoluteConfig::default()),
        position_biased_input: false,
        decoder: MlmDecoder::Plain,
    };
    validated(cfg, k.path)
}
