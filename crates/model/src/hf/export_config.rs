//! The `config.json` half of an HF export: which HF architecture a lab config maps to (DeBERTa-v2 or BERT),
//! with exactly the keys HF's config class reads, and the refusal, naming the feature, of what HF cannot
//! represent (see [`super::export`]).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::config::{HiddenAct, MlmDecoder, ModelConfig};
use crate::position::{AbsoluteEmbedding, P2cIndex, PosAttType, PositionScheme};

/// The HF architecture a model is exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HfArch {
    /// `model_type = "deberta-v2"`, `DebertaV2ForMaskedLM` (the `deberta` and `nope` schemes).
    DebertaV2,
    /// `model_type = "bert"`, `BertForMaskedLM` (learned absolute positions).
    Bert,
}

impl HfArch {
    /// The prefix of the encoder's tensor names (`deberta` or `bert`).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::DebertaV2 => "deberta",
            Self::Bert => "bert",
        }
    }
}

/// Why a model could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The model has a feature HF's DeBERTa-v2 and BERT cannot represent.
    #[error("cannot export to HF: {feature}: {message}")]
    Unsupported {
        /// The feature, as the model config names it.
        feature: String,
        /// Why HF cannot hold it, and what exports instead.
        message: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A tensor of the model has no HF name or could not be read.
    #[error("cannot export tensor `{name}`: {message}")]
    Tensor {
        /// The lab's path of the tensor (or the HF name, once mapped).
        name: String,
        /// What is wrong.
        message: String,
    },
}

fn unsupported(feature: impl Into<String>, message: impl Into<String>) -> ExportError {
    ExportError::Unsupported {
        feature: feature.into(),
        message: message.into(),
    }
}

/// An HF config made from a lab config.
#[derive(Debug, Clone, PartialEq)]
pub struct HfConfig {
    /// The architecture.
    pub arch: HfArch,
    /// The `config.json` object.
    pub json: Value,
    /// What the export changes (the Enhanced Mask Decoder dropped), for the user.
    pub warnings: Vec<String>,
}

/// The warning printed when an EMD model is exported.
pub const EMD_WARNING: &str = "the Enhanced Mask Decoder (decoder = \"emd\") is dropped: HF's DeBERTa-v2 has \
     none, so the export holds the encoder and the plain MLM head on its last layer; hidden states are the \
     lab's, but MLM predictions will differ from the lab's";

/// HF's name of an activation.
fn act_name(act: HiddenAct) -> &'static str {
    match act {
        HiddenAct::Gelu => "gelu",
        HiddenAct::GeluTanh => "gelu_new",
        HiddenAct::Relu => "relu",
        HiddenAct::Silu => "silu",
        HiddenAct::Tanh => "tanh",
    }
}

/// The schemes HF has no equivalent of, with what they are.
const NO_HF: [(&str, &str); 6] = [
    ("shaw", "Shaw et al. relative keys and values"),
    ("xl", "Transformer-XL relative attention"),
    ("alibi", "ALiBi distance bias"),
    ("rope", "RoPE rotary positions"),
    ("t5", "T5 relative bias"),
    ("fire", "FIRE functional bias"),
];

/// Maps a lab config to an HF `config.json`, refusing what HF cannot represent (see the module docs).
pub fn hf_config(cfg: &ModelConfig) -> Result<HfConfig, ExportError> {
    let (arch, relative) = match &cfg.position {
        PositionScheme::Deberta(d) => (HfArch::DebertaV2, Some(d)),
        PositionScheme::Nope => (HfArch::DebertaV2, None),
        PositionScheme::Absolute(a) if a.embedding == AbsoluteEmbedding::Sinusoidal => {
            return Err(unsupported(
                "position.embedding = \"sinusoidal\"",
                "HF BERT learns its absolute position table and has no fixed sinusoid; retrain with \
                 embedding = \"learned\"",
            ));
        }
        PositionScheme::Absolute(_) => (HfArch::Bert, None),
        other => {
            let name = other.name();
            let what = NO_HF
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, w)| w);
            return Err(unsupported(
                format!("position scheme `{name}` ({what})"),
                "only the deberta (c2p/p2c), absolute (learned) and nope schemes export; retrain with one \
                 of them to use the model in HF transformers",
            ));
        }
    };
    let mut json = json!({
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "hidden_act": act_name(cfg.hidden_act),
        "hidden_dropout_prob": cfg.hidden_dropout_prob,
        "attention_probs_dropout_prob": cfg.attention_probs_dropout_prob,
        "max_position_embeddings": cfg.max_position_embeddings,
        "initializer_range": cfg.initializer_range,
        "layer_norm_eps": cfg.layer_norm_eps,
        "pad_token_id": cfg.pad_token_id,
    });
    let extra = match arch {
        HfArch::Bert => {
            if let Some(size) = cfg.attention_head_size
                && size * cfg.num_attention_heads != cfg.hidden_size
            {
                return Err(unsupported(
                    format!("attention_head_size = {size}"),
                    format!(
                        "HF BERT's heads are hidden_size / num_attention_heads = {} / {} wide; retrain \
                         without attention_head_size",
                        cfg.hidden_size, cfg.num_attention_heads
                    ),
                ));
            }
            // HF BERT always has a token-type table; a model without one gets a single zero row
            json!({
                "model_type": "bert",
                "architectures": ["BertForMaskedLM"],
                "type_vocab_size": cfg.type_vocab_size.max(1),
                "position_embedding_type": "absolute",
            })
        }
        HfArch::DebertaV2 => {
            let mut terms = Vec::new();
            for t in relative.map_or(&[][..], |d| &d.pos_att_type) {
                terms.push(match t {
                    PosAttType::C2p => "c2p",
                    PosAttType::P2c => "p2c",
                    PosAttType::P2p => {
                        return Err(unsupported(
                            "pos_att_type p2p",
                            "HF DeBERTa-v2 accepts p2p but computes no p2p term, so its outputs would \
                             differ; retrain without p2p",
                        ));
                    }
                });
            }
            if relative.is_some_and(|d| d.p2c_index == P2cIndex::Paper) {
                return Err(unsupported(
                    "p2c_index = \"paper\"",
                    "HF DeBERTa-v2 indexes p2c as the official code does; retrain with \
                     p2c_index = \"code\"",
                ));
            }
            let buckets = relative.map_or(0, |d| d.position_buckets);
            let mut extra = json!({
                "model_type": "deberta-v2",
                "architectures": ["DebertaV2ForMaskedLM"],
                "type_vocab_size": cfg.type_vocab_size,
                "relative_attention": relative.is_some(),
                "max_relative_positions": relative.map_or(-1, |d| d.max_relative_positions as i64),
                "position_buckets": if buckets > 0 { buckets as i64 } else { -1 },
                "share_att_key": relative.is_some_and(|d| d.share_att_key),
                "norm_rel_ebd": if relative.is_some_and(|d| d.norm_rel_ebd) { "layer_norm" } else { "none" },
                "pos_att_type": terms,
                "position_biased_input": cfg.position_biased_input,
                "legacy": true,
            });
            if let Some(size) = cfg.attention_head_size {
                extra["attention_head_size"] = json!(size);
            }
            extra
        }
    };
    if let (Value::Object(map), Value::Object(extra)) = (&mut json, extra) {
        map.extend(extra);
    }
    let warnings = if cfg.decoder == MlmDecoder::Emd {
        vec![EMD_WARNING.to_owned()]
    } else {
        Vec::new()
    };
    Ok(HfConfig {
        arch,
        json,
        warnings,
    })
}
