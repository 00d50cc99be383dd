//! The fine-tuning spec: which pre-trained run, which task, the optimiser, epochs, batch, seed, cadences
//! and SiFT. Saved resolved as `finetune.resolved.toml` in the fine-tuning folder and in its checkpoints;
//! a fine-tuning run only resumes under an identical spec.

use std::path::PathBuf;

use ablate_data::tasks::TaskKind;
use serde::{Deserialize, Serialize};

use crate::device::DeviceSpec;
use crate::error::{Result, TrainError};
use crate::optimiser::OptimiserSpec;
use crate::sift::SiftSpec;

/// Name of the resolved fine-tuning spec in a fine-tuning folder.
pub const FINETUNE_SPEC_FILE: &str = "finetune.resolved.toml";

/// A classification task of the data crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FinetuneTask {
    /// Bigram shift: were two adjacent words swapped?
    #[default]
    Bshift,
    /// Are two sentences in their original order?
    SentOrder,
    /// Is the marked word a noun or a verb here?
    WnPosContext,
}

impl FinetuneTask {
    /// The task's name (also its folder in a task set).
    pub fn name(self) -> &'static str {
        match self {
            Self::Bshift => "bshift",
            Self::SentOrder => "sent_order",
            Self::WnPosContext => "wn_pos_context",
        }
    }

    /// The data crate's kind.
    pub fn kind(self) -> TaskKind {
        match self {
            Self::Bshift => TaskKind::Bshift,
            Self::SentOrder => TaskKind::SentOrder,
            Self::WnPosContext => TaskKind::WnPosContext,
        }
    }
}

impl std::str::FromStr for FinetuneTask {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bshift" => Ok(Self::Bshift),
            "sent_order" => Ok(Self::SentOrder),
            "wn_pos_context" => Ok(Self::WnPosContext),
            _ => Err(TrainError::spec(
                "task",
                format!("`{s}` is not a task; use bshift, sent_order or wn_pos_context"),
            )),
        }
    }
}

/// A fine-tuning run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneSpec {
    /// The pre-training run folder whose encoder is fine-tuned.
    pub from: PathBuf,
    /// The task.
    pub task: FinetuneTask,
    /// Folder of built task sets (as written by `ablate data tasks`); absent: built on demand in the cache.
    pub tasks_dir: Option<PathBuf>,
    /// Passes over the training examples.
    pub epochs: u64,
    /// Examples per step.
    pub batch_size: usize,
    /// Tokens per example, `[CLS]` and `[SEP]` included (longer examples are truncated).
    pub max_len: usize,
    /// Use at most this many training examples (0: all).
    pub max_train_examples: usize,
    /// Seed of the head's initialisation, the example order and the dropout.
    pub seed: u64,
    /// Evaluate on valid and test every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Write a checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Write a metrics row every this many steps.
    pub log_every: u64,
    /// Where to train: `cpu`, `cuda` or `cuda:N`.
    pub device: DeviceSpec,
    /// AdamW and the schedule (`warmup_steps` counts fine-tuning steps).
    pub optimiser: OptimiserSpec,
    /// Scale-invariant fine-tuning.
    pub sift: SiftSpec,
}

impl Default for FinetuneSpec {
    fn default() -> Self {
        Self {
            from: PathBuf::new(),
            task: FinetuneTask::Bshift,
            tasks_dir: None,
            epochs: 3,
            batch_size: 32,
            max_len: 128,
            max_train_examples: 0,
            seed: 0,
            eval_every: 0,
            checkpoint_every: 0,
            log_every: 10,
            device: DeviceSpec::Cpu,
            optimiser: OptimiserSpec {
                lr: 1e-4,
                warmup_steps: 0,
                ..OptimiserSpec::default()
            },
            sift: SiftSpec::default(),
        }
    }
}

impl FinetuneSpec {
    /// Parses spec text, rejecting unknown keys (not validated: see [`FinetuneSpec::validate`]).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| TrainError::SpecFile {
            path: PathBuf::from("<finetune spec>"),
            message: e.to_string(),
        })
    }

    /// The resolved spec as TOML text.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| TrainError::spec("finetune spec", e.to_string()))
    }

    /// Checks every value that does not depend on the task's size, naming the key on failure.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("epochs", self.epochs),
            ("batch_size", self.batch_size as u64),
            ("log_every", self.log_every),
        ] {
            if v == 0 {
                return Err(TrainError::spec(key, "must be at least 1"));
            }
        }
        if self.max_len < 8 {
            return Err(TrainError::spec(
                "max_len",
                format!("{} is too short; use at least 8", self.max_len),
            ));
        }
        self.optimiser.validate("optimiser", u64::MAX)?;
        self.sift.validate()
    }

    /// Dotted keys whose values differ between `self` and `other`, ignoring `device`.
    pub fn differing_keys(&self, other: &FinetuneSpec) -> Vec<String> {
        crate::spec::differing_keys_but_device(self, other)
    }
}
