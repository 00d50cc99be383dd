//! The job scripts `ablate slurm` writes: one job array over the sweep's shards, and one report job.
//!
//! A shard runs `ablate run --shard $SLURM_ARRAY_TASK_ID/N --no-report` in the background and waits for it.
//! Slurm sends the batch shell SIGTERM `grace` seconds before the time limit (`--signal=B:TERM@grace`), and
//! `scancel --signal=TERM` or a preemption does the same: the script passes it on, `ablate run` stops its stages
//! cleanly (runs marked interrupted, checkpoints kept), and the script requeues its own array task, which
//! resumes where it stopped when it starts again.

use std::fmt::Write;
use std::path::PathBuf;

/// What the scripts run and where.
#[derive(Debug, Clone)]
pub struct ScriptPlan {
    /// The experiment's name (job names).
    pub name: String,
    /// The `ablate` executable (absolute; must be reachable from the compute nodes).
    pub exe: PathBuf,
    /// The experiment file (absolute).
    pub experiment: PathBuf,
    /// The experiment folder (absolute, on a file system shared with the compute nodes).
    pub dir: PathBuf,
    /// The data cache (absolute).
    pub cache: PathBuf,
    /// Number of array tasks (shards).
    pub shards: usize,
    /// `ablate run --jobs` inside each shard.
    pub jobs: usize,
    /// `ablate run --device`.
    pub device: String,
    /// Seconds between the warning SIGTERM and the time limit.
    pub grace: u32,
    /// `#SBATCH` options of both jobs (`--partition=P`, `--time=T`, ...), in order.
    pub options: Vec<String>,
    /// `#SBATCH` options of the shard jobs only (`--gres`, `--cpus-per-task`, `--mem`).
    pub shard_options: Vec<String>,
}

/// Quotes `s` for a POSIX shell (single quotes unless it is plainly safe).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+%@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn quoted(p: &std::path::Path) -> String {
    shell_quote(&p.to_string_lossy())
}

/// The job array script: one task per shard.
pub fn shard_script(p: &ScriptPlan) -> String {
    let mut s = String::new();
    let slurm_dir = p.dir.join(super::SLURM_DIR);
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(
        s,
        "# Written by `ablate slurm`: the {} shards of experiment {} (one array task each).",
        p.shards, p.name
    );
    let _ = writeln!(s, "#SBATCH --job-name=ablate-{}", p.name);
    let _ = writeln!(s, "#SBATCH --array=0-{}", p.shards - 1);
    let _ = writeln!(s, "#SBATCH --requeue");
    let _ = writeln!(s, "#SBATCH --signal=B:TERM@{}", p.grace);
    let _ = writeln!(s, "#SBATCH --open-mode=append");
    let _ = writeln!(
        s,
        "#SBATCH --output={}",
        slurm_dir.join("shard-%a.out").display()
    );
    for o in p.options.iter().chain(&p.shard_options) {
        let _ = writeln!(s, "#SBATCH {o}");
    }
    let shard = format!("\"$SLURM_ARRAY_TASK_ID/{}\"", p.shards);
    let _ = write!(
        s,
        r#"set -u
echo "== shard ${{SLURM_ARRAY_TASK_ID}}/{n}: job ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} (id ${{SLURM_JOB_ID}}), restart ${{SLURM_RESTART_COUNT:-0}}, host $(hostname), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
{exe} run {exp} --out {dir} --shard {shard} --jobs {jobs} --device {device} --cache {cache} --no-report &
child=$!
stopped=0
# Time limit (--signal), scancel --signal=TERM or preemption: stop the sweep cleanly, then requeue this task.
trap 'stopped=1; kill -TERM "$child" 2>/dev/null' TERM
wait "$child"
rc=$?
while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    rc=$?
done
if [ "$stopped" = 1 ]; then
    echo "== stopped by SIGTERM; requeueing ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} to resume"
    scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}" || echo "== scontrol requeue failed; resubmit with the same command to resume"
fi
exit "$rc"
"#,
        n = p.shards,
        exe = quoted(&p.exe),
        exp = quoted(&p.experiment),
        dir = quoted(&p.dir),
        jobs = p.jobs,
        device = shell_quote(&p.device),
        cache = quoted(&p.cache),
    );
    s
}

/// The report job: `ablate report DIR`, submitted to start once every shard has ended.
pub fn report_script(p: &ScriptPlan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(
        s,
        "# Written by `ablate slurm`: the report of experiment {}, after its shards.",
        p.name
    );
    let _ = writeln!(s, "#SBATCH --job-name=ablate-{}-report", p.name);
    let _ = writeln!(s, "#SBATCH --open-mode=append");
    let _ = writeln!(
        s,
        "#SBATCH --output={}",
        p.dir.join(super::SLURM_DIR).join("report.out").display()
    );
    for o in &p.options {
        let _ = writeln!(s, "#SBATCH {o}");
    }
    let _ = writeln!(s, "exec {} report {}", quoted(&p.exe), quoted(&p.dir));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> ScriptPlan {
        ScriptPlan {
            name: "quick".into(),
            exe: "/opt/ablate/bin/ablate".into(),
            experiment: "/home/a b/quick.toml".into(),
            dir: "/scratch/results/quick".into(),
            cache: "/scratch/cache".into(),
            shards: 3,
            jobs: 2,
            device: "cuda".into(),
            grace: 90,
            options: vec!["--partition=gpu".into(), "--time=01:00:00".into()],
            shard_options: vec!["--gres=gpu:1".into()],
        }
    }

    #[test]
    fn shard_script_runs_one_shard_per_task_and_requeues_on_term() {
        let s = shard_script(&plan());
        assert!(s.starts_with("#!/bin/bash\n"));
        for line in [
            "#SBATCH --array=0-2",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:TERM@90",
            "#SBATCH --output=/scratch/results/quick/slurm/shard-%a.out",
            "#SBATCH --partition=gpu",
            "#SBATCH --gres=gpu:1",
        ] {
            assert!(s.lines().any(|l| l == line), "missing {line:?} in\n{s}");
        }
        assert!(s.contains(
            "/opt/ablate/bin/ablate run '/home/a b/quick.toml' --out /scratch/results/quick \
             --shard \"$SLURM_ARRAY_TASK_ID/3\" --jobs 2 --device cuda --cache /scratch/cache --no-report &"
        ));
        assert!(s.contains("scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\""));
        // Every #SBATCH line comes before the first command, or sbatch ignores it.
        let first_command = s.lines().position(|l| l.starts_with("set -u")).unwrap();
        assert!(
            s.lines()
                .skip(first_command)
                .all(|l| !l.starts_with("#SBATCH"))
        );
    }

    #[test]
    fn report_script_has_no_shard_options() {
        let s = report_script(&plan());
        assert!(s.contains("exec /opt/ablate/bin/ablate report /scratch/results/quick\n"));
        assert!(s.contains("#SBATCH --partition=gpu"));
        assert!(!s.contains("--gres"));
        assert!(!s.contains("--array"));
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a/b-c_d.toml"), "a/b-c_d.toml");
    }
}
