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
mod memory;
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
            use std::io::Write;
            let mut message = format!("{e:#}");
            let full = is_disk_full(&e);
            if full && !ablate_data::tells_disk_full(&message) {
                message = format!("{message}: {}", ablate_data::DISK_FULL);
            }
            // Not eprintln!: stderr may be a file on the disk that just filled up, and eprintln! panics when
            // its write fails; the exit code still tells.
            let _ = writeln!(std::io::stderr().lock(), "error: {message}");
            ExitCode::from(if full { EXIT_DISK_FULL } else { 2 })
        }
    }
}

/// The exit code of a command stopped by a full disk (sysexits' EX_TEMPFAIL: the same command succeeds once
/// space is free); every other error exits with 2. A sweep tells a full disk in a stage by this code, since
/// the stage's own message may not have reached its log on that disk.
pub const EXIT_DISK_FULL: u8 = 75;

/// Whether `e` or one of its causes is a write that failed because the disk is full.
pub fn is_disk_full(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<ablate_train::TrainError>()
            .is_some_and(|t| t.is_disk_full())
            || c.downcast_ref::<ablate_data::DataError>()
                .is_some_and(|d| d.is_disk_full())
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(ablate_data::is_disk_full)
            || c.downcast_ref::<experiment::sweep::StageDiskFull>()
                .is_some()
    })
}
