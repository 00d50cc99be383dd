//! Presets: the rows of the DeBERTa ablation (and the other schemes) as config values. A preset is only a
//! starting [`ModelConfig`]; any field can be overridden.

use serde::{Deserialize, Serialize};

use crate::config::{MlmDecoder, ModelConfig};
use crate::error::ConfigError;
use crate::position::{
    AbsoluteConfig, AlibiConfig, DisentangledConfig, FireConfig, PosAttType, PositionScheme,
    RopeConfig, ShawConfig, T5Config, XlConfig,
};

/// A named starting configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Learned absolute positions at the input (BERT / RoBERTa).
    Bert,
    /// Shaw et al. relative keys and values.
    Shaw,
    /// Transformer-XL relative attention.
    Xl,
    /// No position information.
    Nope,
    /// DeBERTa: c2p + p2c, Enhanced Mask Decoder.
    Deberta,
    /// DeBERTa without EMD and without absolute positions anywhere.
    DebertaNoEmd,
    /// DeBERTa without EMD, absolute positions added at the input instead.
    DebertaAp,
    /// DeBERTa without c2p (p2c only), with EMD.
    DebertaNoC2p,
    /// DeBERTa without p2c (c2p only), with EMD.
    DebertaNoP2c,
    /// DeBERTa without EMD and without c2p.
    DebertaNoEmdNoC2p,
    /// DeBERTa without EMD and without p2c.
    DebertaNoEmdNoP2c,
    /// DeBERTa-v3-style attention: log buckets (256 of 512), shared keys, LayerNormed table, no EMD.
    DebertaV3,
    /// ALiBi: a fixed per-head linear distance bias after the scale.
    Alibi,
    /// RoPE: q and k rotated by position (base 10000).
    Rope,
    /// T5's learned bias per log bucket (32 buckets, max distance 128) and head, shared by the layers.
    T5,
    /// FIRE: an MLP (width 32) of the normalised log distance and its direction, shared by the layers.
    Fire,
}

impl Preset {
    /// Every preset, in the order of the ablation table.
    pub const ALL: [Preset; 16] = [
        Preset::Bert,
        Preset::Shaw,
        Preset::Xl,
        Preset::Nope,
        Preset::Deberta,
        Preset::DebertaNoEmd,
        Preset::DebertaAp,
        Preset::DebertaNoC2p,
        Preset::DebertaNoP2c,
        Preset::DebertaNoEmdNoC2p,
        Preset::DebertaNoEmdNoP2c,
        Preset::DebertaV3,
        Preset::Alibi,
        Preset::Rope,
        Preset::T5,
        Preset::Fire,
    ];

    /// The name used in config files and on the command line.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Parses a name, listing the valid ones on failure.
    pub fn parse(name: &str) -> Result<Self, ConfigError> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| {
            let names: Vec<String> = Self::ALL.iter().map(|p| p.name()).collect();
            ConfigError::new(
                "preset",
                format!(
                    "unknown preset `{name}`; choose one of {}",
                    names.join(", ")
                ),
            )
        })
    }

    /// The preset's config (model sizes of [`ModelConfig::default`]).
    pub fn config(self) -> ModelConfig {
        use PosAttType::{C2p, P2c};
        let deberta = |terms: Vec<PosAttType>| {
            PositionScheme::Deberta(DisentangledConfig {
                pos_att_type: terms,
                ..DisentangledConfig::default()
            })
        };
        let (position, decoder, position_biased_input) = match self {
            Self::Bert => (
                PositionScheme::Absolute(AbsoluteConfig::default()),
                MlmDecoder::Plain,
                false,
            ),
            Self::Shaw => (
                PositionScheme::Shaw(ShawConfig::default()),
                MlmDecoder::Plain,
                false,
            ),
            Self::Xl => (
                PositionScheme::Xl(XlConfig::default()),
                MlmDecoder::Plain,
                false,
            ),
            Self::Nope => (PositionScheme::Nope, MlmDecoder::Plain, false),
            Self::Deberta => (deberta(vec![C2p, P2c]), MlmDecoder::Emd, false),
            Self::DebertaNoEmd => (deberta(vec![C2p, P2c]), MlmDecoder::Plain, false),
            Self::DebertaAp => (deberta(vec![C2p, P2c]), MlmDecoder::Plain, true),
            Self::DebertaNoC2p => (deberta(vec![P2c]), MlmDecoder::Emd, false),
            Self::DebertaNoP2c => (deberta(vec![C2p]), MlmDecoder::Emd, false),
            Self::DebertaNoEmdNoC2p => (deberta(vec![P2c]), MlmDecoder::Plain, false),
            Self::DebertaNoEmdNoP2c => (deberta(vec![C2p]), MlmDecoder::Plain, false),
            Self::DebertaV3 => (
                PositionScheme::Deberta(DisentangledConfig {
                    pos_att_type: vec![C2p, P2c],
                    max_relative_positions: 512,
                    position_buckets: 256,
                    share_att_key: true,
                    norm_rel_ebd: true,
                    ..DisentangledConfig::default()
                }),
                MlmDecoder::Plain,
                false,
            ),
            Self::Alibi => (
                PositionScheme::Alibi(AlibiConfig::default()),
                MlmDecoder::Plain,
                false,
            ),
            Self::Rope => (
                PositionScheme::Rope(RopeConfig::default()),
                MlmDecoder::Plain,
                false,
            ),
            Self::T5 => (
                PositionScheme::T5(T5Config::default()),
                MlmDecoder::Plain,
                false,
            ),
            Self::Fire => (
                PositionScheme::Fire(FireConfig::default()),
                MlmDecoder::Plain,
                false,
            ),
        };
        ModelConfig {
            position,
            decoder,
            position_biased_input,
            ..ModelConfig::default()
        }
    }

    /// The preset's config with `overrides` (a TOML table of [`ModelConfig`] keys) merged in, validated.
    /// A `position` table with a different `kind` replaces the scheme; otherwise its keys are merged.
    pub fn config_with(self, overrides: &toml::Table) -> Result<ModelConfig, ConfigError> {
        let base = toml::Table::try_from(self.config())
            .map_err(|e| ConfigError::new("model", e.to_string()))?;
        let merged = merge(base.clone(), overrides);
        let cfg: ModelConfig = merged.try_into().map_err(|e: toml::de::Error| {
            // name the override at fault: the first key that fails on its own
            let key = overrides
                .iter()
                .find(|(k, v)| {
                    let one = toml::Table::from_iter([((*k).clone(), (*v).clone())]);
                    merge(base.clone(), &one).try_into::<ModelConfig>().is_err()
                })
                .map_or("model", |(k, _)| k.as_str());
            ConfigError::new(key, e.message().to_owned())
        })?;
        cfg.validate()?;
        Ok(cfg)
    }
}

fn merge(mut base: toml::Table, over: &toml::Table) -> toml::Table {
    for (key, value) in over {
        let replaced = match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                let same_kind =
                    key != "position" || o.get("kind").is_none_or(|k| Some(k) == b.get("kind"));
                if same_kind {
                    *b = merge(std::mem::take(b), o);
                    false
                } else {
                    true
                }
            }
            _ => true,
        };
        if replaced {
            base.insert(key.clone(), value.clone());
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::Preset;

    /// Fails to compile when a preset is added: give it an arm here and add it to [`Preset::ALL`].
    fn index(p: Preset) -> usize {
        match p {
            Preset::Bert => 0,
            Preset::Shaw => 1,
            Preset::Xl => 2,
            Preset::Nope => 3,
            Preset::Deberta => 4,
            Preset::DebertaNoEmd => 5,
            Preset::DebertaAp => 6,
            Preset::DebertaNoC2p => 7,
            Preset::DebertaNoP2c => 8,
            Preset::DebertaNoEmdNoC2p => 9,
            Preset::DebertaNoEmdNoP2c => 10,
            Preset::DebertaV3 => 11,
            Preset::Alibi => 12,
            Preset::Rope => 13,
            Preset::T5 => 14,
            Preset::Fire => 15,
        }
    }

    #[test]
    fn all_lists_every_preset_once() {
        let mut seen: Vec<usize> = Preset::ALL.iter().map(|&p| index(p)).collect();
        seen.sort();
        assert_eq!(seen, (0..Preset::ALL.len()).collect::<Vec<_>>());
        assert_eq!(Preset::ALL.len(), 16, "the number of arms of `index`");
    }
}
