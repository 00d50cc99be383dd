//! The notebooks under notebooks/ run cleanly, headless, on an experiment folder that a real (tiny) sweep
//! wrote: `python3 notebooks/run_notebooks.py --results DIR` executes every cell of every notebook and leaves
//! the committed notebooks untouched. Needs the Python packages of notebooks/requirements.txt: without them
//! the test is skipped, except under CI (the variable `CI` set), where it fails saying how to install them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ablate, cache, setup, text};

/// What the notebooks and their runner import.
const IMPORTS: &str = "import nbclient, nbformat, ipykernel, numpy, polars, matplotlib, scipy";

const INSTALL: &str = "python3 -m pip install -r notebooks/requirements.txt";

/// Whether python3 can import every package the notebooks need; the reason when it cannot.
fn python_ready() -> Result<(), String> {
    match Command::new("python3").args(["-c", IMPORTS]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`python3 -c \"{IMPORTS}\"` failed: {}",
            text(&o).trim()
        )),
        Err(e) => Err(format!("cannot run python3: {e}")),
    }
}

/// The committed notebooks, sorted.
fn notebooks(root: &Path) -> Vec<PathBuf> {
    let dir = root.join("notebooks");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_notebook_runs_on_a_tiny_experiment_folder() {
    if let Err(why) = python_ready() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "the notebook test needs the Python packages of notebooks/requirements.txt ({why}); \
                 install them with `{INSTALL}`"
            );
        }
        eprintln!(
            "skipped: {why}; install the notebook packages with `{INSTALL}` to run this test"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = notebooks(root);
    assert!(
        committed.len() >= 2,
        "expected the notebooks under notebooks/, found {committed:?}"
    );
    let before: Vec<Vec<u8>> = committed
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())))
        .collect();

    // A real sweep: bert and deberta x 2 seeds, tiny models, with length and attention stages.
    let (tmp, exp) = setup();
    let out = tmp.path().join("out");
    let exp = exp.to_str().expect("temp path is UTF-8");
    let out_arg = out.to_str().expect("temp path is UTF-8");
    let o = ablate(&[
        "run",
        exp,
        "--out",
        out_arg,
        "--jobs",
        "1",
        "--cache",
        &cache(),
    ]);
    assert!(o.status.success(), "ablate run: {}", text(&o));
    for id in common::IDS {
        let run = out.join("runs").join(id);
        for f in ["pretrain/metrics.csv", "length.json", "attention.json"] {
            assert!(run.join(f).is_file(), "{id}: the sweep wrote no {f}");
        }
    }
    assert!(
        out.join("summary.parquet").is_file(),
        "the sweep wrote no summary.parquet"
    );

    let figures = tmp.path().join("figures");
    let o = Command::new("python3")
        .arg(root.join("notebooks").join("run_notebooks.py"))
        .args(["--results", out_arg, "--timeout", "300", "--figures"])
        .arg(&figures)
        .current_dir(root)
        .env_remove("ABLATE_RESULTS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 notebooks/run_notebooks.py: {e}"));
    assert!(
        o.status.success(),
        "python3 notebooks/run_notebooks.py --results {out_arg} failed:\n{}",
        text(&o)
    );

    // every notebook drew its charts
    let drawn: Vec<String> = std::fs::read_dir(&figures)
        .unwrap_or_else(|e| panic!("no figures folder {}: {e}", figures.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for nb in &committed {
        let stem = nb
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("notebook name is UTF-8");
        assert!(
            drawn
                .iter()
                .any(|f| f.starts_with(&format!("{stem}-")) && f.ends_with(".png")),
            "{stem}.ipynb saved no figure; saved: {drawn:?}\n{}",
            text(&o)
        );
    }

    // the committed notebooks are left as they were (no outputs written back)
    for (path, old) in committed.iter().zip(&before) {
        let now =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(
            &now == old,
            "{} was changed by running it; run_notebooks.py must not write into notebooks/",
            path.display()
        );
    }
}
