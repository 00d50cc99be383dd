//! Task splits do not leak: no valid/test sentence of any task is in that task's train split or in
//! the corpus' pre-training (train) split, and one stretch of held-out text feeds one task split.
//!
//! The corpus mixes short documents of Austen paragraphs with WordNet-style synset documents (a
//! gloss line, then each example sentence as a paragraph), as the core corpus has them, and the
//! WordNet database the `wn_pos_context` task reads holds the same synsets.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ablate_data::tasks::sentences::split_sentences;
use ablate_data::tasks::{
    TaskExample, TaskKind, TaskOptions, TasksReport, build_tasks, read_examples,
};
use ablate_data::{
    Corpus, ShardConfig, Split, SplitConfig, TextTokenizer, TokenizerConfig, build_shards,
    bundled_corpus_path, split_passages,
};
use common::write;

const TASKS: [&str; 3] = ["bshift", "sent_order", "wn_pos_context"];

/// Words that are nouns and verbs in the fake WordNet.
const LEMMAS: [&str; 24] = [
    "run", "ship", "book", "walk", "cut", "call", "dance", "jump", "paint", "cook", "fish",
    "plant", "park", "rain", "drink", "smile", "work", "play", "sail", "print", "plan", "swim",
    "hunt", "sleep",
];

struct Built {
    _dir: tempfile::TempDir,
    corpus: Corpus,
    split: SplitConfig,
    tasks: PathBuf,
    report: TasksReport,
}

/// Writes a WordNet database and the corpus documents made from it (one per synset).
fn fake_wordnet(wn: &Path) -> String {
    let index: String = LEMMAS.iter().map(|l| format!("{l} x 1 0\n")).collect();
    write(wn, "index.noun", index.replace(" x ", " n ").as_bytes());
    write(wn, "index.verb", index.replace(" x ", " v ").as_bytes());
    let (mut nouns, mut verbs, mut docs) = (String::new(), String::new(), String::new());
    for i in 0..192 {
        let l = LEMMAS[i % LEMMAS.len()];
        let noun = [
            format!("the {l} number {i} was quite good"),
            format!("another {l} for test {i}"),
        ];
        let mut verb = vec![format!("they {l} slowly on day {i}")];
        // Verb synsets i and i + 12 (< 24) share an example, each marking its own lemma.
        if i < 24 {
            let (a, b) = (LEMMAS[i % 12], LEMMAS[i % 12 + 12]);
            verb.push(format!("we {a} and then {b} all day"));
        }
        nouns.push_str(&format!(
            "{:08} 04 n 01 {l} 0 000 | a thing {i}; \"{}\"; \"{}\"\n",
            i + 1,
            noun[0],
            noun[1]
        ));
        let quoted: Vec<String> = verb.iter().map(|v| format!("; \"{v}\"")).collect();
        verbs.push_str(&format!(
            "{:08} 38 v 01 {l} 0 000 | to act {i}{}\n",
            i + 1,
            quoted.concat()
        ));
        docs.push_str(&format!(
            "{l}: a thing {i}.\n{}\n{}\n\n{l}: to act {i}.\n{}\n\n",
            noun[0],
            noun[1],
            verb.join("\n")
        ));
    }
    write(wn, "data.noun", nouns.as_bytes());
    write(wn, "data.verb", verbs.as_bytes());
    docs
}

fn built() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let wn = root.join("wordnet");
        std::fs::create_dir(&wn).unwrap();
        let wordnet_docs = fake_wordnet(&wn);
        // Short documents of six paragraphs, like the core corpus' entries and chapters.
        let austen = std::fs::read_to_string(bundled_corpus_path()).unwrap();
        let lines: Vec<&str> = austen.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut text: String = lines[..1200]
            .chunks(6)
            .map(|c| format!("{}\n\n", c.join("\n")))
            .collect();
        text.push_str(&wordnet_docs);
        let corpus_path = write(root, "corpus.txt", text.as_bytes());
        let corpus = Corpus::open(&corpus_path).unwrap();
        let split = SplitConfig {
            valid_fraction: 0.1,
            test_fraction: 0.2,
            ..SplitConfig::default()
        };
        let tok_cfg = TokenizerConfig {
            vocab_size: 1000,
            ..TokenizerConfig::default()
        };
        let tok = TextTokenizer::train(&corpus, &split, &tok_cfg, &root.join("tok/tokenizer.json"))
            .unwrap();
        let shards = root.join("shards");
        build_shards(&corpus, &tok, &split, &ShardConfig::default(), &shards).unwrap();
        let tasks = root.join("tasks");
        let opts = TaskOptions {
            tasks: vec![
                TaskKind::Bshift,
                TaskKind::SentOrder,
                TaskKind::WnPosContext,
            ],
            wordnet_dir: wn,
            ..TaskOptions::default()
        };
        let report = build_tasks(&shards, &tasks, &opts).unwrap();
        Built {
            _dir: dir,
            corpus,
            split,
            tasks,
            report,
        }
    })
}

/// Whitespace-normalised, lowercase.
fn norm(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The sentences of an example (the marked word of `wn_pos_context` is not one).
fn sentences<'a>(task: &str, e: &'a TaskExample) -> Vec<&'a str> {
    match (&e.text_b, task) {
        (Some(b), "sent_order") => vec![e.text_a.as_str(), b.as_str()],
        _ => vec![e.text_a.as_str()],
    }
}

fn examples(task: &str, split: &str) -> Vec<TaskExample> {
    read_examples(&built().tasks.join(task).join(format!("{split}.jsonl"))).unwrap()
}

#[test]
fn no_valid_or_test_sentence_of_any_task_is_pretraining_text() {
    let b = built();
    let train: Vec<String> = split_passages(&b.corpus, &b.split, Split::Train)
        .flat_map(|p| p.unwrap().paragraphs)
        .collect();
    let mut known: HashSet<String> = train.iter().map(|p| norm(p)).collect();
    known.extend(
        train
            .iter()
            .flat_map(|p| split_sentences(p))
            .map(|s| norm(&s)),
    );
    for task in TASKS {
        let mut checked = 0;
        for split in ["valid", "test"] {
            for e in examples(task, split) {
                for s in sentences(task, &e) {
                    checked += 1;
                    assert!(
                        !known.contains(&norm(s)),
                        "{task}/{split}: pre-training text: {s}"
                    );
                    assert!(
                        s.len() < 50 || !train.iter().any(|p| p.contains(s)),
                        "{task}/{split}: inside a pre-training paragraph: {s}"
                    );
                }
            }
        }
        assert!(checked > 10, "{task}: only {checked} valid/test sentences");
    }
    // Most WordNet documents are pre-training text: their examples are left out of the task.
    let wn = b.report.tasks.iter().find(|t| t.name == "wn_pos_context");
    let overlap = wn.map(|t| t.pretraining_overlap).unwrap();
    assert!(overlap > 100, "only {overlap} examples left out");
}

#[test]
fn no_valid_or_test_sentence_of_any_task_is_in_its_train_split() {
    for task in TASKS {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for split in ["test", "valid", "train"] {
            let mut here = BTreeSet::new();
            for e in examples(task, split) {
                for s in sentences(task, &e) {
                    here.insert(norm(s));
                }
            }
            for s in &here {
                if let Some(other) = seen.get(s) {
                    panic!("{task}: `{s}` is in {other} and {split}");
                }
            }
            seen.extend(here.into_iter().map(|s| (s, split)));
        }
    }
}

#[test]
fn one_stretch_of_held_out_text_feeds_one_task_split() {
    let b = built();
    // Stretches: consecutive test-split passages of one document.
    let mut stretch_of: HashMap<String, Vec<usize>> = HashMap::new();
    let (mut prev, mut stretch) = (None, 0usize);
    for p in split_passages(&b.corpus, &b.split, Split::Test) {
        let p = p.unwrap();
        if !prev.as_ref().is_some_and(|q| p.continues(q)) {
            stretch += 1;
        }
        for para in &p.paragraphs {
            for s in split_sentences(para) {
                stretch_of.entry(norm(&s)).or_default().push(stretch);
            }
        }
        prev = Some(p);
    }
    for task in ["bshift", "sent_order"] {
        let mut splits_of: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
        for split in ["train", "valid", "test"] {
            for e in examples(task, split) {
                // Swapped bshift sentences are not held-out text verbatim.
                if task == "bshift" && e.label == 1 {
                    continue;
                }
                for s in sentences(task, &e) {
                    match stretch_of.get(&norm(s)).map(Vec::as_slice) {
                        Some([one]) => {
                            splits_of.entry(*one).or_default().insert(split);
                        }
                        Some(_) => {} // also in another stretch
                        None => panic!("{task}/{split}: not held-out text: {s}"),
                    }
                }
            }
        }
        for (stretch, splits) in &splits_of {
            assert_eq!(
                splits.len(),
                1,
                "{task}: stretch {stretch} feeds {splits:?}"
            );
        }
        let used: BTreeSet<&str> = splits_of.values().flatten().copied().collect();
        assert_eq!(used.len(), 3, "{task}: splits used {used:?}");
        assert!(
            splits_of.len() > 20,
            "{task}: {} stretches",
            splits_of.len()
        );
    }
}
