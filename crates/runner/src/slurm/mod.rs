//! `ablate slurm`: a sweep as a Slurm job array (one shard per task, requeued and resumed after a time limit or
//! a preemption) plus one report job that starts once every shard has ended.
//!
//! The scripts and the submitted job ids are kept in `DIR/slurm/` ([`SLURM_DIR`]): `shards.sbatch`,
//! `report.sbatch`, `jobs.json` ([`Submission`]s, latest last), and each task's output `shard-<task>.out`.

mod script;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::device::DeviceChoice;
use crate::experiment::sweep;
pub use script::{ScriptPlan, report_script, shard_script, shell_quote};

/// The folder of the Slurm files inside an experiment folder.
pub const SLURM_DIR: &str = "slurm";
/// The submissions made for an experiment folder.
pub const JOBS_JSON: &str = "jobs.json";

/// Arguments of `ablate slurm`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ablate slurm experiments/reference.toml --out results/reference --array 4 \\\n      \
    --partition cpu --time 12:00:00 --cpus 8 --mem 16G\n  ablate status results/reference    # runs and their Slurm job ids"
)]
pub struct SlurmArgs {
    /// The experiment file.
    pub experiment: PathBuf,
    /// The experiment folder, on a file system the compute nodes share [default: results/<name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of array tasks (shards); at most the number of runs.
    #[arg(long)]
    pub array: usize,
    /// Slurm partition (`sbatch --partition`).
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of each shard and of the report job (`sbatch --time`, e.g. 12:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// Generic resources of each shard (`sbatch --gres`, e.g. gpu:1).
    #[arg(long)]
    pub gres: Option<String>,
    /// CPUs of each shard (`sbatch --cpus-per-task`).
    #[arg(long)]
    pub cpus: Option<usize>,
    /// Memory of each shard (`sbatch --mem`, e.g. 16G).
    #[arg(long)]
    pub mem: Option<String>,
    /// Any other sbatch option for both jobs, repeatable (e.g. `--sbatch-option=--account=lab`).
    #[arg(long = "sbatch-option", allow_hyphen_values = true)]
    pub sbatch_options: Vec<String>,
    /// Seconds before the time limit at which a shard is told to stop (SIGTERM) and requeue itself.
    #[arg(long, default_value_t = 120)]
    pub grace: u32,
    /// Runs at a time inside each shard (`ablate run --jobs`).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// cpu, cuda or cuda:N (`ablate run --device`).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Folder of the tokenizer, shard and task-set cache (shared by the shards).
    #[arg(long, default_value = "data/cache")]
    pub cache: PathBuf,
    /// Write the scripts and print them with the sbatch commands, without submitting.
    #[arg(long)]
    pub dry_run: bool,
}

/// One `ablate slurm` submission, as recorded in `jobs.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The job array's id (task `i` is `<array_job>_<i>`).
    pub array_job: String,
    /// The report job's id.
    pub report_job: String,
    /// Number of array tasks; run `p` of the plan belongs to task `p % shards`.
    pub shards: usize,
    /// When it was submitted (unix seconds).
    pub submitted_unix: u64,
}

/// Runs `ablate slurm`.
pub fn run(args: SlurmArgs) -> anyhow::Result<()> {
    let (exp, runs) = crate::cmd_experiment::load(&args.experiment)?;
    if args.array == 0 {
        bail!("--array must be at least 1");
    }
    if args.array > runs.len() {
        bail!(
            "--array {} is larger than the sweep: {} has {} runs, so at most {} shards have work; \
             give --array {} or less",
            args.array,
            args.experiment.display(),
            runs.len(),
            runs.len(),
            runs.len()
        );
    }
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let dir = args.out.clone().unwrap_or_else(|| sweep::default_out(&exp));
    sweep::check_out(&dir)?;
    std::fs::create_dir_all(dir.join(SLURM_DIR))
        .with_context(|| format!("cannot create {}", dir.join(SLURM_DIR).display()))?;
    let plan = ScriptPlan {
        name: exp.name.clone(),
        exe: std::env::current_exe().context("cannot find the ablate executable")?,
        experiment: absolute(&args.experiment)?,
        dir: absolute(&dir)?,
        cache: absolute(&args.cache)?,
        shards: args.array,
        jobs: args.jobs,
        device: args.device.to_string(),
        grace: args.grace,
        options: common_options(&args),
        shard_options: shard_options(&args),
    };
    let slurm_dir = plan.dir.join(SLURM_DIR);
    let shards_path = slurm_dir.join("shards.sbatch");
    let report_path = slurm_dir.join("report.sbatch");
    ablate_data::write_bytes(&shards_path, shard_script(&plan).as_bytes())?;
    ablate_data::write_bytes(&report_path, report_script(&plan).as_bytes())?;
    let command_line = std::env::args()
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let all: Vec<usize> = (0..runs.len()).collect();
    sweep::lay_out(&exp, &runs, &all, &plan.dir, &command_line)?;

    if args.dry_run {
        for path in [&shards_path, &report_path] {
            println!("==> {} <==", path.display());
            print!("{}", std::fs::read_to_string(path)?);
        }
        println!("==> submit with <==");
        println!(
            "jobid=$(sbatch --parsable {})",
            shell_quote(&shards_path.to_string_lossy())
        );
        println!(
            "sbatch --parsable --dependency=afterany:${{jobid%%;*}} {}",
            shell_quote(&report_path.to_string_lossy())
        );
        return Ok(());
    }
    let array_job = sbatch(&[], &shards_path)?;
    let report_job = sbatch(&[format!("--dependency=afterany:{array_job}")], &report_path)
        .with_context(|| {
            format!("the shards were submitted as job {array_job}, but not the report job; cancel them with `scancel {array_job}` or run `ablate report {}` once they end", plan.dir.display())
        })?;
    let submission = Submission {
        array_job: array_job.clone(),
        report_job: report_job.clone(),
        shards: args.array,
        submitted_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let mut all_jobs = read_jobs(&plan.dir)?;
    all_jobs.push(submission);
    ablate_data::write_json(&slurm_dir.join(JOBS_JSON), &all_jobs)?;
    println!(
        "{}: {} runs in {} shards, job array {array_job} (tasks {array_job}_0..{array_job}_{}), \
         report job {report_job} after it\n  ablate status {}    # the runs and their jobs",
        exp.name,
        runs.len(),
        args.array,
        args.array - 1,
        shell_quote(&plan.dir.to_string_lossy())
    );
    Ok(())
}

fn common_options(args: &SlurmArgs) -> Vec<String> {
    let mut o = Vec::new();
    if let Some(p) = &args.partition {
        o.push(format!("--partition={p}"));
    }
    if let Some(t) = &args.time {
        o.push(format!("--time={t}"));
    }
    o.extend(args.sbatch_options.iter().cloned());
    o
}

fn shard_options(args: &SlurmArgs) -> Vec<String> {
    let mut o = Vec::new();
    if let Some(g) = &args.gres {
        o.push(format!("--gres={g}"));
    }
    if let Some(c) = args.cpus {
        o.push(format!("--cpus-per-task={c}"));
    }
    if let Some(m) = &args.mem {
        o.push(format!("--mem={m}"));
    }
    o
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    let abs = std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))?;
    Ok(abs.canonicalize().unwrap_or(abs))
}

/// Submits `script` with `sbatch --parsable`, returning the job id; sbatch's own message on a refusal.
fn sbatch(extra: &[String], script: &Path) -> anyhow::Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "no `sbatch` on PATH: `ablate slurm` submits with Slurm's sbatch, so run it on a node that \
                     can submit jobs (a login node), or give --dry-run to only write the scripts"
                )
            } else {
                anyhow::anyhow!("cannot start sbatch: {e}")
            }
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "sbatch refused {} ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // `--parsable` prints `id` or `id;cluster`.
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "sbatch accepted {} but printed no job id (stdout {:?}, stderr {:?})",
            script.display(),
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(id)
}

/// The submissions recorded in `DIR/slurm/jobs.json` (none when the folder was never submitted).
pub fn read_jobs(dir: &Path) -> anyhow::Result<Vec<Submission>> {
    let path = dir.join(SLURM_DIR).join(JOBS_JSON);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is damaged; delete it (it only records job ids) or resubmit",
            path.display()
        )
    })
}
