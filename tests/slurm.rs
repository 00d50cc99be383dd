//! `ablate slurm`: the scripts it writes, what it submits (against a stand-in `sbatch` that records its
//! arguments), its errors, and, where Slurm is installed (CI installs it), a live single-node cluster
//! (scripts/slurm_local_cluster.sh): a sweep submitted as a job array of 2 shards, one shard preempted with
//! SIGTERM mid-run, requeued and resumed; the merged results equal those of a local `ablate run`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{IDS, cache, results, setup, text};

/// `ablate ARGS` with `path_dir` first on PATH (and the system's folders after it when `keep_path`).
fn ablate_with_path(args: &[&str], path_dir: &Path, keep_path: bool) -> Output {
    let path = if keep_path {
        format!(
            "{}:{}",
            path_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    } else {
        path_dir.display().to_string()
    };
    Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(args)
        .env("PATH", path)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap()
}

/// A stand-in `sbatch` in `bin`: appends its arguments to `bin/calls`, prints `reply` and exits with `code`.
fn fake_sbatch(bin: &Path, reply: &str, stderr: &str, code: i32) {
    std::fs::create_dir_all(bin).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{calls}'\nn=$(wc -l < '{calls}')\nprintf '{reply}' \"$n\"\nprintf '{stderr}' >&2\nexit {code}\n",
        calls = bin.join("calls").display()
    );
    let path = bin.join("sbatch");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn dry_run_writes_both_scripts_and_submits_nothing() {
    let (tmp, exp) = setup();
    let out = tmp.path().join("exp");
    let empty = tmp.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let o = ablate_with_path(
        &[
            "slurm",
            exp.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--array",
            "2",
            "--partition",
            "debug",
            "--time",
            "00:30:00",
            "--cpus",
            "2",
            "--grace",
            "45",
            "--dry-run",
        ],
        &empty,
        false,
    );
    assert!(o.status.success(), "{}", text(&o));
    let shards = std::fs::read_to_string(out.join("slurm/shards.sbatch")).unwrap();
    let report = std::fs::read_to_string(out.join("slurm/report.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-1",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:TERM@45",
        "#SBATCH --partition=debug",
        "#SBATCH --time=00:30:00",
        "#SBATCH --cpus-per-task=2",
    ] {
        assert!(shards.lines().any(|l| l == line), "{line}:\n{shards}");
    }
    assert!(shards.contains("--shard \"$SLURM_ARRAY_TASK_ID/2\""));
    assert!(report.contains(" report "), "{report}");
    assert!(text(&o).contains("--dependency=afterany:"), "{}", text(&o));
    // The folder is laid out, so `ablate status` works before any job starts.
    let status = ablate_with_path(&["status", out.to_str().unwrap()], &empty, false);
    assert!(status.status.success(), "{}", text(&status));
    assert_eq!(text(&status).matches("pending").count(), IDS.len() + 1);
}

#[test]
fn submits_the_array_then_the_report_after_it_and_status_shows_the_jobs() {
    let (tmp, exp) = setup();
    let out = tmp.path().join("exp");
    let bin = tmp.path().join("bin");
    fake_sbatch(&bin, "%s00;cluster\\n", "", 0);
    let o = ablate_with_path(
        &[
            "slurm",
            exp.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--array",
            "2",
        ],
        &bin,
        true,
    );
    assert!(o.status.success(), "{}", text(&o));
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("--parsable ") && calls[0].ends_with("shards.sbatch"));
    assert!(calls[1].contains("--dependency=afterany:100 ") && calls[1].ends_with("report.sbatch"));
    let jobs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("slurm/jobs.json")).unwrap())
            .unwrap();
    assert_eq!(jobs[0]["array_job"], "100");
    assert_eq!(jobs[0]["report_job"], "200");
    let status = text(&ablate_with_path(
        &["status", out.to_str().unwrap()],
        &bin,
        true,
    ));
    // Run p of the plan belongs to task p % 2.
    for (p, id) in IDS.iter().enumerate() {
        let line = status.lines().find(|l| l.starts_with(id)).unwrap();
        assert!(line.contains(&format!("100_{}", p % 2)), "{status}");
    }
    assert!(status.contains("report job 200"), "{status}");
}

#[test]
fn errors_name_what_is_wrong() {
    let (tmp, exp) = setup();
    let out = tmp.path().join("exp");
    let exp = exp.to_str().unwrap();
    let out = out.to_str().unwrap();
    let empty = tmp.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();

    let o = ablate_with_path(&["slurm", exp, "--out", out, "--array", "2"], &empty, false);
    assert!(!o.status.success());
    assert!(text(&o).contains("no `sbatch` on PATH"), "{}", text(&o));

    let o = ablate_with_path(&["slurm", exp, "--out", out, "--array", "5"], &empty, false);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--array 5 is larger than the sweep") && text(&o).contains("4 runs"),
        "{}",
        text(&o)
    );

    let bin = tmp.path().join("bin");
    fake_sbatch(
        &bin,
        "",
        "sbatch: error: invalid partition specified: nope\\n",
        1,
    );
    let o = ablate_with_path(
        &[
            "slurm",
            exp,
            "--out",
            out,
            "--array",
            "2",
            "--partition",
            "nope",
        ],
        &bin,
        true,
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("sbatch refused")
            && text(&o).contains("invalid partition specified: nope"),
        "{}",
        text(&o)
    );
}

// ---- live Slurm ----

/// A single-node cluster started by scripts/slurm_local_cluster.sh, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let o = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "cluster start failed:\n{}", text(&o));
        let env = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.trim_matches('\'').trim_matches('"').to_string(),
                )
            })
            .collect();
        Cluster {
            dir: dir.to_path_buf(),
            env,
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RAYON_NUM_THREADS", "1");
        c
    }

    fn output(&self, program: &str, args: &[&str]) -> String {
        let o = self.command(program).args(args).output().unwrap();
        assert!(o.status.success(), "{program} {args:?}:\n{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm_local_cluster.sh")
}

fn slurm_installed() -> bool {
    ["sbatch", "slurmctld", "slurmd", "munged"].iter().all(|p| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {p} || test -x /usr/sbin/{p}"))
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_sweep_on_a_live_slurm_survives_a_preempted_shard() {
    if !slurm_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Slurm is not installed; run `bash scripts/slurm_local_cluster.sh install` (CI does)"
        );
        eprintln!("skipped: Slurm is not installed (bash scripts/slurm_local_cluster.sh install)");
        return;
    }
    let (tmp, exp) = setup();
    let cluster = Cluster::start(&tmp.path().join("cluster"));
    let out = tmp.path().join("on-slurm");
    let submit = cluster
        .command(env!("CARGO_BIN_EXE_ablate"))
        .args([
            "slurm",
            exp.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--array",
            "2",
            "--cpus",
            "1",
            "--grace",
            "30",
            "--cache",
            &cache(),
        ])
        .output()
        .unwrap();
    assert!(submit.status.success(), "{}", text(&submit));
    let jobs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("slurm/jobs.json")).unwrap())
            .unwrap();
    let (array, report) = (
        jobs[0]["array_job"].as_str().unwrap().to_string(),
        jobs[0]["report_job"].as_str().unwrap().to_string(),
    );

    // Preempt task 0 once its first run (bert/seed-1) is pre-training.
    let metrics = out.join("runs/bert/seed-1/pretrain/metrics.csv");
    wait_for("task 0 to pre-train", Duration::from_secs(300), || {
        std::fs::read_to_string(&metrics).is_ok_and(|t| t.lines().count() > 1)
    });
    let task0 = format!("{array}_0");
    cluster.output("scancel", &["--signal=TERM", "--batch", &task0]);

    // Everything ends: both tasks (task 0 requeued and resumed) and then the report.
    wait_for("the jobs to end", Duration::from_secs(600), || {
        let q = cluster.output(
            "squeue",
            &["-h", "-o", "%i", "-j", &format!("{array},{report}")],
        );
        q.trim().is_empty()
    });
    let log0 = std::fs::read_to_string(out.join("slurm/shard-0.out")).unwrap();
    assert!(
        log0.contains("requeueing"),
        "task 0 was not preempted:\n{log0}"
    );
    assert!(
        log0.contains("restart 1"),
        "task 0 did not start again:\n{log0}"
    );
    assert!(
        out.join("report.md").is_file(),
        "no report:\n{}",
        std::fs::read_to_string(out.join("slurm/report.out")).unwrap_or_default()
    );
    for id in IDS {
        assert_eq!(common::record(&out, id)["status"], "completed", "{id}");
    }

    // The same experiment run locally gives the same results.
    let local = tmp.path().join("local");
    let o = common::ablate(&[
        "run",
        exp.to_str().unwrap(),
        "--out",
        local.to_str().unwrap(),
        "--cache",
        &cache(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(results(&out), results(&local));
}
