//! Building all task sets of a shard folder into one output folder.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::held_out::{Stretch, assign_splits, held_out_stretches, in_pretraining_text};
use super::lenext::{self, LenextReport};
use super::sentences::sentence_key;
use super::{TaskReport, bshift, sent_order, wn_pos, write_task};
use crate::atomic::{self, AtomicDir};
use crate::corpus::Corpus;
use crate::error::{DataError, Result};
use crate::reader::ShardSet;
use crate::split::SplitCounts;
use crate::wordnet::{WORDNET_DIR, check_dir};

/// The report file of a task folder.
pub const TASKS_FILE: &str = "tasks.json";

/// A task set.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Bigram shift.
    Bshift,
    /// Sentence order.
    SentOrder,
    /// WordNet noun/verb in context.
    WnPosContext,
    /// Length-extrapolation MLM sets.
    Lenext,
}

impl TaskKind {
    /// All task sets.
    pub const ALL: [TaskKind; 4] = [
        TaskKind::Bshift,
        TaskKind::SentOrder,
        TaskKind::WnPosContext,
        TaskKind::Lenext,
    ];
}

impl std::str::FromStr for TaskKind {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bshift" => Ok(TaskKind::Bshift),
            "sent_order" => Ok(TaskKind::SentOrder),
            "wn_pos_context" => Ok(TaskKind::WnPosContext),
            "lenext" => Ok(TaskKind::Lenext),
            _ => Err(DataError::config(
                "tasks",
                format!("`{s}` is not a task; use bshift, sent_order, wn_pos_context or lenext"),
            )),
        }
    }
}

/// Task building settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TaskOptions {
    /// Which sets to build (default all).
    pub tasks: Vec<TaskKind>,
    /// Seed of the task splits, the order and the swaps.
    pub seed: u64,
    /// Fraction of each task for validation (default 0.1).
    pub valid_fraction: f64,
    /// Fraction of each task for test (default 0.1).
    pub test_fraction: f64,
    /// Shortest sentence, in words, for bshift and sent_order (default 5).
    pub min_words: usize,
    /// Longest sentence, in words (default 50).
    pub max_words: usize,
    /// Row lengths of the length-extrapolation sets.
    pub lengths: Vec<usize>,
    /// The WordNet database folder.
    pub wordnet_dir: PathBuf,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            tasks: TaskKind::ALL.to_vec(),
            seed: 0,
            valid_fraction: 0.1,
            test_fraction: 0.1,
            min_words: 5,
            max_words: 50,
            lengths: vec![64, 128, 256, 512, 1024],
            wordnet_dir: PathBuf::from(WORDNET_DIR),
        }
    }
}

/// `tasks.json`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TasksReport {
    /// Fingerprint of the shard set the tasks were built from.
    pub shards: String,
    /// The corpus.
    pub corpus: PathBuf,
    /// The held-out (test split) text the sentence tasks were drawn from.
    pub held_out: SplitCounts,
    /// Stretches of it (consecutive test-split passages of one document), the unit the task
    /// splits of `bshift` and `sent_order` are assigned by.
    #[serde(default)]
    pub stretches: u64,
    /// The settings.
    pub options: TaskOptions,
    /// Classification tasks.
    pub tasks: Vec<TaskReport>,
    /// Length-extrapolation sets.
    pub lenext: Vec<LenextReport>,
}

/// Builds the task sets of `opts` from the shard folder `shards_dir` (and its corpus) into the
/// folder `out`, replacing an earlier task folder there.
pub fn build_tasks(shards_dir: &Path, out: &Path, opts: &TaskOptions) -> Result<TasksReport> {
    let (v, t) = (opts.valid_fraction, opts.test_fraction);
    if !(0.0..1.0).contains(&v) || !(0.0..1.0).contains(&t) || v + t >= 1.0 {
        return Err(DataError::config(
            "tasks.valid_fraction / tasks.test_fraction",
            "each in [0, 1) and together below 1",
        ));
    }
    if opts.min_words < 2 || opts.min_words > opts.max_words {
        return Err(DataError::config(
            "tasks.min_words / tasks.max_words",
            "need 2 <= min_words <= max_words",
        ));
    }
    if opts.tasks.contains(&TaskKind::WnPosContext) {
        check_dir(&opts.wordnet_dir)?;
    }
    let shards = ShardSet::open(shards_dir)?;
    let index = shards.index();
    let corpus = Corpus::open(&index.corpus_path)?;
    if corpus.fingerprint() != index.corpus_fingerprint {
        return Err(DataError::format(
            &index.corpus_path,
            "the corpus changed since the shards were built; rebuild the shards first",
        ));
    }

    let mut kinds = opts.tasks.clone();
    kinds.sort();
    kinds.dedup();
    let wants_text = kinds
        .iter()
        .any(|k| matches!(k, TaskKind::Bshift | TaskKind::SentOrder));
    let (mut stretches, held_out) = if wants_text {
        held_out_stretches(&corpus, &index.split)?
    } else {
        Default::default()
    };
    let mut wordnet = if kinds.contains(&TaskKind::WnPosContext) {
        wn_pos::examples(&opts.wordnet_dir)?
    } else {
        Vec::new()
    };
    assign_splits(&mut stretches, v, t, opts.seed);
    // Which candidate sentences are pre-training text: one pass over the train split.
    let mut candidates: HashSet<u128> = stretches
        .iter()
        .flat_map(Stretch::sentences)
        .map(|s| sentence_key(s))
        .collect();
    candidates.extend(wordnet.iter().map(|(_, e)| sentence_key(&e.text_a)));
    let pretraining = in_pretraining_text(&corpus, &index.split, &candidates)?;
    drop(candidates);

    let dir = AtomicDir::create(out, TASKS_FILE)?;
    let mut report = TasksReport {
        shards: index.fingerprint.clone(),
        corpus: index.corpus_path.clone(),
        held_out,
        stretches: stretches.len() as u64,
        options: opts.clone(),
        tasks: Vec::new(),
        lenext: Vec::new(),
    };
    let words = (opts.min_words, opts.max_words);
    for kind in kinds {
        let (meta, (sets, overlap)) = match kind {
            TaskKind::Bshift => (
                (bshift::NAME, bshift::DESCRIPTION, &bshift::LABELS[..]),
                bshift::build(&stretches, &pretraining, opts.seed, words),
            ),
            TaskKind::SentOrder => (
                (
                    sent_order::NAME,
                    sent_order::DESCRIPTION,
                    &sent_order::LABELS[..],
                ),
                sent_order::build(&stretches, &pretraining, opts.seed, words),
            ),
            TaskKind::WnPosContext => (
                (wn_pos::NAME, wn_pos::DESCRIPTION, &wn_pos::LABELS[..]),
                wn_pos::build(
                    std::mem::take(&mut wordnet),
                    &pretraining,
                    opts.seed,
                    (v, t),
                ),
            ),
            TaskKind::Lenext => {
                for &len in &opts.lengths {
                    report.lenext.push(lenext::write(&shards, dir.path(), len)?);
                }
                continue;
            }
        };
        report
            .tasks
            .push(write_task(dir.path(), meta, &sets, overlap)?);
    }
    atomic::write_json(&dir.path().join(TASKS_FILE), &report)?;
    dir.commit()?;
    Ok(report)
}
