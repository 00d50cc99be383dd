//! The fine-tuning loop: a classifier (DeBERTa's pooler and a linear layer) on the encoder of a pre-trained
//! run, trained on one of the data crate's task sets with AdamW, the same schedule and clipping as
//! pre-training, optional SiFT, accuracy and macro-F1 on the task's valid and test splits, and the same
//! checkpoints, exact resume and failure handling as pre-training.
//!
//! The example order of epoch e is a permutation keyed by (seed, e), so the batch of a step is a function
//! of the step alone.

use std::path::Path;
use std::time::Instant;

use ablate_data::Permutation;
use ablate_data::tasks::{TaskExample, encode_examples};
use ablate_model::ClassifierModel;
use burn::module::{AutodiffModule, Module};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::batch::class_tensors;
use crate::checkpoint::{self, Extras};
use crate::classifier_eval::{InputSettings, evaluate_classifier};
use crate::clip::clip_global_norm;
use crate::decay;
use crate::error::{IoContext, Result, TrainError};
use crate::finetune_spec::{FINETUNE_SPEC_FILE, FinetuneSpec};
use crate::fsutil::{write_atomic, write_json};
use crate::loss::{cross_entropy_mean, scalar};
use crate::metrics::{FinetuneRow, METRICS_FILE, MetricsFile, RowKind};
use crate::pretrain::TrainOptions;
use crate::progress::Progress;
use crate::resume::{self, Start};
use crate::rng::{Purpose, derive, exclusive, init_module};
use crate::run_dir::PretrainedRun;
use crate::schedule::{LrSchedule, due};
use crate::sift::{self, SiftSeeds};
use crate::summary::{ClassEvalPoint, Failure, FinetuneSummary, RunStatus, SUMMARY_FILE};
use crate::task_data::{load_task, task_folder};

/// The loop state saved in every fine-tuning checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneState {
    /// Optimiser steps done.
    pub step: u64,
    /// The run seed; head init, order and dropout seeds derive from it.
    pub seed: u64,
    /// The learning-rate schedule.
    pub schedule: LrSchedule,
    /// Seconds of training over all invocations.
    pub elapsed_s: f64,
    /// Loss of the last step.
    pub last_loss: Option<f64>,
    /// The last evaluation.
    pub last_eval: Option<ClassEvalPoint>,
    /// The evaluation with the best valid accuracy.
    pub best_eval: Option<ClassEvalPoint>,
}

/// Fine-tunes the run `spec.from` on `spec.task` into `out`, resuming from its checkpoint if it has one.
pub fn finetune<B: AutodiffBackend>(
    spec: &FinetuneSpec,
    out: &Path,
    device: &B::Device,
    opts: &TrainOptions,
) -> Result<FinetuneSummary> {
    // ---- inputs, run folder, task data --------------------------------------------------------------
    spec.validate()?;
    let run = PretrainedRun::open(&spec.from)?;
    let cfg = run.spec.model.config.clone();
    if cfg.has_learned_positions() && spec.max_len > cfg.max_position_embeddings {
        return Err(TrainError::spec(
            "max_len",
            format!(
                "{} is longer than the pre-trained model's absolute position table ({} rows)",
                spec.max_len, cfg.max_position_embeddings
            ),
        ));
    }
    let spec_text = spec.to_toml_string()?;
    let start = resume::decide(out, FINETUNE_SPEC_FILE, |saved| {
        Ok(FinetuneSpec::from_toml_str(saved)?.differing_keys(spec))
    })?;
    if start == Start::Done {
        return crate::fsutil::read_json(&out.join(SUMMARY_FILE));
    }
    let task = load_task(
        spec.task,
        &task_folder(spec.task, spec.tasks_dir.as_deref(), &run, &opts.cache_dir)?,
    )?;
    let mut train: Vec<TaskExample> = task.train.clone();
    if spec.max_train_examples > 0 {
        train.truncate(spec.max_train_examples);
    }
    let per_epoch = (train.len() / spec.batch_size) as u64;
    if per_epoch == 0 {
        return Err(TrainError::spec(
            "batch_size",
            format!(
                "{} is more than the task's {} training examples",
                spec.batch_size,
                train.len()
            ),
        ));
    }
    let steps = spec.epochs * per_epoch;
    spec.optimiser.validate("optimiser", steps)?;
    let tok = run.tokenizer()?;
    let classes = task.labels.len();
    std::fs::create_dir_all(out).at(out)?;
    write_atomic(&out.join(FINETUNE_SPEC_FILE), spec_text.as_bytes())?;

    // ---- model, optimiser, schedule (fresh or from the checkpoint) ---------------------------------
    let encoder = run.load_mlm::<B>(device)?.model;
    let head_seed = derive(spec.seed, Purpose::HeadInit, 0, 0);
    let mut clf = init_module(device, head_seed, || {
        Ok::<_, TrainError>(ClassifierModel::new(encoder, classes, device))
    })?;
    let o = &spec.optimiser;
    let mut optim = o.adamw::<B, ClassifierModel<B>>();
    let schedule = LrSchedule {
        peak: o.lr,
        warmup: o.warmup_steps,
        total: steps,
        decay: o.decay,
    };
    let mut state = FinetuneState {
        step: 0,
        seed: spec.seed,
        schedule,
        elapsed_s: 0.0,
        last_loss: None,
        last_eval: None,
        best_eval: None,
    };
    let metrics_path = out.join(METRICS_FILE);
    match &start {
        Start::Resume { dir, .. } => {
            let _gate = exclusive();
            clf = checkpoint::load_model(clf, dir, device)?;
            optim = checkpoint::load_optimizer(optim, dir, device)?;
            state = checkpoint::load_state(dir)?;
            checkpoint::restore_metrics(out, dir)?;
        }
        _ => write_atomic(&metrics_path, b"")?,
    }
    let mut metrics = MetricsFile::open(&metrics_path)?;
    let test_labels: Vec<usize> = task.test.iter().map(|e| e.label as usize).collect();
    let majority = (0..classes)
        .map(|c| test_labels.iter().filter(|&&l| l == c).count())
        .max()
        .unwrap_or(0);
    let mut summary = FinetuneSummary {
        status: RunStatus::Running,
        failure: None,
        task: spec.task.name().to_string(),
        labels: task.labels.clone(),
        from: run.dir.display().to_string(),
        sift: spec.sift.enabled,
        steps,
        steps_done: state.step,
        params: clf.num_params(),
        wall_time_s: state.elapsed_s,
        test_majority_share: majority as f64 / test_labels.len().max(1) as f64,
        final_train_loss: state.last_loss,
        final_eval: state.last_eval.clone(),
        best_eval: state.best_eval.clone(),
    };
    write_json(&out.join(SUMMARY_FILE), &summary)?;
    let settings = InputSettings {
        tokenizer: &tok,
        max_len: spec.max_len,
        token_types: cfg.type_vocab_size > 0,
    };

    // ---- the loop -------------------------------------------------------------------------------------
    let progress = Progress::new("finetune", steps, state.step, opts.progress);
    let (started, elapsed_before) = (Instant::now(), state.elapsed_s);
    let (mut window_tokens, mut window_start, mut steps_here) = (0u64, Instant::now(), 0u64);
    while state.step < steps {
        let gate = exclusive(); // the whole step holds the process-wide training guard (see `rng`)
        let step = state.step;
        let lr = schedule.lr(step);

        // 1. the step's examples: positions of this epoch's keyed permutation
        let (epoch, pos) = (step / per_epoch, step % per_epoch);
        let order = Permutation::new(
            train.len() as u64,
            derive(spec.seed, Purpose::Order, epoch, 0),
        );
        let first = pos * spec.batch_size as u64;
        let examples: Vec<TaskExample> = (first..first + spec.batch_size as u64)
            .map(|i| train[order.apply(i) as usize].clone())
            .collect();
        let t = class_tensors::<B>(
            &encode_examples(&tok, &examples, spec.max_len)?,
            settings.token_types,
            device,
        );

        // 2. forward with dropout; with SiFT, the adversarial term at the embedding LayerNorm's input
        gate.seed::<B>(device, derive(spec.seed, Purpose::Dropout, step, 0));
        let seeds = SiftSeeds {
            noise: derive(spec.seed, Purpose::SiftNoise, step, 0),
            probe: derive(spec.seed, Purpose::Dropout, step, 1),
            adversarial: derive(spec.seed, Purpose::Dropout, step, 2),
        };
        let fwd = sift::forward(&clf, &t.input, &spec.sift, seeds, &gate, device);
        let ce = cross_entropy_mean(fwd.logits, t.labels.clone());
        let loss = scalar(ce.clone());
        let (total, sift_loss) = match fwd.adversarial {
            Some(adv) => {
                let value = scalar(adv.clone());
                (ce + adv.mul_scalar(spec.sift.lambda), Some(value))
            }
            None => (ce, None),
        };

        // 3. backward, global-norm clipping, AdamW; a non-finite loss or gradient ends the run
        let grads = GradientsParams::from_grads(total.backward(), &clf);
        let (grads, grad_norm) = clip_global_norm(&clf, grads, o.clip);
        let bad = [
            ("training loss", loss),
            ("SiFT loss", sift_loss.unwrap_or(0.0)),
            ("gradient norm", grad_norm),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite());
        if let Some((what, value)) = bad {
            summary.status = RunStatus::Failed;
            summary.failure = Some(Failure {
                step: step + 1,
                reason: format!("the {what} is {value} at step {}", step + 1),
                last_checkpoint_step: checkpoint::latest(out)?.map(|(m, _)| m.step),
            });
            write_json(&out.join(SUMMARY_FILE), &summary)?;
            progress.finish();
            return Ok(summary);
        }
        clf = decay::apply(clf, &grads, lr, o.weight_decay, o.decay_bias_and_norm);
        clf = optim.step(lr, clf, grads);

        state.step += 1;
        state.last_loss = Some(loss);
        state.elapsed_s = elapsed_before + started.elapsed().as_secs_f64();
        window_tokens += t.num_tokens as u64;
        let last = state.step == steps;

        // 4. log, evaluate, checkpoint
        if due(state.step, spec.log_every) || last {
            let rate = window_tokens as f64 / window_start.elapsed().as_secs_f64().max(1e-9);
            metrics.append(&FinetuneRow {
                kind: RowKind::Train,
                step: state.step,
                lr: Some(lr),
                loss: Some(loss),
                sift_loss,
                grad_norm: Some(grad_norm),
                tokens_per_s: Some(rate),
                elapsed_s: state.elapsed_s,
                valid_accuracy: None,
                valid_f1: None,
                test_accuracy: None,
                test_f1: None,
            })?;
            progress.update(
                state.step,
                &format!("loss {loss:.4} lr {lr:.2e} |g| {grad_norm:.3}"),
            );
            (window_tokens, window_start) = (0, Instant::now());
        }
        if due(state.step, spec.eval_every) || last {
            let model = clf.valid();
            let valid = evaluate_classifier(&model, &task.valid, classes, settings, 64, device)?;
            let test = evaluate_classifier(&model, &task.test, classes, settings, 64, device)?;
            metrics.append(&FinetuneRow {
                kind: RowKind::Eval,
                step: state.step,
                lr: None,
                loss: None,
                sift_loss: None,
                grad_norm: None,
                tokens_per_s: None,
                elapsed_s: state.elapsed_s,
                valid_accuracy: Some(valid.accuracy),
                valid_f1: Some(valid.macro_f1),
                test_accuracy: Some(test.accuracy),
                test_f1: Some(test.macro_f1),
            })?;
            progress.note(&format!(
                "eval step {}: valid accuracy {:.4} F1 {:.4}, test accuracy {:.4} F1 {:.4}",
                state.step, valid.accuracy, valid.macro_f1, test.accuracy, test.macro_f1
            ));
            let point = ClassEvalPoint {
                step: state.step,
                valid,
                test,
            };
            if state
                .best_eval
                .as_ref()
                .is_none_or(|b| point.valid.accuracy > b.valid.accuracy)
            {
                state.best_eval = Some(point.clone());
            }
            state.last_eval = Some(point);
        }
        summary.steps_done = state.step;
        summary.wall_time_s = state.elapsed_s;
        summary.final_train_loss = state.last_loss;
        summary.final_eval = state.last_eval.clone();
        summary.best_eval = state.best_eval.clone();
        if due(state.step, spec.checkpoint_every) || last {
            let extras = Extras {
                state: &state,
                spec: (FINETUNE_SPEC_FILE, &spec_text),
            };
            checkpoint::save(out, state.step, &clf, &optim, extras)?;
            if !last {
                write_json(&out.join(SUMMARY_FILE), &summary)?;
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
    write_json(&out.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}
