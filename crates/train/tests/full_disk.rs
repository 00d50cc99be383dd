//! A run whose disk fills up: the checkpoint write fails with an error that names the folder and says the disk
//! is full, the half-written checkpoint is removed, and once space is freed the same run resumes and finishes.
//! Uses a small tmpfs, so it needs the right to mount one (root on Linux); elsewhere it says so and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ablate_train::{RunStatus, checkpoint, pretrain};
use common::*;

/// A tmpfs mounted at a temporary folder, unmounted on drop.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().to_path_buf();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self { _dir: dir, path })
    }

    fn resize(&self, size: &str) {
        let s = Command::new("mount")
            .args(["-o", &format!("remount,size={size}"), "tmpfs"])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(s.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

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
        err.starts_with(&format!("checkpoint {}: the disk holding", run.display()))
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
