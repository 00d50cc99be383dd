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
    /// Time training or inference steps of the lab's model (same fields as the PyTorch reference).
    Bench(BenchArgs),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Encode(args) => crate::encode::run(args),
        Command::Bench(args) => crate::bench::run(args),
        Command::Data(args) => crate::cmd_data::run(args),
        Command::Train(args) => crate::cmd_train::train(args),
        Command::Finetune(args) => crate::cmd_train::finetune(args),
        Command::Eval(args) => crate::cmd_train::eval(args),
    }
}
