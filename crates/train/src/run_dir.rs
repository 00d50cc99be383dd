//! The run folder: its file names, the data a spec trains on, and opening a finished pre-training run for
//! evaluation or fine-tuning.
//!
//! A pre-training run folder holds `spec.resolved.toml`, `tokenizer.json` (a copy of the one the shards were
//! built with), `metrics.csv`, `summary.json`, `checkpoint.json` and the current `ckpt-<step>/` folder.

use std::path::{Path, PathBuf};

use ablate_data::{ShardSet, TOKENIZER_FILE, TextTokenizer};
use ablate_model::MlmModel;
use burn::tensor::backend::Backend;

use crate::checkpoint;
use crate::error::{IoContext, Result, TrainError};
use crate::rng::init_module;
use crate::spec::RunSpec;
use crate::summary::{PretrainSummary, SUMMARY_FILE};

/// Name of the resolved spec in a run folder (and in each checkpoint).
pub const SPEC_FILE: &str = "spec.resolved.toml";

/// Prepares (or reuses from `cache_dir`) the tokenizer and shards of `spec` and checks that they fit the
/// model: same vocabulary size, same padding id.
pub fn prepare_data(spec: &RunSpec, cache_dir: &Path) -> Result<ShardSet> {
    let prepared = ablate_data::prepare(&spec.data.data_spec(), cache_dir)?;
    let shards = prepared.shards;
    let tok = shards.tokenizer();
    let cfg = &spec.model.config;
    if tok.vocab_size() != cfg.vocab_size {
        return Err(TrainError::spec(
            "model.vocab_size",
            format!(
                "{} but the tokenizer {} has {} ids; leave model.vocab_size out to use the tokenizer's",
                cfg.vocab_size,
                tok.path().display(),
                tok.vocab_size()
            ),
        ));
    }
    if tok.special().pad as usize != cfg.pad_token_id {
        return Err(TrainError::spec(
            "model.pad_token_id",
            format!(
                "{} but the tokenizer's [PAD] is {}",
                cfg.pad_token_id,
                tok.special().pad
            ),
        ));
    }
    Ok(shards)
}

/// A pre-training run folder opened for reading.
#[derive(Debug, Clone)]
pub struct PretrainedRun {
    /// The folder.
    pub dir: PathBuf,
    /// Its resolved spec.
    pub spec: RunSpec,
    /// Its current checkpoint folder.
    pub checkpoint: PathBuf,
    /// Steps done at that checkpoint.
    pub step: u64,
    /// Its summary, when it has one.
    pub summary: Option<PretrainSummary>,
    /// The shared lock held while the run is open: no trainer writes into it meanwhile.
    _reading: std::sync::Arc<crate::lock::RunLock>,
}

impl PretrainedRun {
    /// Opens `dir`, which must hold a resolved spec, a tokenizer and a checkpoint.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(TrainError::run_folder(
                dir,
                "no such folder; give the --out folder of an `ablate train` run",
            ));
        }
        let spec_path = dir.join(SPEC_FILE);
        if !spec_path.is_file() {
            return Err(TrainError::run_folder(
                dir,
                format!("no {SPEC_FILE}; this is not a pre-training run folder"),
            ));
        }
        let reading = crate::lock::lock_run_folder_shared(dir)?;
        let text = std::fs::read_to_string(&spec_path).at(&spec_path)?;
        let spec = RunSpec::from_toml_str(&text).map_err(|e| match e {
            TrainError::SpecFile { message, .. } => TrainError::SpecFile {
                path: spec_path.clone(),
                message,
            },
            other => other,
        })?;
        let Some((manifest, checkpoint)) = checkpoint::latest(dir)? else {
            return Err(TrainError::run_folder(
                dir,
                "no checkpoint yet; let the run reach its first checkpoint (or its end)",
            ));
        };
        if !dir.join(TOKENIZER_FILE).is_file() {
            return Err(TrainError::run_folder(dir, format!("no {TOKENIZER_FILE}")));
        }
        let summary_path = dir.join(SUMMARY_FILE);
        let summary = if summary_path.is_file() {
            Some(crate::fsutil::read_json(&summary_path)?)
        } else {
            None
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            spec,
            checkpoint,
            step: manifest.step,
            summary,
            _reading: std::sync::Arc::new(reading),
        })
    }

    /// The tokenizer the run was trained with.
    pub fn tokenizer(&self) -> Result<TextTokenizer> {
        Ok(TextTokenizer::load(self.dir.join(TOKENIZER_FILE))?)
    }

    /// The MLM model with the checkpoint's weights. (The throw-away initialisation draws from the backend
    /// RNG under the lock of [`init_module`], so it cannot disturb a run training in the same process.)
    pub fn load_mlm<B: Backend>(&self, device: &B::Device) -> Result<MlmModel<B>> {
        let model = init_module(device, 0, || MlmModel::new(&self.spec.model.config, device))?;
        checkpoint::load_model(model, &self.checkpoint, device)
    }
}
