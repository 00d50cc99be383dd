//! `summary.json`: where a run stands and what it reached. Written when a run starts, at every checkpoint,
//! and when it ends (completed or failed).

use serde::{Deserialize, Serialize};

use crate::mlm_eval::MlmScores;
use crate::unigram::UnigramReference;

/// Name of the summary file in a run folder.
pub const SUMMARY_FILE: &str = "summary.json";

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished (or killed).
    Running,
    /// All steps done.
    Completed,
    /// Stopped on a non-finite loss or gradient; see `failure`.
    Failed,
    /// Stopped on request after a number of steps, as a kill would (no summary is written for it).
    Halted,
}

/// Why and where a run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The step (1-based) that failed.
    pub step: u64,
    /// What happened.
    pub reason: String,
    /// Step of the last good checkpoint, kept in the run folder.
    pub last_checkpoint_step: Option<u64>,
    /// Whether running the same command again may succeed: an error outside the numbers (a full disk, a
    /// failed write) stops a run resumably; a non-finite loss or gradient does not (it would recur).
    #[serde(default)]
    pub resumable: bool,
}

/// MLM scores at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    /// Steps done.
    pub step: u64,
    /// The scores.
    #[serde(flatten)]
    pub scores: MlmScores,
}

/// `summary.json` of a pre-training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainSummary {
    /// Where the run stands.
    pub status: RunStatus,
    /// Set when `status` is `failed`.
    pub failure: Option<Failure>,
    /// The model preset.
    pub preset: String,
    /// Steps planned.
    pub steps: u64,
    /// Steps done.
    pub steps_done: u64,
    /// Trainable parameters.
    pub params: usize,
    /// Seconds of training over all invocations.
    pub wall_time_s: f64,
    /// Real (non-padding) tokens fed to the model.
    pub tokens_seen: u64,
    /// MLM loss of the last step.
    pub final_train_loss: Option<f64>,
    /// The last evaluation on the valid split.
    pub final_eval: Option<EvalPoint>,
    /// The evaluation with the lowest valid loss.
    pub best_eval: Option<EvalPoint>,
    /// What predicting every masked valid token from the training split's frequencies alone scores on
    /// the same masked tokens (absent in summaries written before it was recorded).
    #[serde(default)]
    pub unigram: Option<UnigramReference>,
}

/// Classification scores on one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Share of examples classified correctly.
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 scores.
    pub macro_f1: f64,
    /// Examples scored.
    pub examples: u64,
}

/// Valid and test scores at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassEvalPoint {
    /// Steps done.
    pub step: u64,
    /// Scores on the task's valid split.
    pub valid: ClassScores,
    /// Scores on the task's test split.
    pub test: ClassScores,
}

/// `summary.json` of a fine-tuning run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneSummary {
    /// Where the run stands.
    pub status: RunStatus,
    /// Set when `status` is `failed`.
    pub failure: Option<Failure>,
    /// The task.
    pub task: String,
    /// Label names by class index.
    pub labels: Vec<String>,
    /// The pre-training run fine-tuned.
    pub from: String,
    /// Whether SiFT was on.
    pub sift: bool,
    /// Steps planned.
    pub steps: u64,
    /// Steps done.
    pub steps_done: u64,
    /// Trainable parameters.
    pub params: usize,
    /// Seconds of training over all invocations.
    pub wall_time_s: f64,
    /// Share of the most frequent class in the test split (the accuracy of always guessing it).
    pub test_majority_share: f64,
    /// Classification loss of the last step.
    pub final_train_loss: Option<f64>,
    /// The last evaluation.
    pub final_eval: Option<ClassEvalPoint>,
    /// The evaluation with the best valid accuracy (its test scores are the ones to report).
    pub best_eval: Option<ClassEvalPoint>,
}
