//! A sweep SIGKILLed at random moments (the whole process group: the sweep and whatever stage it runs) and
//! started again each time ends with the same results as a sweep never interrupted: summary.csv and every
//! run's metrics.csv equal byte for byte once the timing columns (tokens/s, elapsed and wall time) are
//! dropped. Kills are aimed in turn at pre-training, fine-tuning, evaluation, the attention map and the sweep's
//! own work (planning, the report); at least ten land.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TINY, ablate, assert_same_results, cache, children_of, results, text};

/// The subcommand of the sweep's running stage (`train`, `finetune`, `eval`, `attention`), or `run` when the
/// sweep itself is working (planning, the report).
fn stage_of(sweep: u32) -> String {
    for pid in children_of(sweep) {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if let Some(sub) = cmd.split(|&b| b == 0).nth(1) {
            return String::from_utf8_lossy(sub).into_owned();
        }
    }
    "run".to_string()
}

#[test]
fn a_sweep_killed_anywhere_ends_with_the_results_of_an_uninterrupted_one() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("tiny.toml");
    // Long enough stages (60 steps, 12 fine-tuning steps) that a kill aimed at one lands in it.
    let longer = TINY
        .replace("steps = 12", "steps = 60")
        .replace("checkpoint_every = 6", "checkpoint_every = 10")
        .replace("eval_every = 6", "eval_every = 30")
        .replace("max_train_examples = 48", "max_train_examples = 192");
    assert_ne!(longer, TINY);
    std::fs::write(&exp, longer).unwrap();
    let run_args = |out: &Path| -> Vec<String> {
        vec![
            "run".into(),
            exp.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--cache".into(),
            cache(),
        ]
    };
    let reference = tmp.path().join("reference");
    let args = run_args(&reference);
    let o = ablate(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));

    let out = tmp.path().join("killed");
    let args = run_args(&out);
    // Each attempt waits for a stage of the next kind in turn (the sweep itself: planning or the report),
    // lets it run a pseudo-random 0-150 ms (xorshift, fixed seed, so a failure replays), then SIGKILLs the
    // sweep's whole process group. Stages recur (4 runs x 4 stages, each redone in part after a kill), so the
    // attempts go on until the sweep finishes on its own.
    let targets = ["train", "finetune", "eval", "attention", "run"];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut kills: Vec<String> = Vec::new();
    let start = Instant::now();
    for attempt in 0.. {
        assert!(start.elapsed() < Duration::from_secs(900), "{kills:?}");
        let target = targets[attempt % targets.len()];
        let mut sweep = Command::new(env!("CARGO_BIN_EXE_ablate"))
            .args(&args)
            .env("RAYON_NUM_THREADS", "2")
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_millis(state % 150);
        let mut seen: Option<Instant> = None;
        let finished = loop {
            if let Some(s) = sweep.try_wait().unwrap() {
                break Some(s);
            }
            if seen.is_none() && stage_of(sweep.id()) == target {
                seen = Some(Instant::now());
            }
            if seen.is_some_and(|t| t.elapsed() >= delay) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        if let Some(status) = finished {
            assert!(
                status.success(),
                "the sweep failed after the kills {kills:?}"
            );
            break;
        }
        let stage = stage_of(sweep.id());
        let pgid = sweep.id().to_string();
        let k = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status()
            .unwrap();
        assert!(k.success());
        sweep.wait().unwrap();
        kills.push(stage);
    }
    assert!(kills.len() >= 10, "only {} kills: {kills:?}", kills.len());
    let o = ablate(&["status", out.to_str().unwrap()]);
    assert!(text(&o).contains("complete"), "{}", text(&o));
    for stage in ["train", "finetune", "eval"] {
        assert!(
            kills.iter().any(|k| k == stage),
            "no kill during {stage}: {kills:?}"
        );
    }
    let after = format!("after the kills {kills:?} (expected: an uninterrupted sweep)");
    assert_same_results(&results(&reference), &results(&out), &after);
    // TensorBoard shows what metrics.csv holds, however often the runs were killed and resumed.
    for id in common::IDS {
        let run = out.join("runs").join(id);
        common::check_tensorboard(&run.join("pretrain"));
        common::check_tensorboard(&run.join("finetune/bshift"));
    }
    eprintln!("{} kills: {kills:?}", kills.len());
}
