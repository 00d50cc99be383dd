//! What the end-to-end tests of `ablate run` share: a tiny experiment with real training and helpers to run
//! the binary and read run records.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const TINY: &str = r#"
description = "tiny end-to-end experiment"
baseline = "bert"
seeds = [1, 2]

[base]
steps = 12
batch_size = 8
eval_every = 6
eval_batches = 2
checkpoint_every = 6
log_every = 3

[base.model]
hidden_size = 32
num_hidden_layers = 1
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 64

[base.data]
max_len = 32

[base.data.tokenizer]
vocab_size = 500

[base.data.split]
valid_fraction = 0.03
test_fraction = 0.1

[base.optimiser]
lr = 3e-3
warmup_steps = 3

[[variants]]
name = "bert"
preset = "bert"

[[variants]]
name = "deberta"
preset = "deberta"

[finetune]
tasks = ["bshift"]
epochs = 1
batch_size = 16
max_train_examples = 48

[length]
lengths = [16, 32, 64]
max_rows = 8

[attention]
sentence = "It is a truth universally acknowledged."
"#;

pub fn ablate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap()
}

pub fn cache() -> String {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("ablate-run-cache")
        .display()
        .to_string()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    (dir, exp)
}

pub fn record(dir: &Path, id: &str) -> serde_json::Value {
    let path = dir.join("runs").join(id).join("run.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub const IDS: [&str; 4] = [
    "bert/seed-1",
    "bert/seed-2",
    "deberta/seed-1",
    "deberta/seed-2",
];

/// The pids whose parent is `pid` (from /proc).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        if fields[1].parse::<u32>() == Ok(pid) {
            out.push(p);
        }
    }
    out
}

/// Whether `pid` is a live process (a zombie has ended).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat[stat.rfind(')').unwrap() + 2..].starts_with('Z'),
        Err(_) => false,
    }
}

/// Columns and summary rows that measure time, not results.
pub const TIMING: [&str; 4] = ["tokens_per_s", "elapsed_s", "wall_time_s", "wall_s"];

/// `path` as CSV text without the timing columns (or, for summary.csv, without the timing metrics' rows).
pub fn without_timing(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !TIMING.contains(&header[i]))
        .collect();
    let metric = header.iter().position(|h| *h == "metric");
    let mut out = String::new();
    for line in std::iter::once(header.join(",").as_str()).chain(lines) {
        let cells: Vec<&str> = line.split(',').collect();
        if metric.is_some_and(|m| cells.get(m).is_some_and(|c| TIMING.contains(c))) {
            continue;
        }
        let kept: Vec<&str> = keep.iter().filter_map(|&i| cells.get(i).copied()).collect();
        out.push_str(&kept.join(","));
        out.push('\n');
    }
    out
}

/// Every metrics.csv under `dir/runs` (relative path -> contents without timing), and summary.csv.
pub fn results(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.join("runs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir()
                && !p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("ckpt-")
            {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "metrics.csv") {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    without_timing(&p),
                );
            }
        }
    }
    out.insert(
        "summary.csv".into(),
        without_timing(&dir.join("summary.csv")),
    );
    out
}

/// Asserts that two [`results`] hold the same files with the same text; `after` says what happened to `got`
/// (it ends the failure message, which shows both texts of the first file that differs).
pub fn assert_same_results(
    want: &BTreeMap<PathBuf, String>,
    got: &BTreeMap<PathBuf, String>,
    after: &str,
) {
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{after}"
    );
    for (file, text) in want {
        assert!(
            &got[file] == text,
            "{} differs {after}:\n--- expected\n{text}\n--- got\n{}",
            file.display(),
            got[file]
        );
    }
}

/// Checks that the TensorBoard event files of the run folder `dir` (`pretrain/` or `finetune/<task>/`) hold
/// every CRC-checked record and, as TensorBoard would show them (session starts applied), exactly the values
/// of `metrics.csv`: `train/<column>` for train rows, `valid/<x>` / `test/<x>` for evaluations. Returns the
/// number of points compared.
pub fn check_tensorboard(dir: &Path) -> usize {
    let curves =
        ablate_train::tensorboard::curves(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut reader = csv::Reader::from_path(dir.join("metrics.csv")).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let mut compared = 0;
    let mut expected_points = 0;
    for row in reader.records() {
        let row = row.unwrap();
        let kind = &row[0];
        let step: i64 = row[1].parse().unwrap();
        for (name, cell) in header.iter().zip(row.iter()).skip(2) {
            if name == "elapsed_s" || cell.is_empty() {
                continue;
            }
            let tag = ablate_train::tensorboard::scalar_tag(kind == "train", name);
            let want: f64 = cell.parse().unwrap();
            let got = curves
                .get(&tag)
                .and_then(|c| c.get(&step))
                .unwrap_or_else(|| panic!("{}: no {tag} at step {step}", dir.display()));
            assert_eq!(*got, want as f32, "{}: {tag} at step {step}", dir.display());
            compared += 1;
        }
        expected_points += 1;
    }
    let shown: usize = curves.values().map(|c| c.len()).sum();
    assert_eq!(
        shown,
        compared,
        "{}: points beyond metrics.csv",
        dir.display()
    );
    assert!(expected_points > 0, "{}: empty metrics.csv", dir.display());
    compared
}
