//! A run whose disk fills up: the checkpoint write fails with an error that names the folder and says the disk
//! is full, the half-written checkpoint is removed, and once space is freed the same run resumes and finishes.
//! Uses a small tmpfs, so it needs the right to mount one (root on Linux); elsewhere it says so and passes.

mod common;
#[path = "../../../tests/support/tmpfs.rs"]
mod tmpfs;

use std::path::Path;

use ablate_train::{RunStatus, checkpoint, pretrain};
use common::*;
use tmpfs::Tmpfs;

fn leftovers(run: &Path) -> Vec<String> {
    std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn a_full_disk_is_named_leaves_no_half_checkpoint_and_the_run_resumes_once_space_is_free() {
    let _serial = serial();
    let Some(disk) = Tmpfs::mount("160k") else {
        eprintln!("cannot mount a tmpfs here (needs root): full-disk test not run");
        return;
    };
    let run = disk.path.join("run");
    let spec = tiny_spec("steps = 20\ncheckpoint_every = 10\neval_every = 10\neval_batches = 1");
    let device = Default::default();
    let err = pretrain::<Train>(&spec, &run, &device, &options())
        .expect_err("the checkpoint cannot fit in 160 kB")
        .to_string();
    assert!(
        err.starts_with(&format!("{}: checkpoint: the disk holding", run.display()))
            && err.contains("is full"),
        "{err}"
    );
    assert!(leftovers(&run).is_empty(), "{:?}", leftovers(&run));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "failed", "{summary}");
    assert_eq!(summary["failure"]["step"], 11, "{summary}");
    eprintln!("full disk: {err}");

    disk.resize("64m");
    let done = pretrain::<Train>(&spec, &run, &device, &options()).unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(checkpoint::latest(&run).unwrap().unwrap().0.step, 20);
}
