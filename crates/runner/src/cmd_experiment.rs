//! `ablate validate`, `ablate run`, `ablate status` and `ablate report`: the experiment commands.

use std::path::{Path, PathBuf};

use ablate_train::metrics::{PretrainRow, RowKind, read_rows};
use anyhow::{Context, bail};
use clap::Args;

use crate::device::DeviceChoice;
use crate::experiment::plan::{self, PlannedRun, Shard};
use crate::experiment::record::{RunState, files};
use crate::experiment::spec::{self, Experiment};
use crate::experiment::stages::{STOP, StageOptions};
use crate::experiment::sweep;
use crate::slurm::{self, shell_quote};

/// Arguments of `ablate validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The experiment file.
    pub experiment: PathBuf,
}

/// Arguments of `ablate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment file.
    pub experiment: PathBuf,
    /// The experiment folder [default: results/<name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at a time (each a child process; the cores are shared between them).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Run only the runs of shard I of N (0-based), e.g. `--shard $SLURM_ARRAY_TASK_ID/4`.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Folder of the tokenizer, shard and task-set cache.
    #[arg(long, default_value = "data/cache")]
    pub cache: PathBuf,
    /// Do not write the report at the end (e.g. in array jobs; run `ablate report` once all are done).
    #[arg(long)]
    pub no_report: bool,
}

/// Arguments of `ablate status` and `ablate report`.
#[derive(Debug, Args)]
pub struct FolderArgs {
    /// The experiment folder (`ablate run --out`).
    pub dir: PathBuf,
}

/// Reads, checks and expands an experiment file, with every problem in the error.
pub fn load(path: &Path) -> anyhow::Result<(Experiment, Vec<PlannedRun>)> {
    let exp = spec::parse(path)?;
    let runs = plan::expand(&exp)?;
    Ok((exp, runs))
}

/// Runs `ablate validate`.
pub fn validate(args: ValidateArgs) -> anyhow::Result<()> {
    let (exp, runs) = load(&args.experiment)?;
    let points = runs.len() / exp.seeds.len().max(1) / exp.variants.len().max(1);
    println!(
        "{}: valid. {} variants x {} grid point{} x {} seeds = {} runs; stages per run: {}",
        args.experiment.display(),
        exp.variants.len(),
        points,
        if points == 1 { "" } else { "s" },
        exp.seeds.len(),
        runs.len(),
        crate::experiment::stages::stages(&exp)
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Runs `ablate run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let (exp, runs) = load(&args.experiment)?;
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let dir = args.out.clone().unwrap_or_else(|| sweep::default_out(&exp));
    sweep::check_out(&dir)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _lock = sweep::lock(&dir, args.shard)?;
    let mine = sweep::select(&runs, args.shard);
    let command_line = std::env::args()
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    sweep::lay_out(&exp, &runs, &mine, &dir, &command_line)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let opts = StageOptions {
        exe: std::env::current_exe().context("cannot find the ablate executable")?,
        device: args.device,
        cache: args.cache.clone(),
        threads: (args.jobs > 1 && std::env::var_os("RAYON_NUM_THREADS").is_none())
            .then(|| (cores / args.jobs).max(1)),
    };
    println!(
        "{}: {} runs{} into {} ({} at a time)",
        exp.name,
        mine.len(),
        args.shard
            .map(|s| format!(" (shard {}/{} of {})", s.index, s.count, runs.len()))
            .unwrap_or_default(),
        dir.display(),
        args.jobs
    );
    sweep::handle_ctrl_c();
    let start = std::time::Instant::now();
    let counts = sweep::run_all(&exp, &runs, &mine, &dir, args.jobs, &opts)?;
    println!(
        "{} complete, {} failed, {} interrupted, in {}",
        counts.completed,
        counts.failed,
        counts.interrupted,
        ablate_train::progress::format_secs(start.elapsed().as_secs_f64())
    );
    if STOP.load(std::sync::atomic::Ordering::SeqCst) {
        bail!(
            "interrupted; run the same command again to continue where it stopped:\n  {command_line}"
        );
    }
    if !args.no_report {
        let written = crate::report::write_report(&dir)?;
        println!("report: {}", written.report_md.display());
    }
    if counts.failed > 0 {
        bail!(
            "{} run(s) failed; `ablate status {}` lists them with their reasons",
            counts.failed,
            dir.display()
        );
    }
    Ok(())
}

/// Runs `ablate status`.
pub fn status(args: FolderArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    let plan_path = dir.join(sweep::PLAN_JSON);
    if !plan_path.is_file() {
        bail!(
            "{} is not an experiment folder (no {}); give the --out folder of `ablate run`",
            dir.display(),
            sweep::PLAN_JSON
        );
    }
    let text = std::fs::read_to_string(&plan_path)
        .with_context(|| format!("cannot read {}", plan_path.display()))?;
    let plan: Vec<std::collections::BTreeMap<String, String>> = serde_json::from_str(&text)
        .with_context(|| format!("{} is damaged", plan_path.display()))?;
    let locked = sweep::is_locked(dir);
    let jobs = slurm::read_jobs(dir)?;
    let latest = jobs.last();
    let width = plan.iter().map(|r| r["id"].len()).max().unwrap_or(2).max(2);
    let job_width = latest.map_or(0, |s| s.array_job.len() + 1 + s.shards.to_string().len());
    let job_of = |position: usize| {
        latest.map_or(String::new(), |s| {
            format!(
                "{:job_width$}  ",
                format!("{}_{}", s.array_job, position % s.shards)
            )
        })
    };
    let job_header = if latest.is_some() {
        format!("{:job_width$}  ", "slurm")
    } else {
        String::new()
    };
    println!("{:width$}  {job_header}{:11}  detail", "run", "state");
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    for (position, entry) in plan.iter().enumerate() {
        let id = &entry["id"];
        let run_dir = dir.join(files::RUNS).join(id);
        let rec = sweep::read_record(&run_dir)?;
        let (state, detail) = match &rec {
            None => ("pending", String::new()),
            Some(r) => match r.status {
                RunState::Pending => ("pending", String::new()),
                RunState::Completed => ("complete", final_loss(&run_dir)),
                RunState::Failed => (
                    "failed",
                    r.failure
                        .as_ref()
                        .map(|f| format!("{}: {}", f.stage, f.reason))
                        .unwrap_or_default(),
                ),
                RunState::Running => (
                    if locked { "running" } else { "interrupted" },
                    progress(&run_dir),
                ),
            },
        };
        *tally.entry(state).or_default() += 1;
        println!("{id:width$}  {}{state:11}  {detail}", job_of(position));
    }
    let summary: Vec<String> = tally.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{} runs: {}", plan.len(), summary.join(", "));
    if let Some(s) = latest {
        println!(
            "slurm: job array {} ({} shards), report job {}; `squeue -j {},{}` shows their state{}",
            s.array_job,
            s.shards,
            s.report_job,
            s.array_job,
            s.report_job,
            if jobs.len() > 1 {
                format!(
                    " ({} earlier submissions in {}/{})",
                    jobs.len() - 1,
                    slurm::SLURM_DIR,
                    slurm::JOBS_JSON
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn metrics(run_dir: &Path) -> Vec<PretrainRow> {
    let path = run_dir
        .join(files::PRETRAIN)
        .join(ablate_train::metrics::METRICS_FILE);
    if !path.is_file() {
        return Vec::new();
    }
    read_rows(&path).unwrap_or_default()
}

fn final_loss(run_dir: &Path) -> String {
    metrics(run_dir)
        .iter()
        .rev()
        .find(|r| r.kind == RowKind::Eval)
        .and_then(|r| r.eval_loss)
        .map(|l| format!("valid MLM loss {l:.4}"))
        .unwrap_or_default()
}

fn progress(run_dir: &Path) -> String {
    let spec_steps = std::fs::read_to_string(run_dir.join(files::SPEC_TOML))
        .ok()
        .and_then(|t| ablate_train::RunSpec::from_toml_str(&t).ok())
        .map(|s| s.steps);
    match (metrics(run_dir).last().map(|r| r.step), spec_steps) {
        (Some(step), Some(total)) => format!("pre-training step {step}/{total}"),
        _ => String::new(),
    }
}

/// Runs `ablate report`.
pub fn report(args: FolderArgs) -> anyhow::Result<()> {
    if !args.dir.join(files::EXPERIMENT_JSON).is_file() {
        bail!(
            "{} is not an experiment folder (no {}); give the --out folder of `ablate run`",
            args.dir.display(),
            files::EXPERIMENT_JSON
        );
    }
    let written = crate::report::write_report(&args.dir)?;
    println!("report: {}", written.report_md.display());
    Ok(())
}
