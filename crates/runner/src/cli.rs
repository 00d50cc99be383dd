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
    Validate(crate::cmd_experiment::ValidateArgs),
    /// Run an experiment: every (variant, grid point, seed), then the report. Resumes where it stopped.
    Run(crate::cmd_experiment::RunArgs),
    /// List the runs of an experiment folder with their state.
    Status(crate::cmd_experiment::FolderArgs),
    /// Aggregate an experiment folder's runs into summary.csv/.parquet, charts and report.md.
    Report(crate::cmd_experiment::FolderArgs),
    /// Run an HF DeBERTa-v2/v3 checkpoint on token ids and write the last hidden state as .npy.
    Encode(EncodeArgs),
    /// Build corpora, tokenizers, token shards and task sets.
    Data(DataArgs),
    /// Pre-train a masked language model from a run spec (resumes a run folder that has a checkpoint).
    Train(crate::cmd_train::TrainArgs),
    /// Fine-tune a pre-trained run on a classification task.
    Finetune(crate::cmd_train::FinetuneArgs),
    /// MLM loss and accuracy of a pre-trained run on a text file, optionally per length.
    Eval(crate::cmd_train::EvalArgs),
    /// Attention probabilities of one sentence under a pre-trained run (every layer and head), as JSON.
    Attention(crate::cmd_attention::AttentionArgs),
    /// Time training or inference steps of the lab's model (same fields as the PyTorch reference).
    Bench(BenchArgs),
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
        Command::Bench(args) => crate::bench::run(args),
        Command::Data(args) => crate::cmd_data::run(args),
        Command::Train(args) => crate::cmd_train::train(args),
        Command::Finetune(args) => crate::cmd_train::finetune(args),
        Command::Eval(args) => crate::cmd_train::eval(args),
    }
}
