//! What an experiment folder holds, as files: the contract between `ablate run` (which writes them),
//! `ablate status` and `ablate report` (which read them). A report is rebuilt from these files alone.
//!
//! ```text
//! results/NAME/
//!   experiment.toml        the experiment file as given
//!   experiment.json        [`ExperimentInfo`]: names, baseline, evaluations
//!   commands.log           every `ablate run` command line that worked on this folder, with its date
//!   .lock                  held by the `ablate run` working here
//!   runs/<run id>/         one folder per (variant, grid point, seed); the id is `variant[~point]/seed-N`
//!     run.json             [`RunRecord`]: identity and state
//!     spec.toml            the resolved pre-training spec
//!     pretrain/            `ablate train` run folder: metrics.csv, summary.json, checkpoints
//!     finetune/<task>/     `ablate finetune` folders: metrics.csv, summary.json
//!     length.json          `ablate eval --lengths` report (length extrapolation)
//!     attention.json       [`AttentionMap`] of the experiment's sentence
//!   summary.csv, summary.parquet, report.md, charts/*.png|svg   written by `ablate report`
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// File names inside an experiment folder and its run folders.
pub mod files {
    /// The experiment file as given.
    pub const EXPERIMENT_TOML: &str = "experiment.toml";
    /// [`super::ExperimentInfo`].
    pub const EXPERIMENT_JSON: &str = "experiment.json";
    /// Command lines of `ablate run` on the folder.
    pub const COMMANDS_LOG: &str = "commands.log";
    /// The lock of the `ablate run` working on the folder.
    pub const LOCK: &str = ".lock";
    /// Folder of the run folders.
    pub const RUNS: &str = "runs";
    /// [`super::RunRecord`] in a run folder.
    pub const RUN_JSON: &str = "run.json";
    /// The resolved pre-training spec in a run folder.
    pub const SPEC_TOML: &str = "spec.toml";
    /// The pre-training run folder inside a run folder.
    pub const PRETRAIN: &str = "pretrain";
    /// Folder of the fine-tuning folders (one per task) inside a run folder.
    pub const FINETUNE: &str = "finetune";
    /// The length-extrapolation report (`ablate eval` JSON) in a run folder.
    pub const LENGTH_JSON: &str = "length.json";
    /// [`super::AttentionMap`] in a run folder.
    pub const ATTENTION_JSON: &str = "attention.json";
}

/// What the report needs to know about the experiment, written by `ablate run` before any run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentInfo {
    /// The experiment's name (its file stem unless the file sets `name`).
    pub name: String,
    /// One line saying what the experiment compares.
    pub description: String,
    /// Variant names in the order of the file.
    pub variants: Vec<String>,
    /// The preset of each variant, in the same order.
    pub presets: Vec<String>,
    /// The variant every delta and significance test is taken against.
    pub baseline: String,
    /// Seeds of every (variant, grid point).
    pub seeds: Vec<u64>,
    /// Grid axes: dotted run-spec key and its values as text, in file order.
    pub grid: Vec<GridAxis>,
    /// Fine-tuning tasks run after pre-training (names such as `bshift`).
    pub finetune_tasks: Vec<String>,
    /// Row lengths of the length-extrapolation evaluation (empty: none).
    pub lengths: Vec<usize>,
    /// The row length of pre-training (`data.max_len` of the base spec).
    pub train_max_len: usize,
    /// Whether attention maps are drawn.
    pub attention: bool,
}

/// One grid axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridAxis {
    /// Dotted key of the run spec, such as `optimiser.lr`.
    pub key: String,
    /// The values, as TOML text.
    pub values: Vec<String>,
}

/// State of one run of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Not started yet.
    Pending,
    /// Started and not finished (running now, or interrupted: the next `ablate run` resumes it).
    Running,
    /// Every stage finished.
    Completed,
    /// A stage failed; `failure` says which and why.
    Failed,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageFailure {
    /// The stage: `pretrain`, `finetune:<task>`, `length` or `attention`.
    pub stage: String,
    /// The reason (the command's error message).
    pub reason: String,
}

/// Identity and state of one run, in `runs/<id>/run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `variant[~point]/seed-N`, also the run folder's path under `runs/`.
    pub id: String,
    /// The variant's name.
    pub variant: String,
    /// The seed.
    pub seed: u64,
    /// The grid point: axis key to value (as TOML text); empty without grid axes.
    pub grid: BTreeMap<String, String>,
    /// The state.
    pub status: RunState,
    /// Set when `status` is `failed`.
    pub failure: Option<StageFailure>,
    /// Seconds spent per finished stage, by stage name.
    pub stage_seconds: BTreeMap<String, f64>,
}

/// Attention probabilities of one sentence under one run's pre-trained model, in `attention.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionMap {
    /// The sentence.
    pub text: String,
    /// Its tokens, `[CLS]` and `[SEP]` included (the rows and columns of every matrix).
    pub tokens: Vec<String>,
    /// Probabilities indexed `[layer][head][query][key]`; rows sum to 1. With EMD, only the encoder's layers.
    pub layers: Vec<Vec<Vec<Vec<f32>>>>,
}
