//! The bookkeeping of a training loop, shared by pre-training and fine-tuning, so that each loop is the
//! step itself: resume from the run folder's checkpoint or start fresh, a train row in `metrics.csv` when
//! logging is due, an evaluation and its row when evaluation is due, `summary.json` and a checkpoint when a
//! checkpoint is due, the failure on a non-finite loss or gradient, the test-only halt after some steps of
//! an invocation, and the completed summary at the end.
//!
//! What differs between the two loops (their state, rows, summary and evaluation) is the [`LoopState`]
//! trait, implemented by [`crate::PretrainState`] and [`crate::FinetuneState`].

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::Optimizer;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::checkpoint::{self, Extras};
use crate::error::Result;
use crate::fsutil::{write_atomic, write_json};
use crate::metrics::{METRICS_FILE, MetricsFile};
use crate::pretrain::TrainOptions;
use crate::progress::Progress;
use crate::resume::Start;
use crate::rng::exclusive;
use crate::schedule::due;
use crate::summary::{Failure, RunStatus, SUMMARY_FILE};

/// What one optimiser step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Learning rate of the step.
    pub lr: f64,
    /// Training loss of the step.
    pub loss: f64,
    /// SiFT's adversarial term of the step (fine-tuning with SiFT only).
    pub sift_loss: Option<f64>,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Real (non-padding) tokens the step fed to the model.
    pub tokens: u64,
}

impl StepStats {
    /// The first non-finite value of the step, by name, in the order loss, SiFT loss, gradient norm.
    fn non_finite(&self) -> Option<(&'static str, f64)> {
        [
            ("training loss", self.loss),
            ("SiFT loss", self.sift_loss.unwrap_or(0.0)),
            ("gradient norm", self.grad_norm),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
    }
}

/// The loop state a checkpoint holds, and how a loop's rows, summary and evaluations are made from it.
pub trait LoopState: Serialize + DeserializeOwned {
    /// An evaluation with its step.
    type Eval: Clone;
    /// The run's `summary.json`.
    type Summary: Serialize + Clone;
    /// A row of the run's `metrics.csv`.
    type Row: Serialize;
    /// Whether a failed step still gets its train row (pre-training writes one; fine-tuning does not).
    const ROW_FOR_FAILED_STEP: bool;

    /// Optimiser steps done.
    fn step(&self) -> u64;
    /// Seconds of training over all invocations.
    fn elapsed_s(&self) -> f64;
    /// Counts a finished step: one more step, its loss and tokens, the training time so far.
    fn count_step(&mut self, stats: &StepStats, elapsed_s: f64);
    /// Keeps `eval` as the last evaluation and, when it is the best so far, as the best.
    fn keep_eval(&mut self, eval: Self::Eval);
    /// Copies where the run stands (steps, time, losses, evaluations) into `summary`.
    fn fill_summary(&self, summary: &mut Self::Summary);
    /// The status and failure fields of `summary`.
    fn status_of(summary: &mut Self::Summary) -> (&mut RunStatus, &mut Option<Failure>);
    /// The train row of `step`; `tokens_per_s` is absent in the row of a failed step.
    fn train_row(
        step: u64,
        stats: &StepStats,
        tokens_per_s: Option<f64>,
        elapsed_s: f64,
    ) -> Self::Row;
    /// The row of an evaluation.
    fn eval_row(eval: &Self::Eval, elapsed_s: f64) -> Self::Row;
    /// One line on an evaluation, for the progress display.
    fn eval_note(eval: &Self::Eval) -> String;
}

/// Where a run is written and how often it logs, evaluates and checkpoints.
#[derive(Debug, Clone)]
pub struct TrackerSetup<'a> {
    /// The run folder.
    pub run_dir: &'a Path,
    /// File name and text of the resolved spec, saved in every checkpoint.
    pub spec: (&'static str, &'a str),
    /// Steps of the whole run.
    pub steps: u64,
    /// A train row every this many steps (and at the last).
    pub log_every: u64,
    /// An evaluation every this many steps (and at the last).
    pub eval_every: u64,
    /// A checkpoint every this many steps (and at the last).
    pub checkpoint_every: u64,
    /// Label of the progress display.
    pub label: &'static str,
    /// Progress mode and the test-only halt.
    pub opts: &'a TrainOptions,
}

/// The bookkeeping of one invocation of a training loop; see the module documentation.
pub struct RunTracker<'a, S: LoopState> {
    setup: TrackerSetup<'a>,
    state: S,
    summary: S::Summary,
    metrics: MetricsFile,
    progress: Progress,
    started: Instant,
    elapsed_before: f64,
    window_tokens: u64,
    window_start: Instant,
    steps_here: u64,
    /// Set once the run has ended on purpose (completed, failed on a non-finite value, halted): a tracker
    /// dropped without it ended on an error (or a panic), and marks the run failed ([`Drop`]).
    ended: bool,
}

impl<'a, S: LoopState> RunTracker<'a, S> {
    /// Resumes from the checkpoint `start` names (model, optimiser, loop state and the metrics rows as of
    /// it) or starts with `fresh` and an empty `metrics.csv`; then writes `summary` (status `running`, filled
    /// from the state). Returns the tracker with the model and optimiser to train.
    pub fn resume_or_start<B, M, O>(
        setup: TrackerSetup<'a>,
        start: &Start,
        fresh: S,
        mut summary: S::Summary,
        (model, optim): (M, O),
        device: &B::Device,
    ) -> Result<(Self, M, O)>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: Optimizer<M, B>,
    {
        let run_dir = setup.run_dir;
        let metrics_path = run_dir.join(METRICS_FILE);
        let (model, optim, state) = match start {
            Start::Resume { dir, step } => {
                let _gate = exclusive();
                let model = checkpoint::load_model(model, dir, device)?;
                let optim = checkpoint::load_optimizer(optim, dir, device)?;
                let state: S = checkpoint::load_state(dir)?;
                checkpoint::restore_metrics(run_dir, dir)?;
                tracing::info!("resuming {} from step {step}", run_dir.display());
                (model, optim, state)
            }
            _ => {
                write_atomic(&metrics_path, b"")?;
                (model, optim, fresh)
            }
        };
        let resumed_at = matches!(start, Start::Resume { .. }).then(|| state.step());
        let metrics = MetricsFile::open_with_events(&metrics_path, resumed_at)?;
        *S::status_of(&mut summary).0 = RunStatus::Running;
        state.fill_summary(&mut summary);
        write_json(&run_dir.join(SUMMARY_FILE), &summary)?;
        let progress = Progress::new(setup.label, setup.steps, state.step(), setup.opts.progress);
        let tracker = Self {
            elapsed_before: state.elapsed_s(),
            setup,
            state,
            summary,
            metrics,
            progress,
            started: Instant::now(),
            window_tokens: 0,
            window_start: Instant::now(),
            steps_here: 0,
            ended: false,
        };
        Ok((tracker, model, optim))
    }

    /// The loop state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The loop state, for what the loop itself keeps in it (the data cursor of pre-training).
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }

    /// The 0-based index of the next step, or `None` when the run has taken all its steps.
    pub fn next_step(&self) -> Option<u64> {
        let step = self.state.step();
        (step < self.setup.steps).then_some(step)
    }

    /// Ends the run as failed when a value of `stats` is not finite: the failed step's train row (where the
    /// loop writes one), status `failed` with the step and the reason in `summary.json`, the last good
    /// checkpoint kept. Returns that summary; `None` when every value is finite.
    pub fn fail_if_non_finite(&mut self, stats: &StepStats) -> Result<Option<S::Summary>> {
        let Some((what, value)) = stats.non_finite() else {
            return Ok(None);
        };
        let step = self.state.step() + 1;
        if S::ROW_FOR_FAILED_STEP {
            let row = S::train_row(step, stats, None, self.state.elapsed_s());
            self.metrics.append(&row)?;
        }
        let last_checkpoint_step =
            checkpoint::latest_good(self.setup.run_dir)?.map(|(m, _)| m.step);
        let reason = format!("the {what} is {value} at step {step}");
        tracing::error!("run failed: {reason}");
        let (status, failure) = S::status_of(&mut self.summary);
        *status = RunStatus::Failed;
        *failure = Some(Failure {
            step,
            reason,
            last_checkpoint_step,
            resumable: false,
        });
        self.ended = true;
        write_json(&self.setup.run_dir.join(SUMMARY_FILE), &self.summary)?;
        self.progress.finish();
        Ok(Some(self.summary.clone()))
    }

    /// Counts the step just taken and does what is due after it: the train row, the evaluation (`evaluate`
    /// scores the model at the given step count) and its row, the checkpoint with the summary. Breaks with
    /// the summary (status `halted`) when the test-only halt is reached.
    pub fn after_step<B, M, O>(
        &mut self,
        model: &M,
        optim: &O,
        stats: &StepStats,
        evaluate: impl FnOnce(&M, u64) -> Result<S::Eval>,
    ) -> Result<ControlFlow<S::Summary>>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: Optimizer<M, B>,
    {
        let elapsed = self.elapsed_before + self.started.elapsed().as_secs_f64();
        self.state.count_step(stats, elapsed);
        self.window_tokens += stats.tokens;
        let (step, setup) = (self.state.step(), &self.setup);
        let last = step == setup.steps;

        if due(step, setup.log_every) || last {
            let secs = self.window_start.elapsed().as_secs_f64().max(1e-9);
            let rate = self.window_tokens as f64 / secs;
            self.metrics
                .append(&S::train_row(step, stats, Some(rate), elapsed))?;
            let (loss, lr, norm) = (stats.loss, stats.lr, stats.grad_norm);
            self.progress.update(
                step,
                &format!("loss {loss:.4} lr {lr:.2e} |g| {norm:.3} {rate:.0} tok/s"),
            );
            (self.window_tokens, self.window_start) = (0, Instant::now());
        }
        if due(step, setup.eval_every) || last {
            let eval = evaluate(model, step)?;
            self.metrics.append(&S::eval_row(&eval, elapsed))?;
            self.progress
                .note(&format!("eval step {step}: {}", S::eval_note(&eval)));
            self.state.keep_eval(eval);
        }
        self.state.fill_summary(&mut self.summary);
        if due(step, setup.checkpoint_every) || last {
            let extras = Extras {
                state: &self.state,
                spec: setup.spec,
            };
            checkpoint::save(setup.run_dir, step, model, optim, extras)?;
            if !last {
                write_json(&setup.run_dir.join(SUMMARY_FILE), &self.summary)?;
            }
        }
        self.steps_here += 1;
        if !last && setup.opts.halt_after_steps == Some(self.steps_here) {
            self.progress.finish();
            *S::status_of(&mut self.summary).0 = RunStatus::Halted;
            self.ended = true;
            return Ok(ControlFlow::Break(self.summary.clone()));
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Ends the run as completed: status `completed` in `summary.json`. Returns the summary.
    pub fn finish(mut self) -> Result<S::Summary> {
        self.ended = true;
        self.progress.finish();
        *S::status_of(&mut self.summary).0 = RunStatus::Completed;
        write_json(&self.setup.run_dir.join(SUMMARY_FILE), &self.summary)?;
        Ok(self.summary.clone())
    }
}

impl<S: LoopState> Drop for RunTracker<'_, S> {
    /// A run that stops on an error (a failed write, a full disk, a bad batch) or a panic is marked failed in
    /// `summary.json`, with the step it was at and its last good checkpoint, instead of staying `running`.
    /// Best effort: if even that write fails, the summary stays as it was (and a sweep records the failure in
    /// its own run record). A killed process runs no destructor and stays `running`, i.e. resumable.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        self.progress.finish();
        let step = self.state.step() + 1;
        let last_checkpoint_step = checkpoint::latest_good(self.setup.run_dir)
            .ok()
            .flatten()
            .map(|(m, _)| m.step);
        let why = if std::thread::panicking() {
            "a panic"
        } else {
            "an error"
        };
        let (status, failure) = S::status_of(&mut self.summary);
        *status = RunStatus::Failed;
        *failure = Some(Failure {
            step,
            reason: format!(
                "stopped by {why} after {} steps (the command's error message says which); the same \
                 command resumes from the last good checkpoint",
                step - 1
            ),
            last_checkpoint_step,
            resumable: true,
        });
        let _ = write_json(&self.setup.run_dir.join(SUMMARY_FILE), &self.summary);
    }
}
