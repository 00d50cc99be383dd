//! The `ablate` command-line program.

fn main() -> std::process::ExitCode {
    ablate_runner::cli_main()
}
