//! The pre-training loop, written out top to bottom: AdamW, linear warm-up and decay, global-norm
//! clipping, gradient accumulation, dropout, MLM loss on the masked positions only, periodic evaluation,
//! metrics, checkpoints, exact resume and failure on a non-finite loss.
//!
//! Exactness: the data stream depends only on (seed, data cursor); every forward pass re-seeds the backend
//! RNG from (seed, step, micro-step) so dropout does not depend on what ran before; the schedule is a
//! function of the step. A checkpoint therefore holds all the state there is, and a run resumed from it
//! repeats on CPU, bit for bit, what the uninterrupted run computes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ablate_data::{DataCursor, EvalBatches, MlmBatch, MlmBatcher, ShardSet, Split};
use ablate_model::MlmModel;
use burn::module::{AutodiffModule, Module};
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::batch::mlm_tensors;
use crate::checkpoint::{self, Extras};
use crate::clip::clip_global_norm;
use crate::decay;
use crate::error::{IoContext, Result};
use crate::fsutil::{copy_atomic, write_atomic, write_json};
use crate::loss::{masked_nll_sum, scalar};
use crate::metrics::{METRICS_FILE, MetricsFile, PretrainRow, RowKind};
use crate::mlm_eval::{EVAL_SEED, MlmScores, evaluate_mlm};
use crate::progress::{Progress, ProgressMode};
use crate::resume::{self, Start};
use crate::rng::{Purpose, derive, exclusive, init_module};
use crate::run_dir::{SPEC_FILE, prepare_data};
use crate::schedule::{LrSchedule, due};
use crate::spec::RunSpec;
use crate::summary::{EvalPoint, Failure, PretrainSummary, RunStatus, SUMMARY_FILE};

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
    let start = resume::decide(run_dir, SPEC_FILE, |saved| {
        Ok(RunSpec::from_toml_str(saved)?.differing_keys(spec))
    })?;
    if start == Start::Done {
        let summary: PretrainSummary = crate::fsutil::read_json(&run_dir.join(SUMMARY_FILE))?;
        tracing::info!(
            "{} already completed {} steps",
            run_dir.display(),
            summary.steps_done
        );
        return Ok(summary);
    }
    std::fs::create_dir_all(run_dir).at(run_dir)?;
    let shards = prepare_data(spec, &opts.cache_dir)?;
    copy_atomic(
        shards.tokenizer().path(),
        &run_dir.join(ablate_data::TOKENIZER_FILE),
    )?;
    write_atomic(&run_dir.join(SPEC_FILE), spec_text.as_bytes())?;

    // ---- model, optimiser, batches, schedule (fresh or from the checkpoint) -------------------------
    let cfg = &spec.model.config;
    let init_seed = derive(spec.seed, Purpose::Init, 0, 0);
    let mut model: MlmModel<B> = init_module(device, init_seed, || MlmModel::new(cfg, device))?;
    let o = &spec.optimiser;
    let mut optim = o.adamw::<B, MlmModel<B>>();
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
    let mut state = PretrainState {
        step: 0,
        cursor: batcher.cursor(),
        seed: spec.seed,
        schedule,
        tokens_seen: 0,
        elapsed_s: 0.0,
        last_loss: None,
        last_eval: None,
        best_eval: None,
    };
    let metrics_path = run_dir.join(METRICS_FILE);
    match &start {
        Start::Resume { dir, step } => {
            let _gate = exclusive();
            model = checkpoint::load_model(model, dir, device)?;
            optim = checkpoint::load_optimizer(optim, dir, device)?;
            state = checkpoint::load_state(dir)?;
            batcher.restore(&state.cursor)?;
            checkpoint::restore_metrics(run_dir, dir)?;
            tracing::info!("resuming {} from step {step}", run_dir.display());
        }
        _ => write_atomic(&metrics_path, b"")?,
    }
    let mut metrics = MetricsFile::open(&metrics_path)?;
    let params = model.num_params();
    let mut summary = PretrainSummary {
        status: RunStatus::Running,
        failure: None,
        preset: spec.model.preset.name(),
        steps: spec.steps,
        steps_done: state.step,
        params,
        wall_time_s: state.elapsed_s,
        tokens_seen: state.tokens_seen,
        final_train_loss: state.last_loss,
        final_eval: state.last_eval.clone(),
        best_eval: state.best_eval.clone(),
    };
    write_json(&run_dir.join(SUMMARY_FILE), &summary)?;
    tracing::info!(
        "pre-training {} ({params} parameters) for {} steps of {} x {} rows of {} tokens",
        spec.model.preset.name(),
        spec.steps,
        spec.grad_accum,
        spec.batch_size,
        spec.data.max_len
    );

    // ---- the loop -------------------------------------------------------------------------------------
    let progress = Progress::new("train", spec.steps, state.step, opts.progress);
    let (started, elapsed_before) = (Instant::now(), state.elapsed_s);
    let (mut window_tokens, mut window_start) = (0u64, Instant::now());
    let mut steps_here = 0u64;
    while state.step < spec.steps {
        let gate = exclusive(); // the whole step holds the process-wide training guard (see `rng`)
        let step = state.step; // 0-based index of the step being taken
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
        if !loss.is_finite() || !grad_norm.is_finite() {
            let what = if loss.is_finite() {
                "gradient norm"
            } else {
                "training loss"
            };
            let value = if loss.is_finite() { grad_norm } else { loss };
            metrics.append(&train_row(
                step + 1,
                lr,
                loss,
                grad_norm,
                None,
                state.elapsed_s,
            ))?;
            summary.status = RunStatus::Failed;
            summary.failure = Some(Failure {
                step: step + 1,
                reason: format!("the {what} is {value} at step {}", step + 1),
                last_checkpoint_step: checkpoint::latest(run_dir)?.map(|(m, _)| m.step),
            });
            write_json(&run_dir.join(SUMMARY_FILE), &summary)?;
            progress.finish();
            tracing::error!(
                "run failed: {}",
                summary.failure.as_ref().map_or("", |f| &f.reason)
            );
            return Ok(summary);
        }
        model = decay::apply(model, &grads, lr, o.weight_decay, o.decay_bias_and_norm);
        model = optim.step(lr, model, grads);

        state.step += 1;
        state.cursor = batcher.cursor();
        state.tokens_seen += tokens;
        state.last_loss = Some(loss);
        state.elapsed_s = elapsed_before + started.elapsed().as_secs_f64();
        window_tokens += tokens;
        let last = state.step == spec.steps;

        // 4. log, evaluate, checkpoint
        if due(state.step, spec.log_every) || last {
            let rate = window_tokens as f64 / window_start.elapsed().as_secs_f64().max(1e-9);
            metrics.append(&train_row(
                state.step,
                lr,
                loss,
                grad_norm,
                Some(rate),
                state.elapsed_s,
            ))?;
            progress.update(
                state.step,
                &format!("loss {loss:.4} lr {lr:.2e} |g| {grad_norm:.3} {rate:.0} tok/s"),
            );
            (window_tokens, window_start) = (0, Instant::now());
        }
        if due(state.step, spec.eval_every) || last {
            let scores = evaluate_valid(&model, &shards, spec, device)?;
            metrics.append(&eval_row(state.step, &scores, state.elapsed_s))?;
            progress.note(&format!(
                "eval step {}: loss {:.4} accuracy {:.4} ppl {:.2}",
                state.step, scores.loss, scores.accuracy, scores.ppl
            ));
            let point = EvalPoint {
                step: state.step,
                scores,
            };
            if state
                .best_eval
                .as_ref()
                .is_none_or(|b| point.scores.loss < b.scores.loss)
            {
                state.best_eval = Some(point.clone());
            }
            state.last_eval = Some(point);
        }
        summary.steps_done = state.step;
        summary.wall_time_s = state.elapsed_s;
        summary.tokens_seen = state.tokens_seen;
        summary.final_train_loss = state.last_loss;
        summary.final_eval = state.last_eval.clone();
        summary.best_eval = state.best_eval.clone();
        if due(state.step, spec.checkpoint_every) || last {
            let extras = Extras {
                state: &state,
                spec: (SPEC_FILE, &spec_text),
            };
            checkpoint::save(run_dir, state.step, &model, &optim, extras)?;
            if !last {
                write_json(&run_dir.join(SUMMARY_FILE), &summary)?;
            }
        }
        steps_here += 1;
        if !last && opts.halt_after_steps == Some(steps_here) {
            progress.finish();
            summary.status = RunStatus::Halted;
            return Ok(summary);
        }
    }

    progress.finish();
    summary.status = RunStatus::Completed;
    write_json(&run_dir.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// Scores the model (dropout off) on the first `eval_batches` batches of the valid split.
fn evaluate_valid<B: AutodiffBackend>(
    model: &MlmModel<B>,
    shards: &ShardSet,
    spec: &RunSpec,
    device: &B::Device,
) -> Result<MlmScores> {
    let cfg = spec.data.batch_config(spec.batch_size, EVAL_SEED);
    let batches = EvalBatches::new(shards, Split::Valid, &cfg)?;
    let limit = if spec.eval_batches == 0 {
        usize::MAX
    } else {
        spec.eval_batches
    };
    evaluate_mlm(&model.valid(), batches.take(limit), device)
}

fn train_row(
    step: u64,
    lr: f64,
    loss: f64,
    grad_norm: f64,
    rate: Option<f64>,
    elapsed: f64,
) -> PretrainRow {
    PretrainRow {
        kind: RowKind::Train,
        step,
        lr: Some(lr),
        loss: Some(loss),
        grad_norm: Some(grad_norm),
        tokens_per_s: rate,
        elapsed_s: elapsed,
        eval_loss: None,
        eval_accuracy: None,
        eval_ppl: None,
    }
}

fn eval_row(step: u64, scores: &MlmScores, elapsed: f64) -> PretrainRow {
    PretrainRow {
        kind: RowKind::Eval,
        step,
        lr: None,
        loss: None,
        grad_norm: None,
        tokens_per_s: None,
        elapsed_s: elapsed,
        eval_loss: Some(scores.loss),
        eval_accuracy: Some(scores.accuracy),
        eval_ppl: Some(scores.ppl),
    }
}
