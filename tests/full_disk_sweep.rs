//! A sweep whose disk fills up anywhere: on tmpfs disks of a dozen sizes, from a few pages to nearly all the
//! sweep needs, `ablate run` stops with the full-disk exit code and an error that names a path under the
//! experiment folder and says the disk is full; it leaves no half-written (temporary) file and no run shown
//! as running; and once the disk is grown, the same command finishes with the results of a sweep that never
//! ran short: summary.csv and every run's metrics.csv equal byte for byte (timing columns dropped), every
//! TensorBoard event file whole. Needs the right to mount a tmpfs (root on Linux); elsewhere it says so.

mod common;
#[path = "support/tmpfs.rs"]
mod tmpfs;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{IDS, TINY, assert_same_results, cache, check_tensorboard, results, text};
use tmpfs::Tmpfs;

/// The exit code of a command stopped by a full disk (`ablate_runner::EXIT_DISK_FULL`).
const EXIT_DISK_FULL: i32 = 75;

fn run(exp: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(["run", exp.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--cache", &cache()])
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// Bytes the folder's files take on a disk of 4 KiB pages.
fn pages(dir: &Path) -> u64 {
    files(dir)
        .iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::metadata(p).unwrap().len().div_ceil(4096) * 4096)
        .sum()
}

#[test]
fn a_sweep_whose_disk_fills_anywhere_stops_cleanly_and_resumes_to_the_same_results() {
    if Tmpfs::mount("64k").is_none() {
        eprintln!("cannot mount a tmpfs here (needs root): full-disk sweep test not run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    let reference = tmp.path().join("reference");
    let o = run(&exp, &reference);
    assert!(o.status.success(), "{}", text(&o));
    let need = pages(&reference);
    let want = results(&reference);

    let mut stopped_at = Vec::new();
    for percent in [1, 3, 6, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95] {
        let size = (need * percent / 100).div_ceil(4096) * 4096;
        let disk = Tmpfs::mount(&size.to_string()).unwrap();
        let out = disk.path.join("out");
        let o = run(&exp, &out);
        let all = text(&o);
        assert_eq!(o.status.code(), Some(EXIT_DISK_FULL), "{size} bytes: {all}");
        let error = all
            .lines()
            .rev()
            .find(|l| l.starts_with("error: "))
            .unwrap();
        assert!(
            error.contains(&out.display().to_string())
                && (error.contains("the disk is full") || error.contains("is full (")),
            "{size} bytes: {error}"
        );
        let half: Vec<_> = files(&out)
            .into_iter()
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with(".tmp") || name.ends_with(".tmp")
            })
            .collect();
        assert!(half.is_empty(), "{size} bytes: left {half:?}");
        let status = common::ablate(&["status", out.to_str().unwrap()]);
        assert!(status.status.success(), "{}", text(&status));
        assert!(
            !text(&status).contains("running"),
            "{size} bytes: {}",
            text(&status)
        );
        for summary in files(&out).iter().filter(|p| p.ends_with("summary.json")) {
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
            assert_ne!(json["status"], "running", "{}", summary.display());
        }
        // Where it stopped: the path the error names, from the experiment folder down.
        let named = error.split_once("/out/").unwrap().1;
        let named: String = named
            .split(" stopped")
            .next()
            .unwrap()
            .chars()
            .take(60)
            .collect();
        stopped_at.push(format!("{percent}%: {named}"));

        disk.resize("256m");
        let o = run(&exp, &out);
        assert!(o.status.success(), "{size} bytes, resumed: {}", text(&o));
        let after = format!("after a full disk of {size} bytes (expected: a sweep never short)");
        assert_same_results(&want, &results(&out), &after);
        for id in IDS {
            let run = out.join("runs").join(id);
            check_tensorboard(&run.join("pretrain"));
            check_tensorboard(&run.join("finetune/bshift"));
        }
    }
    eprintln!("the sweep needs {need} bytes; stopped at {stopped_at:#?}");
    // The sizes reach pre-training, fine-tuning and the report's charts.
    for part in [": pretrain", ": finetune", "charts/"] {
        assert!(
            stopped_at.iter().any(|s| s.contains(part)),
            "{part}: {stopped_at:?}"
        );
    }
}
