//! A sweep stopped by SIGKILL or by SIGTERM (what Slurm sends at a time limit or on preemption) leaves no
//! stage running: its child dies with it (Linux's parent-death signal) or is ended by it, the runs are left
//! resumable (SIGTERM marks them interrupted, not running), and the same command then finishes every run. A
//! second trainer on a folder being trained into is refused with the holder's pid.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{IDS, TINY, ablate, alive, cache, children_of, record, text};

fn start(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the sweep runs a stage in a child process; returns the live children.
fn running_stage(sweep: &mut Child) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let kids: Vec<u32> = children_of(sweep.id())
            .into_iter()
            .filter(|&p| alive(p))
            .collect();
        if !kids.is_empty() {
            return kids;
        }
        assert!(sweep.try_wait().unwrap().is_none(), "the sweep ended early");
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no stage started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: &str) {
    let s = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(s.success());
}

fn assert_gone(kids: &[u32], what: &str) {
    std::thread::sleep(Duration::from_secs(2));
    let left: Vec<u32> = kids.iter().copied().filter(|&p| alive(p)).collect();
    assert!(
        left.is_empty(),
        "{what}: stages {left:?} outlived the sweep by 2 s"
    );
}

fn states(out: &Path) -> Vec<String> {
    IDS.iter()
        .filter(|id| out.join("runs").join(id).join("run.json").is_file())
        .map(|id| record(out, id)["status"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn sigkill_or_sigterm_of_the_sweep_leaves_no_stage_running_and_a_rerun_finishes() {
    // Pre-training long enough (several seconds) that a stage left running would still be running 2 s later.
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("long.toml");
    let long = TINY
        .replace("steps = 12", "steps = 600")
        .replace("eval_every = 6", "eval_every = 300")
        .replace("checkpoint_every = 6", "checkpoint_every = 300")
        .replace("log_every = 3", "log_every = 50");
    assert_ne!(long, TINY);
    std::fs::write(&exp, long).unwrap();
    let out = tmp.path().join("out");
    let args: Vec<String> = vec![
        "run".into(),
        exp.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--cache".into(),
        cache(),
        "--no-report".into(),
    ];

    // SIGKILL the sweep alone (not its process group) while a stage runs: the stage dies with it.
    let mut sweep = start(&args);
    let kids = running_stage(&mut sweep);
    // The first stage pre-trains bert/seed-1; a second trainer on its folder is refused, naming the holder.
    let run = out.join("runs/bert/seed-1");
    let lock = run.join("pretrain/.lock");
    let t0 = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid")) {
        assert!(t0.elapsed() < Duration::from_secs(120), "no lock written");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = ablate(&[
        "train",
        run.join("spec.toml").to_str().unwrap(),
        "--out",
        run.join("pretrain").to_str().unwrap(),
        "--cache",
        &cache(),
    ]);
    assert!(!second.status.success());
    assert!(
        text(&second).contains(&format!("pid {}", kids[0])),
        "{}",
        text(&second)
    );
    signal(sweep.id(), "-KILL");
    sweep.wait().unwrap();
    assert_gone(&kids, "SIGKILL");

    // SIGTERM while a stage runs (the rerun resumes at once: nothing holds the folder): the sweep stops
    // cleanly, ends its stage, and leaves its run resumable.
    let mut sweep = start(&args);
    let kids = running_stage(&mut sweep);
    signal(sweep.id(), "-TERM");
    let status = sweep.wait().unwrap();
    assert!(!status.success(), "a stopped sweep must not report success");
    assert_gone(&kids, "SIGTERM");
    // The record of the stopped run still says it started; with no sweep holding the folder, `ablate status`
    // calls it interrupted (resumable), never running.
    assert!(states(&out).iter().any(|s| s == "running"));
    let s = ablate(&["status", out.to_str().unwrap()]);
    let listing = text(&s);
    assert!(listing.contains("interrupted"), "{listing}");
    assert!(!listing.contains(" running "), "{listing}");

    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = ablate(&args);
    assert!(o.status.success(), "{}", text(&o));
    for id in IDS {
        assert_eq!(record(&out, id)["status"], "completed", "{id}");
    }
}
