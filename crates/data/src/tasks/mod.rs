//! Downstream task sets that test word order, built deterministically from held-out text.
//!
//! * `bshift` (bigram shift): is a sentence as written, or were two adjacent words swapped?
//! * `sent_order`: are two consecutive sentences given in their original order?
//! * `wn_pos_context`: is the marked word a noun or a verb in this WordNet example sentence?
//! * `lenext_<L>`: held-out text packed into rows of exactly L tokens, L in 64..1024, for MLM
//!   evaluation at lengths beyond those seen in training.
//!
//! `bshift` and `sent_order` use only passages of the corpus' test split (the shards' split
//! settings). Their own train/valid/test division is by held-out stretch, not by sentence: a
//! stretch is a run of consecutive test-split passages of one document (a whole short document,
//! or the held-out part of a long one). Stretches are ordered by the hash of their first passage
//! (keyed by the task seed) and cut at the task fractions, counted in sentences: the first go to
//! test, the next to valid, the rest to train. Only then are the examples built, so no passage
//! feeds two task splits. `wn_pos_context` is divided by the hash of the lemma.
//!
//! For every task, a sentence feeds at most one task split (if the held-out text repeats it, the
//! first of test, valid and train keeps it), and no task uses a sentence that occurs in the
//! corpus' train split, the pre-training text, as a paragraph or as one sentence of a paragraph
//! (compared lowercase, whitespace normalised); each task's `pretraining_overlap` in `tasks.json`
//! counts what this left out. The corpus' WordNet source leaves out the sentences
//! `wn_pos_context` can use, so on a corpus built with it that task keeps its full size.
//!
//! The output folder holds one sub-folder per task with `train.jsonl`, `valid.jsonl`, `test.jsonl`
//! (one [`TaskExample`] per line; the `lenext` folders hold `valid.jsonl`/`test.jsonl` from the
//! corpus' valid/test splits, one `{"input_ids": [...]}` per line) and `tasks.json` with sizes and
//! class balance.

mod bshift;
mod build;
mod encode;
mod held_out;
mod lenext;
mod sent_order;
pub mod sentences;
pub(crate) mod wn_pos;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::error::{DataError, IoContext, Result};
use crate::hashing::{domain, rng_for};

/// Version of the rules that build task sets (2: splits by held-out stretch, no pre-training text in valid or
/// test). Caches of built task sets are keyed by it, so sets built under older rules are never reused.
pub const TASK_RULES_VERSION: u32 = 2;

pub use build::{TASKS_FILE, TaskKind, TaskOptions, TasksReport, build_tasks};
pub use encode::{ClassBatch, encode_examples};
pub use lenext::{LenextReport, read_sequences};

/// One labelled example.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TaskExample {
    /// The (first) text.
    pub text_a: String,
    /// The second text of a pair task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_b: Option<String>,
    /// Class index into the task's label names.
    pub label: u32,
    /// Byte range of the marked word in `text_a` (`wn_pos_context`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<(usize, usize)>,
}

/// Size and class balance of one file.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SplitBalance {
    /// Examples.
    pub examples: u64,
    /// Examples per label name.
    pub per_label: BTreeMap<String, u64>,
    /// Share of the most frequent label (0.5 = balanced for two classes).
    pub majority_share: f64,
}

/// What was written for one classification task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TaskReport {
    /// Task name (also its folder).
    pub name: String,
    /// What a model must do.
    pub description: String,
    /// Label names, by class index.
    pub labels: Vec<String>,
    /// Balance of train/valid/test.
    pub splits: BTreeMap<String, SplitBalance>,
    /// Candidates left out because a sentence of theirs is pre-training text (occurs in the
    /// corpus' train split): distinct sentences (`bshift`), sentence pairs (`sent_order`) or
    /// examples (`wn_pos_context`).
    #[serde(default)]
    pub pretraining_overlap: u64,
}

/// Examples of the three task splits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskSets {
    /// Training examples.
    pub train: Vec<TaskExample>,
    /// Validation examples.
    pub valid: Vec<TaskExample>,
    /// Test examples.
    pub test: Vec<TaskExample>,
}

impl TaskSets {
    /// The set for a split name.
    pub fn get_mut(&mut self, split: TaskSplit) -> &mut Vec<TaskExample> {
        match split {
            TaskSplit::Train => &mut self.train,
            TaskSplit::Valid => &mut self.valid,
            TaskSplit::Test => &mut self.test,
        }
    }

    fn named(&self) -> [(&'static str, &Vec<TaskExample>); 3] {
        [
            ("train", &self.train),
            ("valid", &self.valid),
            ("test", &self.test),
        ]
    }
}

/// A task's own split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskSplit {
    /// Fine-tuning data.
    Train,
    /// Model selection.
    Valid,
    /// Reported scores.
    Test,
}

impl TaskSplit {
    /// Train, valid, test.
    pub const ALL: [TaskSplit; 3] = [TaskSplit::Train, TaskSplit::Valid, TaskSplit::Test];

    /// Position in [`TaskSplit::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The split of a key (a `wn_pos_context` lemma) under the given fractions, by its hash
    /// keyed by the task seed.
    pub fn of(text: &str, valid: f64, test: f64, seed: u64) -> Self {
        let key = crate::hashing::mix(&[domain::TASK, seed]);
        let u = crate::hashing::unit_fraction(crate::hashing::hash64(text.as_bytes(), key));
        if u < test {
            TaskSplit::Test
        } else if u < test + valid {
            TaskSplit::Valid
        } else {
            TaskSplit::Train
        }
    }
}

/// Shuffles deterministically for (`seed`, task `tag`, split index).
pub(crate) fn shuffle<T>(items: &mut [T], seed: u64, tag: u64, part: u64) {
    items.shuffle(&mut rng_for(&[domain::TASK, seed, tag, part]));
}

fn balance(examples: &[TaskExample], labels: &[String]) -> SplitBalance {
    let mut per_label: BTreeMap<String, u64> = labels.iter().map(|l| (l.clone(), 0)).collect();
    for e in examples {
        let name = labels
            .get(e.label as usize)
            .cloned()
            .unwrap_or_else(|| e.label.to_string());
        *per_label.entry(name).or_default() += 1;
    }
    let max = per_label.values().copied().max().unwrap_or(0);
    SplitBalance {
        examples: examples.len() as u64,
        majority_share: if examples.is_empty() {
            0.0
        } else {
            max as f64 / examples.len() as f64
        },
        per_label,
    }
}

/// Writes `examples` as JSON lines to `path` (atomically).
pub fn write_examples(path: &Path, examples: &[TaskExample]) -> Result<()> {
    atomic::write_file(path, |w| {
        for e in examples {
            let line = serde_json::to_string(e).map_err(|source| DataError::Json {
                path: path.to_path_buf(),
                source,
            })?;
            w.write_all(line.as_bytes()).at(path)?;
            w.write_all(b"\n").at(path)?;
        }
        Ok(())
    })
}

/// Reads a JSON-lines task file.
pub fn read_examples(path: &Path) -> Result<Vec<TaskExample>> {
    let reader = BufReader::new(File::open(path).at(path)?);
    let mut out = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.at(path)?;
        if line.trim().is_empty() {
            continue;
        }
        let e = serde_json::from_str(&line).map_err(|e| {
            DataError::format(path, format!("line {}: not a task example: {e}", n + 1))
        })?;
        out.push(e);
    }
    Ok(out)
}

/// Writes a task's three files into `dir/<name>/` and returns its report.
pub(crate) fn write_task(
    dir: &Path,
    (name, description, labels): (&str, &str, &[&str]),
    sets: &TaskSets,
    pretraining_overlap: u64,
) -> Result<TaskReport> {
    let folder: PathBuf = dir.join(name);
    std::fs::create_dir_all(&folder).at(&folder)?;
    let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    let mut splits = BTreeMap::new();
    for (split, examples) in sets.named() {
        write_examples(&folder.join(format!("{split}.jsonl")), examples)?;
        splits.insert(split.to_string(), balance(examples, &labels));
    }
    Ok(TaskReport {
        name: name.to_string(),
        description: description.to_string(),
        labels,
        splits,
        pretraining_overlap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_round_trip_and_bad_lines_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let ex = vec![
            TaskExample {
                text_a: "a b".into(),
                text_b: Some("c".into()),
                label: 1,
                span: None,
            },
            TaskExample {
                text_a: "d".into(),
                text_b: None,
                label: 0,
                span: Some((0, 1)),
            },
        ];
        write_examples(&path, &ex).unwrap();
        assert_eq!(read_examples(&path).unwrap(), ex);
        std::fs::write(&path, "{\"text_a\":\"x\",\"label\":0}\nnot json\n").unwrap();
        let err = read_examples(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn balance_counts_labels() {
        let e = |label| TaskExample {
            text_a: String::new(),
            text_b: None,
            label,
            span: None,
        };
        let b = balance(&[e(0), e(1), e(1)], &["no".into(), "yes".into()]);
        assert_eq!(b.examples, 3);
        assert_eq!(b.per_label["yes"], 2);
        assert!((b.majority_share - 2.0 / 3.0).abs() < 1e-12);
    }
}
