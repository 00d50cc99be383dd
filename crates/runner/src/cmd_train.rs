//! `ablate train`, `ablate finetune` and `ablate eval`: pre-train a run from a spec file (resuming the
//! run folder's checkpoint), fine-tune a pre-trained run on a task set, and score a pre-trained run's MLM on
//! a text file. Every input is checked before any work.

use std::path::{Path, PathBuf};

use ablate_train::{
    EvalText, FinetuneSpec, FinetuneSummary, FinetuneTask, PretrainSummary, PretrainedRun,
    ProgressMode, RunSpec, RunStatus, SiftSpec, TextEvalOptions, TrainOptions,
};
use anyhow::{Context, bail};
use burn::backend::Autodiff;
use clap::Args;

use crate::device::DeviceChoice;

/// Options shared by the three commands.
#[derive(Debug, Args)]
pub struct RunOpts {
    /// Folder of the tokenizer, shard and task-set cache.
    #[arg(long, default_value = "data/cache")]
    pub cache: PathBuf,
    /// Plain log lines instead of a progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress_bar: bool,
    /// Stop abruptly after N steps of this invocation, as a kill would (tests of resuming).
    #[arg(long, hide = true)]
    pub halt_after_steps: Option<u64>,
}

impl RunOpts {
    fn train_options(&self) -> TrainOptions {
        TrainOptions {
            cache_dir: self.cache.clone(),
            progress: if self.no_progress_bar {
                ProgressMode::Log
            } else {
                ProgressMode::Auto
            },
            halt_after_steps: self.halt_after_steps,
        }
    }
}

/// Arguments of `ablate train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The run spec (TOML): model, data, optimiser, steps, batch, seed, cadences.
    pub spec: PathBuf,
    /// The run folder; a folder holding a checkpoint of the same spec is resumed.
    #[arg(long)]
    pub out: PathBuf,
    /// cpu, cuda or cuda:N (default: the spec's `device`).
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    #[command(flatten)]
    pub opts: RunOpts,
}

/// Arguments of `ablate finetune`.
#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// The pre-training run folder (`ablate train --out`).
    #[arg(long)]
    pub from: PathBuf,
    /// bshift, sent_order or wn_pos_context.
    #[arg(long)]
    pub task: FinetuneTask,
    /// The fine-tuning folder; a folder holding a checkpoint of the same settings is resumed.
    #[arg(long)]
    pub out: PathBuf,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Folder of built task sets (`ablate data tasks`); default: built on demand in the cache.
    #[arg(long)]
    pub tasks_dir: Option<PathBuf>,
    /// Passes over the training examples [default: 3].
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Examples per step [default: 32].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Tokens per example [default: the pre-training run's max_len].
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Use at most this many training examples (0: all).
    #[arg(long, default_value_t = 0)]
    pub max_train_examples: usize,
    /// Peak learning rate [default: 1e-4].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Warm-up steps [default: 0].
    #[arg(long)]
    pub warmup_steps: Option<u64>,
    /// Decoupled weight decay [default: 0.01].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Seed of the head, the example order and the dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Evaluate every N steps (0: only at the end).
    #[arg(long, default_value_t = 0)]
    pub eval_every: u64,
    /// Checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 0)]
    pub checkpoint_every: u64,
    /// Metrics row every N steps.
    #[arg(long, default_value_t = 10)]
    pub log_every: u64,
    /// Scale-invariant fine-tuning (adversarial training on normalised embeddings).
    #[arg(long)]
    pub sift: bool,
    /// SiFT: weight of the symmetric-KL term [default: 3].
    #[arg(long)]
    pub sift_lambda: Option<f64>,
    /// SiFT: size of the ascent step [default: 1e-4].
    #[arg(long)]
    pub sift_step_size: Option<f64>,
    /// SiFT: standard deviation of the initial noise [default: 1e-2].
    #[arg(long)]
    pub sift_noise_std: Option<f64>,
    #[command(flatten)]
    pub opts: RunOpts,
}

/// Arguments of `ablate eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The pre-training run folder.
    #[arg(long)]
    pub from: PathBuf,
    /// A UTF-8 text file (documents separated by blank lines).
    #[arg(long, required_unless_present = "split", conflicts_with = "split")]
    pub text: Option<PathBuf>,
    /// Score a held-out split of the run's own corpus instead of a file: valid or test.
    #[arg(long, value_parser = parse_held_out)]
    pub split: Option<ablate_data::Split>,
    /// Also score rows of these lengths, e.g. 128,256,512,1024.
    #[arg(long, value_delimiter = ',')]
    pub lengths: Vec<usize>,
    /// Write the report here (default: print it).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Rows per batch (default: the run's batch size).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// At most this many rows per length.
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// Seed of the masks (default: the lab's fixed evaluation seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Folder of the tokenizer and shard cache (for --split).
    #[arg(long, default_value = "data/cache")]
    pub cache: PathBuf,
}

/// Runs `ablate train`.
pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let mut spec = RunSpec::from_toml_file(&args.spec)?;
    let device = args.device.unwrap_or(spec.device.into());
    spec.device = device.into();
    if device == DeviceChoice::Cpu {
        crate::memory::check_training_fits(&spec.model.config, &args.spec)?;
    }
    let opts = args.opts.train_options();
    let summary: PretrainSummary = crate::with_backend!(device, |B, dev| {
        ablate_train::pretrain::<Autodiff<B>>(&spec, &args.out, &dev, &opts)
            .map_err(anyhow::Error::from)
    })?;
    report_pretrain(&args.out, &summary)
}

fn report_pretrain(out: &Path, s: &PretrainSummary) -> anyhow::Result<()> {
    match s.status {
        RunStatus::Failed => {
            let f = s
                .failure
                .as_ref()
                .context("a failed run names its failure")?;
            let kept = f
                .last_checkpoint_step
                .map_or("no checkpoint was written".to_string(), |k| {
                    format!("its checkpoint of step {k} is kept")
                });
            bail!(
                "the run in {} failed at step {}: {}; {kept}",
                out.display(),
                f.step,
                f.reason
            )
        }
        RunStatus::Halted => println!(
            "{}: stopped after step {} as asked",
            out.display(),
            s.steps_done
        ),
        _ => {
            let eval = s.final_eval.as_ref().map_or(String::new(), |e| {
                format!(
                    "; valid loss {:.4}, accuracy {:.4}, perplexity {:.2}",
                    e.scores.loss, e.scores.accuracy, e.scores.ppl
                )
            });
            println!(
                "{}: {} steps of {} ({} parameters) in {:.0}s{eval}",
                out.display(),
                s.steps_done,
                s.preset,
                s.params,
                s.wall_time_s
            );
        }
    }
    Ok(())
}

/// Runs `ablate finetune`.
pub fn finetune(args: FinetuneArgs) -> anyhow::Result<()> {
    let run = PretrainedRun::open(&args.from)?;
    let base = FinetuneSpec::default();
    let sift = SiftSpec {
        enabled: args.sift,
        lambda: args.sift_lambda.unwrap_or(base.sift.lambda),
        step_size: args.sift_step_size.unwrap_or(base.sift.step_size),
        noise_std: args.sift_noise_std.unwrap_or(base.sift.noise_std),
    };
    if !args.sift
        && (args.sift_lambda.is_some()
            || args.sift_step_size.is_some()
            || args.sift_noise_std.is_some())
    {
        bail!("--sift-lambda, --sift-step-size and --sift-noise-std need --sift");
    }
    let spec = FinetuneSpec {
        from: args.from.clone(),
        task: args.task,
        tasks_dir: args.tasks_dir,
        epochs: args.epochs.unwrap_or(base.epochs),
        batch_size: args.batch_size.unwrap_or(base.batch_size),
        max_len: args.max_len.unwrap_or(run.spec.data.max_len),
        max_train_examples: args.max_train_examples,
        seed: args.seed,
        eval_every: args.eval_every,
        checkpoint_every: args.checkpoint_every,
        log_every: args.log_every,
        device: args.device.into(),
        optimiser: ablate_train::OptimiserSpec {
            lr: args.lr.unwrap_or(base.optimiser.lr),
            warmup_steps: args.warmup_steps.unwrap_or(base.optimiser.warmup_steps),
            weight_decay: args.weight_decay.unwrap_or(base.optimiser.weight_decay),
            ..base.optimiser
        },
        sift,
    };
    spec.validate()?;
    let opts = args.opts.train_options();
    let summary: FinetuneSummary = crate::with_backend!(args.device, |B, dev| {
        ablate_train::finetune::<Autodiff<B>>(&spec, &args.out, &dev, &opts)
            .map_err(anyhow::Error::from)
    })?;
    match summary.status {
        RunStatus::Failed => {
            let f = summary
                .failure
                .as_ref()
                .context("a failed run names its failure")?;
            bail!(
                "fine-tuning in {} failed at step {}: {}",
                args.out.display(),
                f.step,
                f.reason
            )
        }
        RunStatus::Halted => println!(
            "{}: stopped after step {} as asked",
            args.out.display(),
            summary.steps_done
        ),
        _ => {
            if let Some(e) = &summary.final_eval {
                println!(
                    "{}: {} on {} steps: valid accuracy {:.4} (macro-F1 {:.4}), test accuracy {:.4} (macro-F1 {:.4}); \
                     majority class {:.4}",
                    args.out.display(),
                    summary.task,
                    summary.steps_done,
                    e.valid.accuracy,
                    e.valid.macro_f1,
                    e.test.accuracy,
                    e.test.macro_f1,
                    summary.test_majority_share
                );
            }
        }
    }
    Ok(())
}

/// Parses `valid` or `test`.
fn parse_held_out(s: &str) -> Result<ablate_data::Split, String> {
    match s {
        "valid" => Ok(ablate_data::Split::Valid),
        "test" => Ok(ablate_data::Split::Test),
        other => Err(format!("`{other}`: use valid or test")),
    }
}

/// Runs `ablate eval`.
pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let text = match (&args.text, args.split) {
        (Some(path), _) => EvalText::File(path.clone()),
        (None, Some(split)) => EvalText::Split {
            split,
            cache_dir: args.cache.clone(),
        },
        (None, None) => bail!("give --text FILE or --split valid|test"),
    };
    let opts = TextEvalOptions {
        text,
        lengths: args.lengths.clone(),
        batch_size: args.batch_size,
        max_rows: args.max_rows,
        seed: args.seed.unwrap_or(ablate_train::EVAL_SEED),
    };
    ablate_train::check_text_eval(&args.from, &opts)?;
    if let Some(parent) = args
        .json
        .as_ref()
        .and_then(|p| p.parent())
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create folder {}", parent.display()))?;
    }
    let report = crate::with_backend!(args.device, |B, dev| {
        ablate_train::eval_text::<B>(&args.from, &opts, &dev).map_err(anyhow::Error::from)
    })?;
    match &args.json {
        Some(path) => {
            ablate_train::fsutil::write_json(path, &report)?;
            println!(
                "{}: MLM loss {:.4}, accuracy {:.4} over {} masked tokens; report in {}",
                report.text,
                report.mlm_loss,
                report.mlm_accuracy,
                report.masked_tokens,
                path.display()
            );
        }
        None => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(())
}
