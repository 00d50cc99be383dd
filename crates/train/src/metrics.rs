//! `metrics.csv`: one row per logged step and one per evaluation, appended and flushed as the run goes.
//! Pre-training and fine-tuning have their own row types; empty cells mean "not measured in this row".

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result, TrainError};
use crate::tensorboard::{EventFile, row_scalars};

/// Name of the metrics file in a run folder.
pub const METRICS_FILE: &str = "metrics.csv";

/// What a row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// A training step.
    Train,
    /// An evaluation.
    Eval,
}

/// A row of a pre-training run's `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainRow {
    /// `train` or `eval`.
    pub kind: RowKind,
    /// Optimiser steps done.
    pub step: u64,
    /// Learning rate of this step.
    pub lr: Option<f64>,
    /// MLM loss of this step (nats per masked token).
    pub loss: Option<f64>,
    /// Global gradient norm before clipping.
    pub grad_norm: Option<f64>,
    /// Tokens per second since the previous train row.
    pub tokens_per_s: Option<f64>,
    /// Seconds of training so far (over all invocations of the run).
    pub elapsed_s: f64,
    /// Valid-split MLM loss.
    pub eval_loss: Option<f64>,
    /// Valid-split accuracy at the masked positions.
    pub eval_accuracy: Option<f64>,
    /// exp(eval_loss).
    pub eval_ppl: Option<f64>,
}

/// A row of a fine-tuning run's `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneRow {
    /// `train` or `eval`.
    pub kind: RowKind,
    /// Optimiser steps done.
    pub step: u64,
    /// Learning rate of this step.
    pub lr: Option<f64>,
    /// Classification loss of this step.
    pub loss: Option<f64>,
    /// SiFT's symmetric-KL term of this step (before its weight lambda).
    pub sift_loss: Option<f64>,
    /// Global gradient norm before clipping.
    pub grad_norm: Option<f64>,
    /// Tokens per second since the previous train row.
    pub tokens_per_s: Option<f64>,
    /// Seconds of training so far (over all invocations of the run).
    pub elapsed_s: f64,
    /// Accuracy on the task's valid split.
    pub valid_accuracy: Option<f64>,
    /// Macro-F1 on the task's valid split.
    pub valid_f1: Option<f64>,
    /// Accuracy on the task's test split.
    pub test_accuracy: Option<f64>,
    /// Macro-F1 on the task's test split.
    pub test_f1: Option<f64>,
}

/// An open metrics file, and this process's TensorBoard event file beside it ([`crate::tensorboard`]).
pub struct MetricsFile {
    path: PathBuf,
    writer: csv::Writer<File>,
    events: Option<EventFile>,
}

impl MetricsFile {
    /// Opens `path` for appending (creating it); a header is written before the first row of an empty file.
    pub fn open(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .at(path)?;
        let empty = file.metadata().at(path)?.len() == 0;
        let writer = csv::WriterBuilder::new()
            .has_headers(empty)
            .from_writer(file);
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            events: None,
        })
    }

    /// Opens `path` as [`Self::open`] does, and starts a TensorBoard event file in its folder that gets every
    /// row as scalars; `resumed_at` is the step of the checkpoint a resumed run starts from.
    pub fn open_with_events(path: &Path, resumed_at: Option<u64>) -> Result<Self> {
        let mut file = Self::open(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        file.events = Some(EventFile::create(dir, resumed_at).at(dir)?);
        Ok(file)
    }

    /// Appends `row` and flushes it to the file.
    pub fn append<R: Serialize>(&mut self, row: &R) -> Result<()> {
        let err = |e: csv::Error| TrainError::input(self.path.display().to_string(), e.to_string());
        self.writer.serialize(row).map_err(err)?;
        self.writer.flush().at(&self.path)?;
        if let Some(events) = &mut self.events {
            let value = serde_json::to_value(row).unwrap_or_default();
            let scalars = row_scalars(&value);
            let step = value.get("step").and_then(|s| s.as_u64()).unwrap_or(0);
            let path = events.path().to_path_buf();
            events.scalars(step, &scalars).at(&path)?;
        }
        Ok(())
    }
}

/// Reads every row of a metrics file.
pub fn read_rows<R: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<R>> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| TrainError::input(path.display().to_string(), e.to_string()))?;
    reader
        .deserialize()
        .collect::<std::result::Result<Vec<R>, _>>()
        .map_err(|e| TrainError::input(path.display().to_string(), e.to_string()))
}
