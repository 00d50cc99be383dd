//! The fine-tuning loop: a classifier (DeBERTa's pooler and a linear layer) on the encoder of a pre-trained
//! run, trained on one of the data crate's task sets with AdamW, the same schedule and clipping as
//! pre-training, optional SiFT, accuracy and macro-F1 on the task's valid and test splits, and the same
//! bookkeeping as pre-training (the [`RunTracker`]: metrics, checkpoints, exact resume, failure handling).
//!
//! The example order of epoch e is a permutation keyed by (seed, e), so the batch of a step is a function
//! of the step alone.

use std::ops::ControlFlow;
use std::path::Path;

use ablate_data::Permutation;
use ablate_data::tasks::{TaskExample, encode_examples};
use ablate_model::ClassifierModel;
use burn::module::{AutodiffModule, Module};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::batch::class_tensors;
use crate::classifier_eval::{InputSettings, evaluate_classifier};
use crate::clip::clip_global_norm;
use crate::decay;
use crate::error::{IoContext, Result, TrainError};
use crate::finetune_spec::{FINETUNE_SPEC_FILE, FinetuneSpec};
use crate::fsutil::{read_json, write_atomic};
use crate::lock::lock_run_folder;
use crate::loss::{cross_entropy_mean, scalar};
use crate::metrics::{FinetuneRow, RowKind};
use crate::pretrain::TrainOptions;
use crate::resume::{self, Start};
use crate::rng::{Purpose, derive, exclusive, init_module};
use crate::run_dir::PretrainedRun;
use crate::schedule::LrSchedule;
use crate::sift::{self, SiftSeeds};
use crate::summary::{ClassEvalPoint, Failure, FinetuneSummary, RunStatus, SUMMARY_FILE};
use crate::task_data::{load_task, task_folder};
use crate::tracker::{LoopState, RunTracker, StepStats, TrackerSetup};

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
        return read_json(&out.join(SUMMARY_FILE));
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
    let _lock = lock_run_folder(out)?;
    write_atomic(&out.join(FINETUNE_SPEC_FILE), spec_text.as_bytes())?;

    // ---- model, optimiser, schedule (fresh or from the checkpoint) ---------------------------------
    let encoder = run.load_mlm::<B>(device)?.model;
    let head_seed = derive(spec.seed, Purpose::HeadInit, 0, 0);
    let clf = init_module(device, head_seed, || {
        Ok::<_, TrainError>(ClassifierModel::new(encoder, classes, device))
    })?;
    let o = &spec.optimiser;
    let optim = o.adamw::<B, ClassifierModel<B>>();
    let schedule = LrSchedule {
        peak: o.lr,
        warmup: o.warmup_steps,
        total: steps,
        decay: o.decay,
    };
    let fresh = FinetuneState {
        step: 0,
        seed: spec.seed,
        schedule,
        elapsed_s: 0.0,
        last_loss: None,
        last_eval: None,
        best_eval: None,
    };
    let test_labels: Vec<usize> = task.test.iter().map(|e| e.label as usize).collect();
    let majority = (0..classes)
        .map(|c| test_labels.iter().filter(|&&l| l == c).count())
        .max()
        .unwrap_or(0);
    let summary = FinetuneSummary {
        status: RunStatus::Running,
        failure: None,
        task: spec.task.name().to_string(),
        labels: task.labels.clone(),
        from: run.dir.display().to_string(),
        sift: spec.sift.enabled,
        steps,
        steps_done: 0,
        params: clf.num_params(),
        wall_time_s: 0.0,
        test_majority_share: majority as f64 / test_labels.len().max(1) as f64,
        final_train_loss: None,
        final_eval: None,
        best_eval: None,
    };
    let setup = TrackerSetup {
        run_dir: out,
        spec: (FINETUNE_SPEC_FILE, &spec_text),
        steps,
        log_every: spec.log_every,
        eval_every: spec.eval_every,
        checkpoint_every: spec.checkpoint_every,
        label: "finetune",
        opts,
    };
    let (mut tracker, mut clf, mut optim) =
        RunTracker::resume_or_start(setup, &start, fresh, summary, (clf, optim), device)?;
    let settings = InputSettings {
        tokenizer: &tok,
        max_len: spec.max_len,
        token_types: cfg.type_vocab_size > 0,
    };

    // ---- the loop -------------------------------------------------------------------------------------
    while let Some(step) = tracker.next_step() {
        let gate = exclusive(); // the whole step holds the process-wide training guard (see `rng`)
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
        let stats = StepStats {
            lr,
            loss,
            sift_loss,
            grad_norm,
            tokens: t.num_tokens as u64,
        };
        if let Some(failed) = tracker.fail_if_non_finite(&stats)? {
            return Ok(failed);
        }
        clf = decay::apply(clf, &grads, lr, o.weight_decay, o.decay_bias_and_norm);
        clf = optim.step(lr, clf, grads);

        // 4. log, evaluate on the valid and test splits, checkpoint, as due
        let evaluate = |clf: &ClassifierModel<B>, step| {
            let model = clf.valid();
            let valid = evaluate_classifier(&model, &task.valid, classes, settings, 64, device)?;
            let test = evaluate_classifier(&model, &task.test, classes, settings, 64, device)?;
            Ok(ClassEvalPoint { step, valid, test })
        };
        if let ControlFlow::Break(halted) = tracker.after_step(&clf, &optim, &stats, evaluate)? {
            return Ok(halted);
        }
    }
    tracker.finish()
}

impl LoopState for FinetuneState {
    type Eval = ClassEvalPoint;
    type Summary = FinetuneSummary;
    type Row = FinetuneRow;
    const ROW_FOR_FAILED_STEP: bool = false;

    fn step(&self) -> u64 {
        self.step
    }

    fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    fn count_step(&mut self, stats: &StepStats, elapsed_s: f64) {
        self.step += 1;
        self.last_loss = Some(stats.loss);
        self.elapsed_s = elapsed_s;
    }

    /// The best evaluation is the one with the highest valid accuracy.
    fn keep_eval(&mut self, eval: ClassEvalPoint) {
        if self
            .best_eval
            .as_ref()
            .is_none_or(|b| eval.valid.accuracy > b.valid.accuracy)
        {
            self.best_eval = Some(eval.clone());
        }
        self.last_eval = Some(eval);
    }

    fn fill_summary(&self, summary: &mut FinetuneSummary) {
        summary.steps_done = self.step;
        summary.wall_time_s = self.elapsed_s;
        summary.final_train_loss = self.last_loss;
        summary.final_eval = self.last_eval.clone();
        summary.best_eval = self.best_eval.clone();
    }

    fn status_of(summary: &mut FinetuneSummary) -> (&mut RunStatus, &mut Option<Failure>) {
        (&mut summary.status, &mut summary.failure)
    }

    fn train_row(
        step: u64,
        stats: &StepStats,
        tokens_per_s: Option<f64>,
        elapsed_s: f64,
    ) -> FinetuneRow {
        FinetuneRow {
            kind: RowKind::Train,
            step,
            lr: Some(stats.lr),
            loss: Some(stats.loss),
            sift_loss: stats.sift_loss,
            grad_norm: Some(stats.grad_norm),
            tokens_per_s,
            elapsed_s,
            valid_accuracy: None,
            valid_f1: None,
            test_accuracy: None,
            test_f1: None,
        }
    }

    fn eval_row(eval: &ClassEvalPoint, elapsed_s: f64) -> FinetuneRow {
        FinetuneRow {
            kind: RowKind::Eval,
            step: eval.step,
            lr: None,
            loss: None,
            sift_loss: None,
            grad_norm: None,
            tokens_per_s: None,
            elapsed_s,
            valid_accuracy: Some(eval.valid.accuracy),
            valid_f1: Some(eval.valid.macro_f1),
            test_accuracy: Some(eval.test.accuracy),
            test_f1: Some(eval.test.macro_f1),
        }
    }

    fn eval_note(eval: &ClassEvalPoint) -> String {
        let (v, t) = (&eval.valid, &eval.test);
        format!(
            "valid accuracy {:.4} F1 {:.4}, test accuracy {:.4} F1 {:.4}",
            v.accuracy, v.macro_f1, t.accuracy, t.macro_f1
        )
    }
}
