//! The stages of one run of a sweep, each an `ablate` child process (so every run is reproduced exactly,
//! as on the command line): pre-training, then each fine-tuning task, the length evaluation and the
//! attention map. A stage whose output is complete is skipped, so an interrupted run resumes where it stopped.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ablate_train::{FinetuneSummary, PretrainSummary, RunStatus};
use anyhow::Context;

use super::record::files;
use super::spec::Experiment;
use crate::device::DeviceChoice;

/// Set by Ctrl-C: running stages are stopped and no new one starts.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// How the stages of a sweep are run.
#[derive(Debug, Clone)]
pub struct StageOptions {
    /// The `ablate` executable.
    pub exe: PathBuf,
    /// The device of every stage.
    pub device: DeviceChoice,
    /// The data cache.
    pub cache: PathBuf,
    /// Compute threads per child (None: the backend's default).
    pub threads: Option<usize>,
}

/// One stage of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Pre-training.
    Pretrain,
    /// Fine-tuning on one task.
    Finetune(ablate_train::FinetuneTask),
    /// Length extrapolation.
    Length,
    /// Attention map.
    Attention,
}

impl Stage {
    /// The stage's name in run records: `pretrain`, `finetune:<task>`, `length`, `attention`.
    pub fn name(&self) -> String {
        match self {
            Stage::Pretrain => "pretrain".into(),
            Stage::Finetune(t) => format!("finetune:{}", t.name()),
            Stage::Length => "length".into(),
            Stage::Attention => "attention".into(),
        }
    }
}

/// The stages the experiment asks of every run, in order.
pub fn stages(exp: &Experiment) -> Vec<Stage> {
    let mut out = vec![Stage::Pretrain];
    if let Some(f) = &exp.finetune {
        out.extend(f.tasks.iter().map(|&t| Stage::Finetune(t)));
    }
    if exp.length.is_some() {
        out.push(Stage::Length);
    }
    if exp.attention.is_some() {
        out.push(Stage::Attention);
    }
    out
}

/// How a stage ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished now, in this many seconds.
    Done(f64),
    /// Already complete before.
    Skipped,
    /// Failed, with the reason.
    Failed(String),
    /// Stopped by Ctrl-C; resumes on the next `ablate run`.
    Interrupted,
    /// Failed because the disk is full (exit code [`crate::EXIT_DISK_FULL`]), with the reason.
    DiskFull(String),
}

/// Whether `stage`'s output in the run folder `run` is complete.
pub fn is_complete(stage: &Stage, run: &Path) -> bool {
    match stage {
        Stage::Pretrain => read_json::<PretrainSummary>(
            &run.join(files::PRETRAIN)
                .join(ablate_train::summary::SUMMARY_FILE),
        )
        .is_some_and(|s| s.status == RunStatus::Completed),
        Stage::Finetune(t) => read_json::<FinetuneSummary>(
            &run.join(files::FINETUNE)
                .join(t.name())
                .join(ablate_train::summary::SUMMARY_FILE),
        )
        .is_some_and(|s| s.status == RunStatus::Completed),
        Stage::Length => run.join(files::LENGTH_JSON).is_file(),
        Stage::Attention => run.join(files::ATTENTION_JSON).is_file(),
    }
}

fn read_json<T: for<'de> serde::Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The command line of `stage` for the run folder `run`.
fn command(exp: &Experiment, stage: &Stage, run: &Path, seed: u64, opts: &StageOptions) -> Command {
    let mut c = Command::new(&opts.exe);
    let pretrain = run.join(files::PRETRAIN);
    let device = opts.device.to_string();
    match stage {
        Stage::Pretrain => {
            c.arg("train")
                .arg(run.join(files::SPEC_TOML))
                .arg("--out")
                .arg(&pretrain)
                .args(["--device", &device, "--no-progress-bar", "--cache"])
                .arg(&opts.cache);
        }
        Stage::Finetune(task) => {
            let f = exp
                .finetune
                .as_ref()
                .expect("a finetune stage has a section");
            c.args(["finetune", "--task", task.name(), "--from"])
                .arg(&pretrain)
                .arg("--out")
                .arg(run.join(files::FINETUNE).join(task.name()))
                .args(["--device", &device, "--no-progress-bar", "--cache"])
                .arg(&opts.cache)
                .args(["--seed", &seed.to_string()])
                .args(["--max-train-examples", &f.max_train_examples.to_string()]);
            let optional = [
                ("--epochs", f.epochs.map(|v| v.to_string())),
                ("--batch-size", f.batch_size.map(|v| v.to_string())),
                ("--max-len", f.max_len.map(|v| v.to_string())),
                ("--lr", f.lr.map(|v| v.to_string())),
                ("--warmup-steps", f.warmup_steps.map(|v| v.to_string())),
            ];
            for (flag, value) in optional {
                if let Some(v) = value {
                    c.args([flag, &v]);
                }
            }
            if f.sift {
                c.arg("--sift");
            }
        }
        Stage::Length => {
            let l = exp.length.as_ref().expect("a length stage has a section");
            let lengths: Vec<String> = l.lengths.iter().map(|n| n.to_string()).collect();
            c.args(["eval", "--from"])
                .arg(&pretrain)
                .args(["--split", l.split.name(), "--lengths", &lengths.join(",")])
                .arg("--json")
                .arg(run.join(files::LENGTH_JSON))
                .args(["--device", &device, "--cache"])
                .arg(&opts.cache);
            if let Some(m) = l.max_rows {
                c.args(["--max-rows", &m.to_string()]);
            }
        }
        Stage::Attention => {
            let a = exp
                .attention
                .as_ref()
                .expect("an attention stage has a section");
            c.args(["attention", "--from"])
                .arg(&pretrain)
                .args(["--text", &a.sentence, "--device", &device, "--json"])
                .arg(run.join(files::ATTENTION_JSON));
        }
    }
    if let Some(n) = opts.threads {
        c.env("RAYON_NUM_THREADS", n.to_string());
    }
    die_with_parent(&mut c);
    c
}

/// Makes the child stage die when the sweep does, even by SIGKILL, so no orphan trains on into a run folder
/// (Linux: the parent-death signal; the child also exits at once if the sweep died before it was set).
#[cfg(target_os = "linux")]
fn die_with_parent(c: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe functions
    // (prctl, getppid).
    unsafe {
        c.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::other(
                    "the sweep ended before this stage started",
                ));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

/// Runs `stage` of the run folder `run` unless it is complete; its output goes to `run/log.txt`.
pub fn run_stage(
    exp: &Experiment,
    stage: &Stage,
    run: &Path,
    seed: u64,
    opts: &StageOptions,
) -> anyhow::Result<Outcome> {
    if is_complete(stage, run) {
        return Ok(Outcome::Skipped);
    }
    if STOP.load(Ordering::SeqCst) {
        return Ok(Outcome::Interrupted);
    }
    let log_path = run.join("log.txt");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let start = Instant::now();
    let mut cmd = command(exp, stage, run, seed, opts);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", opts.exe.display()))?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if STOP.load(Ordering::SeqCst) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Outcome::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() && (STOP.load(Ordering::SeqCst) || killed_by_a_stop_signal(&status)) {
        return Ok(Outcome::Interrupted);
    }
    if status.success() && is_complete(stage, run) {
        return Ok(Outcome::Done(start.elapsed().as_secs_f64()));
    }
    let reason = failure_reason(&log_path, status);
    if status.code() == Some(crate::EXIT_DISK_FULL.into()) {
        return Ok(Outcome::DiskFull(reason));
    }
    Ok(Outcome::Failed(reason))
}

/// Whether the child died of SIGINT, SIGTERM or SIGHUP (Ctrl-C reaches the whole process group, and Slurm
/// signals every process of a job, sometimes before our handler has run).
fn killed_by_a_stop_signal(status: &std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        matches!(
            status.signal(),
            Some(libc::SIGINT | libc::SIGTERM | libc::SIGHUP)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        false
    }
}

/// The last `error:` line of the log, or the exit status.
fn failure_reason(log: &Path, status: std::process::ExitStatus) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let error = text
        .lines()
        .rev()
        .find(|l| l.starts_with("error:") || l.contains(" ERROR ") || l.contains("panicked"));
    match error {
        Some(line) => line.trim_start_matches("error:").trim().to_string(),
        None if status.success() => {
            "the command ended without writing its results; see log.txt".to_string()
        }
        None => format!("{status}; see log.txt"),
    }
}
