//! Every command's output can go into a pipe that is already closed (`ablate ... | head -1` once `head`
//! has exited) without a panic: the program ends quietly, by SIGPIPE, as Unix tools do. `validate` prints
//! with `println!`, which panicked on the broken pipe before.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// SIGPIPE's number on Linux and the BSDs.
const SIGPIPE: i32 = 13;

fn ablate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ablate"))
}

/// Runs `args` with stdout a pipe whose read end is closed before the program starts.
fn into_closed_pipe(args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = ablate()
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp.toml");
    std::fs::write(
        &exp,
        "baseline = \"bert\"\nseeds = [1]\n[[variants]]\nname = \"bert\"\npreset = \"bert\"\n",
    )
    .unwrap();
    let exp = exp.to_str().unwrap();
    // (`status` of a real experiment folder: tests/experiment_run.rs)
    let mut commands: Vec<Vec<&str>> = vec![vec!["validate", exp], vec!["--help"]];
    for sub in [
        "validate",
        "run",
        "status",
        "report",
        "encode",
        "data",
        "train",
        "finetune",
        "eval",
        "attention",
        "bench",
        "slurm",
        "new",
        "completions",
        "export",
    ] {
        commands.push(vec![sub, "--help"]);
    }
    commands.push(vec!["completions", "bash"]);
    for args in &commands {
        let args = args.as_slice();
        let (status, stderr) = into_closed_pipe(args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            status.success() || status.signal() == Some(SIGPIPE),
            "{args:?}: {status:?}, {stderr}"
        );
    }
}
