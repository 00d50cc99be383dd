//! Command-line arguments and dispatch.

use clap::{Parser, Subcommand};

use crate::bench::BenchArgs;
use crate::cmd_data::DataArgs;
use crate::encode::EncodeArgs;

/// ablate: attention and position-encoding ablations for masked language models.
#[derive(Debug, Parser)]
#[command(name = "ablate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an experiment file: every problem, with its location, before anything runs.
    #[command(after_help = "Example:\n  ablate validate experiments/quick.toml")]
    Validate(crate::cmd_experiment::ValidateArgs),
    /// Run an experiment: every (variant, grid point, seed), then the report. Resumes where it stopped.
    #[command(
        after_help = "Example:\n  ablate run experiments/quick.toml --jobs 2\n  ablate run experiments/reference.toml --out results/reference --shard 0/4 --no-report"
    )]
    Run(crate::cmd_experiment::RunArgs),
    /// List the runs of an experiment folder with their state.
    #[command(after_help = "Example:\n  ablate status results/quick")]
    Status(crate::cmd_experiment::FolderArgs),
    /// Aggregate an experiment folder's runs into summary.csv/.parquet, charts and report.md.
    #[command(
        after_help = "Example:\n  ablate report results/reference    # rebuilds report.md, summary.csv/.parquet and charts/"
    )]
    Report(crate::cmd_experiment::FolderArgs),
    /// Run an HF DeBERTa-v2/v3 checkpoint on token ids and write the last hidden state as .npy.
    #[command(
        after_help = "Example:\n  ablate encode --checkpoint models/deberta-v3-small --ids ids.json --out hidden.npy"
    )]
    Encode(EncodeArgs),
    /// Export a pre-training run as an HF model folder (DeBERTa-v2 or BERT, MLM head and tokenizer included).
    #[command(
        after_help = "Example:\n  ablate export --from results/quick/runs/deberta/seed-1/pretrain --out hf/deberta"
    )]
    Export(crate::cmd_export::ExportArgs),
    /// Build corpora, tokenizers, token shards and task sets.
    #[command(
        after_help = "Example:\n  ablate data corpus --profile core --out data/core\n  ablate data shards --corpus data/core/corpus.txt --out data/core-shards --vocab-size 16384\n  ablate data tasks --shards data/core-shards --out data/core-tasks"
    )]
    Data(DataArgs),
    /// Pre-train a masked language model from a run spec (resumes a run folder that has a checkpoint).
    #[command(
        after_help = "Example:\n  ablate train results/quick/runs/bert/seed-1/spec.toml --out runs/bert-1"
    )]
    Train(crate::cmd_train::TrainArgs),
    /// Fine-tune a pre-trained run on a classification task.
    #[command(
        after_help = "Example:\n  ablate finetune --from runs/bert-1 --task bshift --out runs/bert-1/finetune/bshift"
    )]
    Finetune(crate::cmd_train::FinetuneArgs),
    /// MLM loss and accuracy of a pre-trained run on a text file, optionally per length.
    #[command(
        after_help = "Example:\n  ablate eval --from runs/bert-1 --split test --lengths 64,128,256 --json length.json"
    )]
    Eval(crate::cmd_train::EvalArgs),
    /// Attention probabilities of one sentence under a pre-trained run (every layer and head), as JSON.
    #[command(
        after_help = "Example:\n  ablate attention --from runs/bert-1 --text \"It is a truth universally acknowledged.\" --json attention.json"
    )]
    Attention(crate::cmd_attention::AttentionArgs),
    /// Time training or inference steps of the lab's model (same fields as the PyTorch reference).
    #[command(
        after_help = "Example:\n  ablate bench --preset deberta --seq-len 512 --batch 8 --mode train --json bench.json"
    )]
    Bench(BenchArgs),
    /// Submit an experiment to Slurm: a job array of shards (requeued and resumed after a time limit or a
    /// preemption), then a report job.
    Slurm(crate::slurm::SlurmArgs),
    /// Write a commented experiment file to start from (`--preset` per variant).
    New(crate::cmd_new::NewArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(crate::cmd_new::CompletionsArgs),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Validate(args) => crate::cmd_experiment::validate(args),
        Command::Run(args) => crate::cmd_experiment::run(args),
        Command::Status(args) => crate::cmd_experiment::status(args),
        Command::Report(args) => crate::cmd_experiment::report(args),
        Command::Attention(args) => crate::cmd_attention::run(args),
        Command::Encode(args) => crate::encode::run(args),
        Command::Export(args) => crate::cmd_export::run(args),
        Command::Bench(args) => crate::bench::run(args),
        Command::Data(args) => crate::cmd_data::run(args),
        Command::Train(args) => crate::cmd_train::train(args),
        Command::Finetune(args) => crate::cmd_train::finetune(args),
        Command::Eval(args) => crate::cmd_train::eval(args),
        Command::Slurm(args) => crate::slurm::run(args),
        Command::New(args) => crate::cmd_new::new(args),
        Command::Completions(args) => crate::cmd_new::completions(args),
    }
}
