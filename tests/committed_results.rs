//! Every experiment folder committed under `results/` is reproducible from its run files alone: `ablate report`
//! on a copy that holds only what the runs wrote (no report.md, summary or charts) rebuilds the committed
//! report.md, summary.csv and SVG charts byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files `ablate report` writes; everything else in a committed folder was written by the runs.
fn is_report_output(rel: &Path) -> bool {
    rel.starts_with("charts")
        || ["report.md", "summary.csv", "summary.parquet"]
            .iter()
            .any(|f| rel == Path::new(f))
}

fn copy_run_files(from: &Path, to: &Path, rel: &Path) {
    for entry in std::fs::read_dir(from.join(rel)).unwrap() {
        let entry = entry.unwrap();
        let rel = rel.join(entry.file_name());
        if is_report_output(&rel) {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(to.join(&rel)).unwrap();
            copy_run_files(from, to, &rel);
        } else {
            std::fs::copy(from.join(&rel), to.join(&rel)).unwrap();
        }
    }
}

/// The committed experiment folders (those with a report.md).
fn committed() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("report.md").is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_committed_report_is_rebuilt_from_the_run_files_alone() {
    let folders = committed();
    assert!(
        !folders.is_empty(),
        "no committed experiment folder under results/"
    );
    for folder in folders {
        let name = folder.file_name().unwrap().to_str().unwrap().to_string();
        let work = tempfile::tempdir().unwrap();
        let copy = work.path().join("results").join(&name);
        std::fs::create_dir_all(&copy).unwrap();
        copy_run_files(&folder, &copy, Path::new(""));
        assert!(!copy.join("report.md").exists());
        // Run from the copy's parent of `results/`, so the command line the report quotes is the same.
        let out = Command::new(env!("CARGO_BIN_EXE_ablate"))
            .args(["report", &format!("results/{name}")])
            .current_dir(work.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ablate report results/{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut compared = vec!["report.md".to_string(), "summary.csv".to_string()];
        for e in std::fs::read_dir(folder.join("charts")).unwrap() {
            let n = e.unwrap().file_name().to_str().unwrap().to_string();
            if n.ends_with(".svg") {
                compared.push(format!("charts/{n}"));
            }
        }
        assert!(compared.len() > 3, "{name}: no charts committed");
        for f in &compared {
            let want = std::fs::read(folder.join(f)).unwrap();
            let got = std::fs::read(copy.join(f))
                .unwrap_or_else(|e| panic!("results/{name}/{f} was not rebuilt: {e}"));
            assert!(
                want == got,
                "results/{name}/{f} differs when rebuilt from the run files; rerun `ablate report \
                 results/{name}` and commit it if the report code changed on purpose"
            );
        }
    }
}
