//! One tiny pre-training run on the bundled corpus, shared by the tests of this file: it learns (valid MLM
//! loss well below the unigram baseline of the same data), fine-tuning it on bshift beats chance, SiFT runs
//! and changes the loss, fine-tuning resumes exactly, and `eval` writes its JSON.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ablate_train::metrics::{FinetuneRow, METRICS_FILE, PretrainRow, RowKind, read_rows};
use ablate_train::{
    FinetuneSpec, FinetuneSummary, FinetuneTask, PretrainSummary, RunStatus, SiftSpec,
    TextEvalOptions, TrainOptions, eval_text, finetune, prepare_data, pretrain,
};
use common::*;

struct Pretrained {
    _dir: tempfile::TempDir,
    run: PathBuf,
    unigram: f64,
    summary: PretrainSummary,
    seconds: f64,
}

/// The shared run: 400 steps of 32 rows of 32 tokens, a 2-layer DeBERTa (with EMD) of width 64.
fn pretrained() -> &'static Pretrained {
    static RUN: OnceLock<Pretrained> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let spec =
            tiny_spec("steps = 400\neval_every = 100\neval_batches = 0\ncheckpoint_every = 100");
        let started = std::time::Instant::now();
        let summary = pretrain::<Train>(&spec, &run, &Default::default(), &options()).unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let unigram = unigram_entropy(&prepare_data(&spec, &cache_dir()).unwrap());
        Pretrained {
            _dir: dir,
            run,
            unigram,
            summary,
            seconds,
        }
    })
}

#[test]
fn tiny_pretraining_learns_well_below_the_unigram_baseline() {
    let _serial = serial();
    let p = pretrained();
    assert_eq!(p.summary.status, RunStatus::Completed);
    assert_eq!(p.summary.steps_done, 400);
    let rows: Vec<PretrainRow> = read_rows(&p.run.join(METRICS_FILE)).unwrap();
    let evals: Vec<&PretrainRow> = rows.iter().filter(|r| r.kind == RowKind::Eval).collect();
    let curve: Vec<(u64, f64)> = evals
        .iter()
        .map(|r| (r.step, r.eval_loss.unwrap()))
        .collect();
    eprintln!(
        "pre-training took {:.1}s; unigram baseline {:.3} nats; valid loss by step {curve:?}",
        p.seconds, p.unigram
    );
    assert_eq!(
        curve.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![100, 200, 300, 400]
    );
    let last = curve.last().unwrap().1;
    assert!(
        last < p.unigram - 0.3,
        "valid loss {last:.3} is not well below the unigram {:.3}",
        p.unigram
    );
    // the reference the run recorded: the unigram cross-entropy of the same masked valid tokens, which must
    // be near the training split's entropy computed here independently (a sample of ~1,000 tokens)
    let reference = p.summary.unigram.as_ref().expect("summary.unigram");
    assert!(
        (reference.loss - p.unigram).abs() < 0.5 && reference.masked_tokens > 100,
        "recorded unigram loss {:.3} vs train-split entropy {:.3}",
        reference.loss,
        p.unigram
    );
    assert!(
        reference.accuracy > 0.0 && reference.accuracy < 0.2,
        "{reference:?}"
    );
    assert!(last < reference.loss - 0.3, "{last} vs {reference:?}");
    assert!(
        curve.windows(2).all(|w| w[1].1 < w[0].1),
        "valid loss does not fall: {curve:?}"
    );
    let train_rows = rows.iter().filter(|r| r.kind == RowKind::Train).count();
    assert_eq!(train_rows, 80, "one train row per 5 steps");
    let final_eval = p.summary.final_eval.as_ref().unwrap();
    assert_eq!(final_eval.scores.loss, last);
    assert!((final_eval.scores.ppl - last.exp()).abs() < 1e-9 * final_eval.scores.ppl);
    assert_eq!(p.summary.best_eval.as_ref().unwrap().step, 400);
    assert!(p.summary.params > 0 && p.summary.tokens_seen == 400 * 32 * 32);
}

fn finetune_spec(run: &Path) -> FinetuneSpec {
    FinetuneSpec {
        from: run.to_path_buf(),
        task: FinetuneTask::Bshift,
        epochs: 2,
        batch_size: 32,
        max_len: 48,
        max_train_examples: 640,
        seed: 5,
        log_every: 4,
        optimiser: ablate_train::OptimiserSpec {
            lr: 3e-3,
            warmup_steps: 6,
            ..Default::default()
        },
        ..FinetuneSpec::default()
    }
}

/// Writes a copy of the task folder `from` whose sentences are labelled by whether they contain one of
/// `words`: a task that a model fine-tuned for a few dozen steps can learn, on held-out text.
fn keyword_task(from: &Path, to: &Path, words: &[&str]) {
    std::fs::create_dir_all(to.join("bshift")).unwrap();
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from.join("tasks.json")).unwrap()).unwrap();
    report["tasks"][0]["labels"] = serde_json::json!(["without", "with"]);
    std::fs::write(to.join("tasks.json"), report.to_string()).unwrap();
    for split in ["train", "valid", "test"] {
        let examples =
            ablate_data::tasks::read_examples(&from.join(format!("bshift/{split}.jsonl"))).unwrap();
        let relabelled: Vec<_> = examples
            .into_iter()
            .map(|mut e| {
                let lower = e.text_a.to_lowercase();
                let has = lower
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| words.contains(&w));
                e.label = u32::from(has);
                e
            })
            .collect();
        ablate_data::tasks::write_examples(&to.join(format!("bshift/{split}.jsonl")), &relabelled)
            .unwrap();
    }
}

#[test]
fn finetuning_runs_on_bshift_and_beats_chance_clearly_on_a_learnable_held_out_task() {
    let _serial = serial();
    let p = pretrained();
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();

    // bshift, its task set built on demand from the run's held-out text
    let spec = finetune_spec(&p.run);
    let started = std::time::Instant::now();
    let s = finetune::<Train>(&spec, &dir.path().join("bshift"), &device, &options()).unwrap();
    let e = s.final_eval.as_ref().unwrap();
    eprintln!(
        "bshift: {} steps in {:.1}s, test accuracy {:.3} (macro-F1 {:.3}) on {} examples, majority {:.3}",
        s.steps,
        started.elapsed().as_secs_f64(),
        e.test.accuracy,
        e.test.macro_f1,
        e.test.examples,
        s.test_majority_share
    );
    assert_eq!(s.status, RunStatus::Completed);
    assert_eq!(
        (s.task.as_str(), s.labels.len(), s.steps),
        ("bshift", 2, 40)
    );
    assert!(e.test.examples > 100 && (0.4..0.6).contains(&s.test_majority_share));
    let saved: FinetuneSummary = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("bshift/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved, s);
    let rows: Vec<FinetuneRow> = read_rows(&dir.path().join("bshift").join(METRICS_FILE)).unwrap();
    assert_eq!(rows.iter().filter(|r| r.kind == RowKind::Train).count(), 10);
    assert_eq!(rows.iter().filter(|r| r.kind == RowKind::Eval).count(), 1);

    // the same sentences labelled by a keyword: clearly above always guessing the majority class
    let tasks = ablate_train::task_data::task_folder(
        FinetuneTask::Bshift,
        None,
        &ablate_train::PretrainedRun::open(&p.run).unwrap(),
        &cache_dir(),
    )
    .unwrap();
    let keyword = dir.path().join("keyword-tasks");
    keyword_task(&tasks, &keyword, &["she", "her"]);
    let spec = FinetuneSpec {
        tasks_dir: Some(keyword),
        ..finetune_spec(&p.run)
    };
    let s = finetune::<Train>(&spec, &dir.path().join("keyword"), &device, &options()).unwrap();
    let e = s.final_eval.as_ref().unwrap();
    // three binomial standard errors above always answering the majority class (share m): sd sqrt(m (1 - m) / n)
    let m = s.test_majority_share;
    let bar = m + 3.0 * (m * (1.0 - m) / e.test.examples as f64).sqrt();
    eprintln!(
        "keyword task: test accuracy {:.3} (macro-F1 {:.3}), majority {:.3}, bar {bar:.3}",
        e.test.accuracy, e.test.macro_f1, s.test_majority_share
    );
    assert_eq!(s.labels, vec!["without", "with"]);
    assert!(
        e.test.accuracy > bar,
        "test accuracy {} is not clearly above chance {bar}",
        e.test.accuracy
    );
    assert!(e.test.macro_f1 > 0.6, "{}", e.test.macro_f1);
}

fn sift_spec(run: &Path) -> FinetuneSpec {
    FinetuneSpec {
        epochs: 1,
        max_train_examples: 96,
        optimiser: ablate_train::OptimiserSpec {
            lr: 1e-3,
            warmup_steps: 0,
            ..Default::default()
        },
        checkpoint_every: 2,
        log_every: 1,
        sift: SiftSpec {
            enabled: true,
            ..SiftSpec::default()
        },
        ..finetune_spec(run)
    }
}

#[test]
fn sift_runs_changes_the_loss_and_resumes_exactly() {
    let _serial = serial();
    let p = pretrained();
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    let with = sift_spec(&p.run);
    let without = FinetuneSpec {
        sift: SiftSpec::default(),
        ..with.clone()
    };
    let a = finetune::<Train>(&with, &dir.path().join("sift"), &device, &options()).unwrap();
    let b = finetune::<Train>(&without, &dir.path().join("plain"), &device, &options()).unwrap();
    assert_eq!(
        (a.status, b.status),
        (RunStatus::Completed, RunStatus::Completed)
    );
    assert!(a.sift && !b.sift);
    let rows_a: Vec<FinetuneRow> = read_rows(&dir.path().join("sift").join(METRICS_FILE)).unwrap();
    let rows_b: Vec<FinetuneRow> = read_rows(&dir.path().join("plain").join(METRICS_FILE)).unwrap();
    let train = |rows: &[FinetuneRow]| -> Vec<FinetuneRow> {
        rows.iter()
            .filter(|r| r.kind == RowKind::Train)
            .cloned()
            .collect()
    };
    let (ta, tb) = (train(&rows_a), train(&rows_b));
    assert_eq!(ta.len(), 3);
    let kl: Vec<f64> = ta.iter().map(|r| r.sift_loss.unwrap()).collect();
    eprintln!(
        "SiFT symmetric KL per step {kl:?}; losses with {:?} without {:?}",
        ta.iter().map(|r| r.loss.unwrap()).collect::<Vec<_>>(),
        tb.iter().map(|r| r.loss.unwrap()).collect::<Vec<_>>()
    );
    assert!(kl.iter().all(|v| v.is_finite() && *v > 0.0), "{kl:?}");
    assert!(tb.iter().all(|r| r.sift_loss.is_none()));
    // the clean forward is the plain one: the first step's loss is the same; SiFT changes the updates,
    // so every later loss differs
    assert_eq!(
        ta[0].loss, tb[0].loss,
        "SiFT changed the clean forward pass"
    );
    assert!(
        ta.iter().zip(&tb).skip(1).all(|(x, y)| x.loss != y.loss),
        "SiFT did not change the training"
    );

    // halted after 1 step (its checkpoint is at 2), resumed: identical metrics and weights
    let resumed = dir.path().join("resumed");
    let halt = TrainOptions {
        halt_after_steps: Some(1),
        ..options()
    };
    let h = finetune::<Train>(&with, &resumed, &device, &halt).unwrap();
    assert_eq!(h.status, RunStatus::Halted);
    let r = finetune::<Train>(&with, &resumed, &device, &options()).unwrap();
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.final_eval, a.final_eval);
    let rows_r: Vec<FinetuneRow> = read_rows(&resumed.join(METRICS_FILE)).unwrap();
    assert_eq!(strip_timing(&rows_r), strip_timing(&rows_a));
    let wa = checkpoint_weights(&dir.path().join("sift"), &with);
    let wr = checkpoint_weights(&resumed, &with);
    assert!(
        bit_identical(&wa, &wr),
        "resumed fine-tuning weights differ"
    );
}

fn strip_timing(rows: &[FinetuneRow]) -> Vec<FinetuneRow> {
    rows.iter()
        .map(|r| FinetuneRow {
            tokens_per_s: None,
            elapsed_s: 0.0,
            ..r.clone()
        })
        .collect()
}

fn checkpoint_weights(out: &Path, spec: &FinetuneSpec) -> Vec<Vec<f32>> {
    let device = Default::default();
    let run = ablate_train::PretrainedRun::open(&spec.from).unwrap();
    let encoder = run.load_mlm::<Cpu>(&device).unwrap().model;
    let clf = ablate_train::rng::with_seed::<Cpu, _>(&device, 0, || {
        ablate_model::ClassifierModel::new(encoder, 2, &device)
    });
    let (_, dir) = ablate_train::checkpoint::latest(out).unwrap().unwrap();
    weights(&ablate_train::checkpoint::load_model(clf, &dir, &device).unwrap())
}

#[test]
fn eval_scores_a_text_file_per_length_and_writes_json() {
    let _serial = serial();
    let p = pretrained();
    let dir = tempfile::tempdir().unwrap();
    // the first 200 lines of the bundled corpus
    let corpus = std::fs::read_to_string(ablate_data::bundled_corpus_path()).unwrap();
    let text: String = corpus.lines().take(200).map(|l| format!("{l}\n")).collect();
    let text_path = dir.path().join("sample.txt");
    std::fs::write(&text_path, text).unwrap();
    let opts = TextEvalOptions {
        lengths: vec![16, 32, 128],
        ..TextEvalOptions::new(&text_path)
    };
    let device = Default::default();
    let report = eval_text::<Cpu>(&p.run, &opts, &device).unwrap();
    let json_path = dir.path().join("out.json");
    ablate_train::fsutil::write_json(&json_path, &report).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    eprintln!("{json:#}");
    let loss = json["mlm_loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss < p.unigram, "{loss}");
    assert!(json["mlm_accuracy"].as_f64().unwrap() > 0.0);
    assert!(json["masked_tokens"].as_u64().unwrap() > 100);
    let by_length = json["by_length"].as_array().unwrap();
    assert_eq!(by_length.len(), 3);
    assert_eq!(
        by_length[1]["mlm_loss"].as_f64(),
        Some(loss),
        "length 32 is the run's own max_len"
    );
    assert!(by_length[0]["mlm_loss"].as_f64().unwrap().is_finite());
    // 128 > max_position_embeddings = 64 of this EMD model: skipped with a note, not a panic
    assert!(by_length[2]["mlm_loss"].is_null());
    assert!(
        by_length[2]["skipped"]
            .as_str()
            .unwrap()
            .contains("max_position_embeddings")
    );
    // deterministic masking: the same report again
    assert_eq!(eval_text::<Cpu>(&p.run, &opts, &device).unwrap(), report);
    let no_lengths = eval_text::<Cpu>(&p.run, &TextEvalOptions::new(&text_path), &device).unwrap();
    assert!(no_lengths.by_length.is_none());
    assert!(
        !serde_json::to_string(&no_lengths)
            .unwrap()
            .contains("by_length")
    );
}
