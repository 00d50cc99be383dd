//! `ablate run`: lays out the experiment folder, takes its lock, runs the planned runs (N at a time), and
//! records each run's state as it goes. Finished runs are skipped, interrupted runs resume, a failed run is
//! recorded with its reason and the sweep goes on; Ctrl-C stops every running stage, and running the same
//! command again continues.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};

use super::plan::{PlannedRun, Shard};
use super::record::{RunRecord, RunState, StageFailure, files};
use super::spec::Experiment;
use super::stages::{Outcome, STOP, StageOptions, run_stage, stages};

/// Counts of a finished sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Runs of this process (its shard).
    pub planned: usize,
    /// Complete, now or before.
    pub completed: usize,
    /// Failed.
    pub failed: usize,
    /// Stopped by Ctrl-C.
    pub interrupted: usize,
}

/// The lock of an experiment folder, held while this process works on it.
pub struct FolderLock {
    _files: Vec<File>,
}

/// Takes the folder's lock: exclusive for a whole sweep; shared on the folder plus exclusive on the shard
/// for `--shard I/N` (shards run side by side; a whole sweep waits for none of them).
pub fn lock(dir: &Path, shard: Option<Shard>) -> anyhow::Result<FolderLock> {
    let path = dir.join(files::LOCK);
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(p)
            .with_context(|| format!("cannot open the lock file {}", p.display()))
    };
    let busy = |p: &Path| {
        anyhow::anyhow!(
            "another `ablate run` is working on {} (it holds {}); wait for it to finish or stop it, \
             then run this command again",
            dir.display(),
            p.display()
        )
    };
    let main = open(&path)?;
    let mut held = Vec::new();
    match shard {
        None => {
            main.try_lock().map_err(|_| busy(&path))?;
            held.push(main);
        }
        Some(s) => {
            main.try_lock_shared().map_err(|_| busy(&path))?;
            held.push(main);
            let p = dir.join(format!("{}.shard-{}-of-{}", files::LOCK, s.index, s.count));
            let f = open(&p)?;
            f.try_lock().map_err(|_| busy(&p))?;
            held.push(f);
        }
    }
    Ok(FolderLock { _files: held })
}

/// Whether some `ablate run` holds the folder's lock now.
pub fn is_locked(dir: &Path) -> bool {
    let Ok(f) = File::open(dir.join(files::LOCK)) else {
        return false;
    };
    let free = f.try_lock().is_ok();
    let _ = f.unlock();
    !free
}

/// Reads a run record, `None` when missing.
pub fn read_record(run_dir: &Path) -> anyhow::Result<Option<RunRecord>> {
    let path = run_dir.join(files::RUN_JSON);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let rec = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is damaged; delete it (the run's results stay) and run again",
            path.display()
        )
    })?;
    Ok(Some(rec))
}

/// Writes a run record atomically.
pub fn write_record(run_dir: &Path, rec: &RunRecord) -> anyhow::Result<()> {
    ablate_data::write_file(&run_dir.join(files::RUN_JSON), |w| {
        serde_json::to_writer_pretty(w, rec).context("cannot serialise a run record")
    })
}

/// Writes the experiment's files (experiment.toml, experiment.json, plan.json, commands.log) and every run
/// folder's spec.toml and first record.
pub fn lay_out(
    exp: &Experiment,
    runs: &[PlannedRun],
    mine: &[usize],
    dir: &Path,
    command_line: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let toml_path = dir.join(files::EXPERIMENT_TOML);
    if let Ok(old) = std::fs::read_to_string(&toml_path)
        && old != exp.text
    {
        println!(
            "note: {} differs from the experiment file; runs whose spec changed will refuse to resume",
            toml_path.display()
        );
    }
    ablate_data::write_bytes(&toml_path, exp.text.as_bytes())?;
    let info = super::plan::info(exp, runs);
    ablate_data::write_file(
        &dir.join(files::EXPERIMENT_JSON),
        |w| -> anyhow::Result<()> { Ok(serde_json::to_writer_pretty(w, &info)?) },
    )?;
    let plan: Vec<BTreeMap<&str, String>> = runs
        .iter()
        .map(|r| BTreeMap::from([("id", r.id.clone()), ("variant", r.variant.clone())]))
        .collect();
    ablate_data::write_file(&dir.join(PLAN_JSON), |w| -> anyhow::Result<()> {
        Ok(serde_json::to_writer_pretty(w, &plan)?)
    })?;
    let log = dir.join(files::COMMANDS_LOG);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    writeln!(
        f,
        "# unix time {secs}, ablate {} (commit {})\n{command_line}",
        env!("CARGO_PKG_VERSION"),
        env!("ABLATE_GIT_COMMIT")
    )?;
    for &i in mine {
        let run = &runs[i];
        let run_dir = dir.join(files::RUNS).join(&run.id);
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("cannot create {}", run_dir.display()))?;
        let spec_text = run.spec.to_toml_string()?;
        ablate_data::write_bytes(&run_dir.join(files::SPEC_TOML), spec_text.as_bytes())?;
        if read_record(&run_dir)?.is_none() {
            write_record(
                &run_dir,
                &RunRecord {
                    id: run.id.clone(),
                    variant: run.variant.clone(),
                    seed: run.seed,
                    grid: run.grid.clone(),
                    status: RunState::Pending,
                    failure: None,
                    stage_seconds: BTreeMap::new(),
                },
            )?;
        }
    }
    Ok(())
}

/// The list of every run of the experiment (id and variant), in plan order.
pub const PLAN_JSON: &str = "plan.json";

/// Runs the runs `mine` of `runs` with `jobs` at a time.
pub fn run_all(
    exp: &Experiment,
    runs: &[PlannedRun],
    mine: &[usize],
    dir: &Path,
    jobs: usize,
    opts: &StageOptions,
) -> anyhow::Result<SweepCounts> {
    let queue: Mutex<VecDeque<usize>> = Mutex::new(mine.iter().copied().collect());
    let counts = Mutex::new(SweepCounts {
        planned: mine.len(),
        ..Default::default()
    });
    let total = mine.len();
    let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    if STOP.load(Ordering::SeqCst) {
                        break;
                    }
                    // After an error (a full disk, a record that cannot be written) no new run starts.
                    if !errors.lock().expect("errors").is_empty() {
                        break;
                    }
                    let Some(i) = queue.lock().expect("queue").pop_front() else {
                        break;
                    };
                    let run_dir = dir.join(files::RUNS).join(&runs[i].id);
                    match one_run(exp, &runs[i], &run_dir, opts) {
                        Ok(state) => {
                            let mut c = counts.lock().expect("counts");
                            match state {
                                RunState::Completed => c.completed += 1,
                                RunState::Failed => c.failed += 1,
                                _ => c.interrupted += 1,
                            }
                            let done = c.completed + c.failed;
                            println!(
                                "[{done}/{total}] {}: {}",
                                runs[i].id,
                                match state {
                                    RunState::Completed => "complete",
                                    RunState::Failed => "FAILED (see run.json and log.txt)",
                                    _ => "interrupted",
                                }
                            );
                        }
                        Err(e) => errors.lock().expect("errors").push(e),
                    }
                }
            });
        }
    });
    if let Some(e) = errors.into_inner().expect("errors").into_iter().next() {
        return Err(e);
    }
    Ok(counts.into_inner().expect("counts"))
}

/// A stage that stopped because the disk is full: the sweep stops with this error (exit code
/// [`crate::EXIT_DISK_FULL`]), since every later write would fail too.
#[derive(Debug)]
pub struct StageDiskFull {
    /// The run folder.
    pub run: PathBuf,
    /// The stage.
    pub stage: String,
    /// The stage's own message, when it reached the log.
    pub reason: String,
}

impl std::fmt::Display for StageDiskFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} stopped: ", self.run.display(), self.stage)?;
        if ablate_data::tells_disk_full(&self.reason) {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{} ({})", ablate_data::DISK_FULL, self.reason)
        }
    }
}

impl std::error::Error for StageDiskFull {}

/// Runs every stage of one run, keeping its record up to date.
fn one_run(
    exp: &Experiment,
    run: &PlannedRun,
    run_dir: &Path,
    opts: &StageOptions,
) -> anyhow::Result<RunState> {
    let mut rec = read_record(run_dir)?.context("the run record was written first")?;
    rec.failure = None;
    for stage in stages(exp) {
        let name = stage.name();
        if !super::stages::is_complete(&stage, run_dir) {
            rec.status = RunState::Running;
            write_record(run_dir, &rec)?;
            println!("{}: {name}", run.id);
        }
        match run_stage(exp, &stage, run_dir, run.seed, opts)? {
            Outcome::Skipped => {}
            Outcome::Done(secs) => {
                rec.stage_seconds.insert(name, secs);
            }
            Outcome::Interrupted => {
                rec.status = RunState::Running;
                write_record(run_dir, &rec)?;
                return Ok(RunState::Running);
            }
            Outcome::Failed(reason) => {
                rec.status = RunState::Failed;
                rec.failure = Some(StageFailure {
                    stage: name,
                    reason,
                });
                write_record(run_dir, &rec)?;
                return Ok(RunState::Failed);
            }
            Outcome::DiskFull(reason) => {
                // Every later write would fail too: the sweep stops here. The record may not fit either.
                rec.status = RunState::Failed;
                rec.failure = Some(StageFailure {
                    stage: name.clone(),
                    reason: reason.clone(),
                });
                let _ = write_record(run_dir, &rec);
                return Err(StageDiskFull {
                    run: run_dir.to_path_buf(),
                    stage: name,
                    reason,
                }
                .into());
            }
        }
    }
    rec.status = RunState::Completed;
    write_record(run_dir, &rec)?;
    Ok(RunState::Completed)
}

/// Installs the handler of Ctrl-C, SIGTERM and SIGHUP (once per process): the first stops the sweep cleanly
/// (running stages are ended and their runs marked interrupted, to resume on the next `ablate run`), a second
/// exits at once.
pub fn handle_ctrl_c() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                eprintln!("\nstopping now");
                std::process::exit(130);
            }
            eprintln!("\nstopping: running stages end now and resume on the next `ablate run`");
        });
    });
}

/// The positions in `runs` that `shard` owns (all without a shard).
pub fn select(runs: &[PlannedRun], shard: Option<Shard>) -> Vec<usize> {
    (0..runs.len())
        .filter(|&i| shard.is_none_or(|s| s.owns(i)))
        .collect()
}

/// The default experiment folder: `results/<name>`.
pub fn default_out(exp: &Experiment) -> PathBuf {
    PathBuf::from("results").join(&exp.name)
}

/// Fails when `dir` holds something other than an experiment folder.
pub fn check_out(dir: &Path) -> anyhow::Result<()> {
    if dir.is_file() {
        bail!("--out {} is a file; give a folder", dir.display());
    }
    if dir.is_dir()
        && std::fs::read_dir(dir)?.next().is_some()
        && !dir.join(files::EXPERIMENT_TOML).is_file()
    {
        bail!(
            "--out {} is a non-empty folder that holds no experiment; give a new or an experiment folder",
            dir.display()
        );
    }
    Ok(())
}
