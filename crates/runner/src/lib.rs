//! The `ablate` command line: checkpoint encoding, data preparation, training, experiments and reports.

mod bench;
mod cli;
mod cmd_attention;
mod cmd_data;
mod cmd_experiment;
mod cmd_export;
mod cmd_new;
mod cmd_train;
mod device;
pub mod encode;
pub mod experiment;
pub mod report;
pub mod slurm;

use std::process::ExitCode;

use clap::Parser;

pub use cli::Cli;

/// Runs the command line; every error is printed with its causes and gives exit code 2.
pub fn cli_main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ABLATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
