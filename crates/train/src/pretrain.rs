//! The pre-training loop, written out top to bottom: AdamW, linear warm-up and decay, global-norm
//! clipping, gradient accumulation, dropout, MLM loss on the masked positions only. The bookkeeping around
//! the step (periodic evaluation, metrics, checkpoints, exact resume, failure on a non-finite loss) is the
//! [`RunTracker`]'s.
//!
//! Exactness: the data stream depends only on (seed, data cursor); every forward pass re-seeds the backend
//! RNG from (seed, step, micro-step) so dropout does not depend on what ran before; the schedule is a
//! function of the step. A checkpoint therefore holds all the state there is, and a run resumed from it
//! repeats on CPU, bit for bit, what the uninterrupted run computes.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ablate_data::{DataCursor, EvalBatches, MlmBatch, MlmBatcher, ShardSet, Split};
use ablate_model::MlmModel;
use burn::module::{AutodiffModule, Module};
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::batch::mlm_tensors;
use crate::clip::clip_global_norm;
use crate::decay;
use crate::error::{IoContext, Result};
use crate::fsutil::{copy_atomic, read_json, write_atomic};
use crate::lock::lock_run_folder;
use crate::loss::{masked_nll_sum, scalar};
use crate::metrics::{PretrainRow, RowKind};
use crate::mlm_eval::{EVAL_SEED, MlmScores, evaluate_mlm};
use crate::progress::ProgressMode;
use crate::resume::{self, Start};
use crate::rng::{Purpose, derive, exclusive, init_module};
use crate::run_dir::{SPEC_FILE, prepare_data};
use crate::schedule::LrSchedule;
use crate::spec::RunSpec;
use crate::summary::{EvalPoint, Failure, PretrainSummary, RunStatus, SUMMARY_FILE};
use crate::tracker::{LoopState, RunTracker, StepStats, TrackerSetup};
use crate::unigram::{UnigramCounts, UnigramReference};

/// How a training command runs (nothing here changes its results).
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Where tokenizers, shards and task sets are cached between runs.
    pub cache_dir: PathBuf,
    /// Progress bar, log lines or nothing.
    pub progress: ProgressMode,
    /// Stop abruptly, as a kill would, after this many steps of this invocation: no checkpoint and no
    /// summary are written for the stop (for tests of resuming and for time-sliced schedulers).
    pub halt_after_steps: Option<u64>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            cache_dir: PathBuf::from("data/cache"),
            progress: ProgressMode::Auto,
            halt_after_steps: None,
        }
    }
}

/// The loop state saved in every checkpoint (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainState {
    /// Optimiser steps done.
    pub step: u64,
    /// Where the training batch stream stands.
    pub cursor: DataCursor,
    /// The run seed; the RNG of each forward pass is re-seeded from (seed, step, micro-step).
    pub seed: u64,
    /// The learning-rate schedule (a function of `step`).
    pub schedule: LrSchedule,
    /// Real tokens fed to the model.
    pub tokens_seen: u64,
    /// Seconds of training over all invocations.
    pub elapsed_s: f64,
    /// Loss of the last step.
    pub last_loss: Option<f64>,
    /// The last evaluation.
    pub last_eval: Option<EvalPoint>,
    /// The evaluation with the lowest loss.
    pub best_eval: Option<EvalPoint>,
}

/// Pre-trains the model of `spec` into `run_dir`, resuming from its checkpoint if it has one. Returns the
/// summary; a run that met a non-finite loss returns with status `failed` (its last good checkpoint kept).
pub fn pretrain<B: AutodiffBackend>(
    spec: &RunSpec,
    run_dir: &Path,
    device: &B::Device,
    opts: &TrainOptions,
) -> Result<PretrainSummary> {
    // ---- inputs, run folder, data -------------------------------------------------------------------
    spec.validate()?;
    let spec_text = spec.to_toml_string()?;
    std::fs::create_dir_all(run_dir).at(run_dir)?;
    let _lock = lock_run_folder(run_dir)?;
    let start = resume::decide(run_dir, SPEC_FILE, |saved| {
        Ok(RunSpec::from_toml_str(saved)?.differing_keys(spec))
    })?;
    if start == Start::Done {
        let summary: PretrainSummary = read_json(&run_dir.join(SUMMARY_FILE))?;
        tracing::info!(
            "{} already completed {} steps",
            run_dir.display(),
            summary.steps_done
        );
        return Ok(summary);
    }
    let shards = prepare_data(spec, &opts.cache_dir)?;
    copy_atomic(
        shards.tokenizer().path(),
        &run_dir.join(ablate_data::TOKENIZER_FILE),
    )?;
    write_atomic(&run_dir.join(SPEC_FILE), spec_text.as_bytes())?;

    // ---- model, optimiser, batches, schedule (fresh or from the checkpoint) -------------------------
    let cfg = &spec.model.config;
    let init_seed = derive(spec.seed, Purpose::Init, 0, 0);
    let model: MlmModel<B> = init_module(device, init_seed, || MlmModel::new(cfg, device))?;
    let o = &spec.optimiser;
    let optim = o.adamw::<B, MlmModel<B>>();
    let mut batcher = MlmBatcher::new(
        &shards,
        Split::Train,
        spec.data.batch_config(spec.batch_size, spec.seed),
    )?;
    let schedule = LrSchedule {
        peak: o.lr,
        warmup: o.warmup_steps,
        total: spec.steps,
        decay: o.decay,
    };
    let fresh = PretrainState::fresh(spec.seed, schedule, batcher.cursor());
    let mut summary =
        PretrainSummary::new(spec.model.preset.name(), spec.steps, model.num_params());
    summary.unigram = Some(unigram_valid(&shards, spec)?);
    let setup = TrackerSetup {
        run_dir,
        spec: (SPEC_FILE, &spec_text),
        steps: spec.steps,
        log_every: spec.log_every,
        eval_every: spec.eval_every,
        checkpoint_every: spec.checkpoint_every,
        label: "train",
        opts,
    };
    let (mut tracker, mut model, mut optim) =
        RunTracker::resume_or_start(setup, &start, fresh, summary, (model, optim), device)?;
    if let Start::Resume { .. } = start {
        batcher.restore(&tracker.state().cursor)?;
    }
    tracing::info!(
        "pre-training {} ({} parameters) for {} steps of {} x {} rows of {} tokens",
        spec.model.preset.name(),
        model.num_params(),
        spec.steps,
        spec.grad_accum,
        spec.batch_size,
        spec.data.max_len
    );

    // ---- the loop -------------------------------------------------------------------------------------
    while let Some(step) = tracker.next_step() {
        let gate = exclusive(); // the whole step holds the process-wide training guard (see `rng`)
        let lr = schedule.lr(step);

        // 1. the step's micro-batches; the loss is the mean over all their masked tokens
        let micro: Vec<MlmBatch> = (0..spec.grad_accum)
            .map(|_| batcher.next_batch())
            .collect::<std::result::Result<_, _>>()?;
        let total_masked: usize = micro.iter().map(MlmBatch::num_masked).sum::<usize>().max(1);

        // 2. forward (dropout on, seeded per micro-step) and backward; gradients summed over micro-batches
        let mut accumulator = GradientsAccumulator::<MlmModel<B>>::new();
        let (mut nll_sum, mut tokens) = (0.0, 0u64);
        for (i, batch) in micro.iter().enumerate() {
            let Some(t) = mlm_tensors::<B>(batch, device) else {
                continue;
            };
            tokens += t.num_tokens as u64;
            let dropout_seed = derive(spec.seed, Purpose::Dropout, step, i as u64);
            gate.seed::<B>(device, dropout_seed);
            let logits = model.forward(&t.input, &t.masked, false).logits;
            let nll = masked_nll_sum(logits, t.targets.clone(), t.weights.clone());
            nll_sum += scalar(nll.clone());
            let grads = nll.div_scalar(total_masked as f64).backward();
            accumulator.accumulate(&model, GradientsParams::from_grads(grads, &model));
        }
        let loss = nll_sum / total_masked as f64;

        // 3. global-norm clipping and the AdamW update; a non-finite loss or gradient ends the run
        let (grads, grad_norm) = clip_global_norm(&model, accumulator.grads(), o.clip);
        let stats = StepStats {
            lr,
            loss,
            sift_loss: None,
            grad_norm,
            tokens,
        };
        if let Some(failed) = tracker.fail_if_non_finite(&stats)? {
            return Ok(failed);
        }
        model = decay::apply(model, &grads, lr, o.weight_decay, o.decay_bias_and_norm);
        model = optim.step(lr, model, grads);

        // 4. log, evaluate on the valid split, checkpoint, as due
        tracker.state_mut().cursor = batcher.cursor();
        let evaluate = |m: &MlmModel<B>, step| {
            let scores = evaluate_valid(m, &shards, spec, device)?;
            Ok(EvalPoint { step, scores })
        };
        if let ControlFlow::Break(halted) = tracker.after_step(&model, &optim, &stats, evaluate)? {
            return Ok(halted);
        }
    }
    tracker.finish()
}

/// The first `eval_batches` batches of the valid split, masked with the fixed evaluation seed.
fn valid_batches(
    shards: &ShardSet,
    spec: &RunSpec,
) -> Result<impl Iterator<Item = ablate_data::Result<ablate_data::MlmBatch>>> {
    let cfg = spec.data.batch_config(spec.batch_size, EVAL_SEED);
    let batches = EvalBatches::new(shards, Split::Valid, &cfg)?;
    let limit = if spec.eval_batches == 0 {
        usize::MAX
    } else {
        spec.eval_batches
    };
    Ok(batches.take(limit))
}

/// Scores the model (dropout off) on the valid batches.
fn evaluate_valid<B: AutodiffBackend>(
    model: &MlmModel<B>,
    shards: &ShardSet,
    spec: &RunSpec,
    device: &B::Device,
) -> Result<MlmScores> {
    evaluate_mlm(&model.valid(), valid_batches(shards, spec)?, device)
}

/// The frequency-only reference on the same masked valid tokens the model is scored on.
fn unigram_valid(shards: &ShardSet, spec: &RunSpec) -> Result<UnigramReference> {
    let counts = UnigramCounts::of_split(shards, Split::Train)?;
    let batches = valid_batches(shards, spec)?.collect::<ablate_data::Result<Vec<_>>>()?;
    Ok(counts.score(&batches))
}

impl PretrainState {
    /// The state before the first step.
    fn fresh(seed: u64, schedule: LrSchedule, cursor: DataCursor) -> Self {
        Self {
            step: 0,
            cursor,
            seed,
            schedule,
            tokens_seen: 0,
            elapsed_s: 0.0,
            last_loss: None,
            last_eval: None,
            best_eval: None,
        }
    }
}

impl PretrainSummary {
    /// The summary of a run not yet started; the tracker fills in where it stands.
    fn new(preset: String, steps: u64, params: usize) -> Self {
        Self {
            status: RunStatus::Running,
            failure: None,
            preset,
            steps,
            steps_done: 0,
            params,
            wall_time_s: 0.0,
            tokens_seen: 0,
            final_train_loss: None,
            final_eval: None,
            best_eval: None,
            unigram: None,
        }
    }
}

impl LoopState for PretrainState {
    type Eval = EvalPoint;
    type Summary = PretrainSummary;
    type Row = PretrainRow;
    const ROW_FOR_FAILED_STEP: bool = true;

    fn step(&self) -> u64 {
        self.step
    }

    fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    fn count_step(&mut self, stats: &StepStats, elapsed_s: f64) {
        self.step += 1;
        self.tokens_seen += stats.tokens;
        self.last_loss = Some(stats.loss);
        self.elapsed_s = elapsed_s;
    }

    /// The best evaluation is the one with the lowest valid loss.
    fn keep_eval(&mut self, eval: EvalPoint) {
        if self
            .best_eval
            .as_ref()
            .is_none_or(|b| eval.scores.loss < b.scores.loss)
        {
            self.best_eval = Some(eval.clone());
        }
        self.last_eval = Some(eval);
    }

    fn fill_summary(&self, summary: &mut PretrainSummary) {
        summary.steps_done = self.step;
        summary.wall_time_s = self.elapsed_s;
        summary.tokens_seen = self.tokens_seen;
        summary.final_train_loss = self.last_loss;
        summary.final_eval = self.last_eval.clone();
        summary.best_eval = self.best_eval.clone();
    }

    fn status_of(summary: &mut PretrainSummary) -> (&mut RunStatus, &mut Option<Failure>) {
        (&mut summary.status, &mut summary.failure)
    }

    fn train_row(
        step: u64,
        stats: &StepStats,
        tokens_per_s: Option<f64>,
        elapsed_s: f64,
    ) -> PretrainRow {
        PretrainRow {
            kind: RowKind::Train,
            step,
            lr: Some(stats.lr),
            loss: Some(stats.loss),
            grad_norm: Some(stats.grad_norm),
            tokens_per_s,
            elapsed_s,
            eval_loss: None,
            eval_accuracy: None,
            eval_ppl: None,
        }
    }

    fn eval_row(eval: &EvalPoint, elapsed_s: f64) -> PretrainRow {
        PretrainRow {
            kind: RowKind::Eval,
            step: eval.step,
            lr: None,
            loss: None,
            grad_norm: None,
            tokens_per_s: None,
            elapsed_s,
            eval_loss: Some(eval.scores.loss),
            eval_accuracy: Some(eval.scores.accuracy),
            eval_ppl: Some(eval.scores.ppl),
        }
    }

    fn eval_note(eval: &EvalPoint) -> String {
        let s = &eval.scores;
        format!(
            "loss {:.4} accuracy {:.4} ppl {:.2}",
            s.loss, s.accuracy, s.ppl
        )
    }
}
