//! What the end-to-end tests of `ablate run` share: a tiny experiment with real training and helpers to run
//! the binary and read run records.
#![allow(dead_code)]

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
