//! The run spec: one typed, serialisable description of a pre-training run (model, data, optimiser, schedule,
//! steps, batch, seed, cadences, device). Unknown keys are rejected by the parser, with the key and the
//! allowed keys in the message; bad values are rejected by [`RunSpec::validate`], naming the key and the
//! allowed values. The fully resolved spec (every default filled in) is saved in the run folder and in every
//! checkpoint, and a run only resumes under an identical spec.

use std::path::{Path, PathBuf};

use ablate_data::{
    BatchConfig, DataSpec, MaskingConfig, ReadMode, ShardConfig, SplitConfig, TokenizerConfig,
};
use ablate_model::{ModelConfig, Preset};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::device::DeviceSpec;
use crate::error::{IoContext, Result, TrainError};
use crate::optimiser::OptimiserSpec;

/// A pre-training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSpec {
    /// Optimiser steps (each of `grad_accum` micro-batches of `batch_size` rows).
    pub steps: u64,
    /// Rows per micro-batch.
    pub batch_size: usize,
    /// Micro-batches whose gradients are summed into one optimiser step.
    pub grad_accum: usize,
    /// Seed of the initialisation, the data order, the masks and the dropout.
    pub seed: u64,
    /// Evaluate on the valid split every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Batches of the valid split per evaluation (0: the whole split).
    pub eval_batches: usize,
    /// Write a checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Write a metrics row (and a log line) every this many steps.
    pub log_every: u64,
    /// Where to train: `cpu`, `cuda` or `cuda:N` (a command-line `--device` wins).
    pub device: DeviceSpec,
    /// The model: a preset plus any [`ModelConfig`] overrides.
    pub model: ModelSpec,
    /// The data: corpus, tokenizer, splits, shards, row length, masking.
    pub data: DataSection,
    /// AdamW and the learning-rate schedule.
    pub optimiser: OptimiserSpec,
}

impl Default for RunSpec {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 32,
            grad_accum: 1,
            seed: 0,
            eval_every: 100,
            eval_batches: 20,
            checkpoint_every: 500,
            log_every: 10,
            device: DeviceSpec::Cpu,
            model: ModelSpec::default(),
            data: DataSection::default(),
            optimiser: OptimiserSpec::default(),
        }
    }
}

/// The model section: `preset = "deberta"` plus any [`ModelConfig`] key to override. Saved resolved, with
/// every key of the config written out.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The starting point.
    pub preset: Preset,
    /// The preset's config with the overrides merged in, validated.
    pub config: ModelConfig,
}

impl Default for ModelSpec {
    fn default() -> Self {
        Self {
            preset: Preset::Deberta,
            config: Preset::Deberta.config(),
        }
    }
}

impl Serialize for ModelSpec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            preset: Preset,
            #[serde(flatten)]
            config: &'a ModelConfig,
        }
        Flat {
            preset: self.preset,
            config: &self.config,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let preset = match table.remove("preset") {
            None => Preset::Deberta,
            Some(toml::Value::String(name)) => Preset::parse(&name).map_err(D::Error::custom)?,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`model.preset` must be a string such as \"deberta\", not {other}"
                )));
            }
        };
        let config = preset.config_with(&table).map_err(|e| {
            let key = if e.key == "model" {
                "model".to_string()
            } else {
                format!("model.{}", e.key)
            };
            D::Error::custom(format!("`{key}`: {}", e.message))
        })?;
        Ok(Self { preset, config })
    }
}

/// The data section: the data crate's [`DataSpec`] plus the row length, masking and read mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSection {
    /// Corpus file or folder; absent means the bundled Austen sample.
    pub corpus: Option<PathBuf>,
    /// An existing `tokenizer.json` to use instead of training one.
    pub tokenizer_file: Option<PathBuf>,
    /// Tokens per row, `[CLS]` and `[SEP]` included.
    pub max_len: usize,
    /// How shard files are read (`pread` or `mmap`).
    pub read_mode: ReadMode,
    /// Tokenizer training settings.
    pub tokenizer: TokenizerConfig,
    /// Train/valid/test split settings.
    pub split: SplitConfig,
    /// Shard settings.
    pub shards: ShardConfig,
    /// MLM masking settings.
    pub masking: MaskingConfig,
}

impl Default for DataSection {
    fn default() -> Self {
        Self {
            corpus: None,
            tokenizer_file: None,
            max_len: 128,
            read_mode: ReadMode::Pread,
            tokenizer: TokenizerConfig::default(),
            split: SplitConfig::default(),
            shards: ShardConfig::default(),
            masking: MaskingConfig::default(),
        }
    }
}

impl DataSection {
    /// The data crate's spec of this section.
    pub fn data_spec(&self) -> DataSpec {
        DataSpec {
            corpus: self.corpus.clone(),
            tokenizer_file: self.tokenizer_file.clone(),
            tokenizer: self.tokenizer.clone(),
            split: self.split.clone(),
            shards: self.shards.clone(),
        }
    }

    /// Batch settings for `batch_size` rows and `seed`.
    pub fn batch_config(&self, batch_size: usize, seed: u64) -> BatchConfig {
        BatchConfig {
            batch_size,
            max_len: self.max_len,
            seed,
            masking: self.masking.clone(),
            read_mode: self.read_mode,
        }
    }
}

impl RunSpec {
    /// Reads a spec file and validates it; relative corpus and tokenizer paths are taken from the file's
    /// folder.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).at(path)?;
        let (mut spec, vocab_given) =
            Self::parse(&text).map_err(|message| TrainError::SpecFile {
                path: path.to_path_buf(),
                message,
            })?;
        let base = path.parent().unwrap_or(Path::new(""));
        for p in [&mut spec.data.corpus, &mut spec.data.tokenizer_file]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        // Settings errors name the key; say which file holds it.
        let in_file = |e: TrainError| match e {
            TrainError::Io { .. } | TrainError::SpecFile { .. } => e,
            other => TrainError::SpecFile {
                path: path.to_path_buf(),
                message: other.to_string(),
            },
        };
        spec.fill_vocab(vocab_given).map_err(in_file)?;
        spec.validate().map_err(in_file)?;
        Ok(spec)
    }

    /// Parses spec text (rejecting unknown keys) and fills the model's `vocab_size` from the tokenizer when
    /// the text does not set it. Does not validate: see [`RunSpec::validate`].
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let (mut spec, vocab_given) =
            Self::parse(text).map_err(|message| TrainError::SpecFile {
                path: PathBuf::from("<spec>"),
                message,
            })?;
        spec.fill_vocab(vocab_given)?;
        Ok(spec)
    }

    fn parse(text: &str) -> std::result::Result<(Self, bool), String> {
        let spec: RunSpec = toml::from_str(text).map_err(|e| e.to_string())?;
        let raw: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let vocab_given = raw
            .get("model")
            .and_then(toml::Value::as_table)
            .is_some_and(|m| m.contains_key("vocab_size"));
        Ok((spec, vocab_given))
    }

    fn fill_vocab(&mut self, given: bool) -> Result<()> {
        if !given {
            self.model.config.vocab_size = match &self.data.tokenizer_file {
                None => self.data.tokenizer.vocab_size,
                Some(path) => ablate_data::TextTokenizer::load(path)?.vocab_size(),
            };
        }
        Ok(())
    }

    /// The resolved spec as TOML text.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| TrainError::spec("spec", e.to_string()))
    }

    /// Checks every value, naming the key and the allowed values on failure.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("steps", self.steps),
            ("batch_size", self.batch_size as u64),
            ("grad_accum", self.grad_accum as u64),
            ("log_every", self.log_every),
            ("data.max_len", self.data.max_len as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(TrainError::spec(key, "must be at least 1"));
            }
        }
        if self.data.max_len < 8 {
            return Err(TrainError::spec(
                "data.max_len",
                format!("{} is too short; use at least 8", self.data.max_len),
            ));
        }
        self.model.config.validate()?;
        let cfg = &self.model.config;
        if cfg.has_learned_positions() && self.data.max_len > cfg.max_position_embeddings {
            return Err(TrainError::spec(
                "data.max_len",
                format!(
                    "{} is longer than model.max_position_embeddings = {}, the size of this model's \
                     absolute position table; shorten data.max_len or enlarge the table",
                    self.data.max_len, cfg.max_position_embeddings
                ),
            ));
        }
        self.optimiser.validate("optimiser", self.steps)?;
        let data_key = |e: ablate_data::DataError| TrainError::spec("data", e.to_string());
        self.data.masking.validate().map_err(data_key)?;
        self.data.tokenizer.validate().map_err(data_key)?;
        self.data.split.validate().map_err(data_key)?;
        if self.data.tokenizer_file.is_none() && cfg.vocab_size != self.data.tokenizer.vocab_size {
            return Err(TrainError::spec(
                "model.vocab_size",
                format!(
                    "{} differs from data.tokenizer.vocab_size = {}; leave model.vocab_size out to use \
                     the tokenizer's",
                    cfg.vocab_size, self.data.tokenizer.vocab_size
                ),
            ));
        }
        Ok(())
    }

    /// Dotted keys whose values differ between `self` and `other`, ignoring `device` (a run may resume on
    /// another device).
    pub fn differing_keys(&self, other: &RunSpec) -> Vec<String> {
        differing_keys_but_device(self, other)
    }
}

/// Dotted keys at which the serialised `a` and `b` differ, leaving out their `device` key.
pub(crate) fn differing_keys_but_device<T: Serialize>(a: &T, b: &T) -> Vec<String> {
    let as_value = |s: &T| {
        let mut v = toml::Value::try_from(s).unwrap_or(toml::Value::Table(Default::default()));
        if let Some(t) = v.as_table_mut() {
            t.remove("device");
        }
        v
    };
    let mut keys = Vec::new();
    diff_values("", &as_value(a), &as_value(b), &mut keys);
    keys
}

/// Collects the dotted keys at which `a` and `b` differ.
fn diff_values(prefix: &str, a: &toml::Value, b: &toml::Value, out: &mut Vec<String>) {
    match (a, b) {
        (toml::Value::Table(x), toml::Value::Table(y)) => {
            let mut names: Vec<&String> = x.keys().chain(y.keys()).collect();
            names.sort();
            names.dedup();
            for name in names {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                match (x.get(name), y.get(name)) {
                    (Some(p), Some(q)) => diff_values(&key, p, q, out),
                    _ => out.push(key),
                }
            }
        }
        _ if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}
