//! Exact resume and failure handling of pre-training: a run stopped abruptly (by the halt hook, or by a
//! real SIGKILL of a child process) and started again ends bit-identical to an uninterrupted run; a
//! non-finite loss marks the run failed and keeps its last good checkpoint; a folder is never continued
//! under another spec.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ablate_model::MlmModel;
use ablate_train::metrics::{METRICS_FILE, PretrainRow, read_rows};
use ablate_train::{PretrainSummary, RunSpec, RunStatus, TrainOptions, checkpoint, pretrain};
use common::*;

/// 30 steps of 2 micro-batches each, dropout on, a checkpoint and an evaluation every 10 steps.
fn spec() -> RunSpec {
    tiny_spec(
        "steps = 30\ngrad_accum = 2\nbatch_size = 8\ncheckpoint_every = 10\neval_every = 10\neval_batches = 2\nlog_every = 1",
    )
}

struct Reference {
    _dir: tempfile::TempDir,
    run: PathBuf,
    summary: PretrainSummary,
}

/// The uninterrupted run.
fn reference() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let summary = pretrain::<Train>(&spec(), &run, &Default::default(), &options()).unwrap();
        assert_eq!(summary.status, RunStatus::Completed);
        Reference {
            _dir: dir,
            run,
            summary,
        }
    })
}

/// A model to load weights into, built under the RNG lock so that runs training in parallel threads of this
/// test binary keep their exact random streams.
fn new_model(config: &ablate_model::ModelConfig) -> MlmModel<Cpu> {
    let device = Default::default();
    ablate_train::rng::with_seed::<Cpu, _>(&device, 0, || MlmModel::new(config, &device).unwrap())
}

fn final_weights(run: &Path, spec: &RunSpec) -> Vec<Vec<f32>> {
    let device = Default::default();
    let (manifest, dir) = checkpoint::latest(run).unwrap().unwrap();
    assert_eq!(manifest.step, spec.steps);
    let model = new_model(&spec.model.config);
    weights(&checkpoint::load_model(model, &dir, &device).unwrap())
}

fn rows_without_timing(run: &Path) -> Vec<PretrainRow> {
    read_rows::<PretrainRow>(&run.join(METRICS_FILE))
        .unwrap()
        .into_iter()
        .map(|r| PretrainRow {
            tokens_per_s: None,
            elapsed_s: 0.0,
            ..r
        })
        .collect()
}

fn assert_same_as_reference(run: &Path, summary: &PretrainSummary) {
    let r = reference();
    assert_eq!(summary.status, RunStatus::Completed);
    let (mine, theirs) = (rows_without_timing(run), rows_without_timing(&r.run));
    if let Some((a, b)) = mine.iter().zip(&theirs).find(|(a, b)| a != b) {
        panic!("first differing metrics row:\n resumed   {a:?}\n reference {b:?}");
    }
    assert_eq!(summary.final_train_loss, r.summary.final_train_loss);
    assert_eq!(summary.final_eval, r.summary.final_eval);
    assert_eq!(summary.best_eval, r.summary.best_eval);
    assert_eq!(summary.tokens_seen, r.summary.tokens_seen);
    let rows = rows_without_timing(run);
    assert_eq!(
        rows.len(),
        30 + 3,
        "one train row per step, one eval row per 10 steps"
    );
    assert_eq!(rows, rows_without_timing(&r.run));
    let spec = spec();
    assert!(
        bit_identical(&final_weights(run, &spec), &final_weights(&r.run, &spec)),
        "weights differ"
    );
}

#[test]
fn halted_twice_and_resumed_is_bit_identical_to_an_uninterrupted_run() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let device = Default::default();
    let halt = |n| TrainOptions {
        halt_after_steps: Some(n),
        ..options()
    };
    // steps 1..=15 (checkpoint at 10), then 11..=17 (nothing new saved), then 11..=30
    let a = pretrain::<Train>(&spec(), &run, &device, &halt(15)).unwrap();
    assert_eq!((a.status, a.steps_done), (RunStatus::Halted, 15));
    assert_eq!(checkpoint::latest(&run).unwrap().unwrap().0.step, 10);
    let b = pretrain::<Train>(&spec(), &run, &device, &halt(7)).unwrap();
    assert_eq!((b.status, b.steps_done), (RunStatus::Halted, 17));
    let c = pretrain::<Train>(&spec(), &run, &device, &options()).unwrap();
    assert_same_as_reference(&run, &c);

    // the comparison can fail: another seed gives other weights
    let other = dir.path().join("other");
    let mut seed4 = RunSpec {
        seed: 4,
        steps: 10,
        ..spec()
    };
    seed4.optimiser.warmup_steps = 5;
    pretrain::<Train>(&seed4, &other, &device, &options()).unwrap();
    let (_, d) = checkpoint::latest(&other).unwrap().unwrap();
    let m = new_model(&seed4.model.config);
    let w = weights(&checkpoint::load_model(m, &d, &device).unwrap());
    assert!(!bit_identical(
        &w,
        &final_weights(&reference().run, &spec())
    ));
}

const CHILD_ENV: &str = "ABLATE_TRAIN_KILL_CHILD_RUN";

#[test]
fn killed_with_sigkill_and_restarted_is_bit_identical_to_an_uninterrupted_run() {
    if let Ok(run) = std::env::var(CHILD_ENV) {
        // the child: train until killed
        pretrain::<Train>(&spec(), Path::new(&run), &Default::default(), &options()).unwrap();
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killed_with_sigkill_and_restarted_is_bit_identical_to_an_uninterrupted_run",
        ])
        .env(CHILD_ENV, &run)
        .spawn()
        .unwrap();
    // kill as soon as the first checkpoint is current, in the middle of the steps after it
    let started = Instant::now();
    let killed_at = loop {
        if let Ok(Some((m, _))) = checkpoint::latest(&run) {
            std::thread::sleep(Duration::from_millis(300));
            child.kill().unwrap();
            break m.step;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended before its first checkpoint"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no checkpoint after 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.wait().unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["status"], "running",
        "the child was killed after step {killed_at}, not finished"
    );
    let resumed = pretrain::<Train>(&spec(), &run, &Default::default(), &options()).unwrap();
    assert_same_as_reference(&run, &resumed);
}

#[test]
fn a_nan_loss_fails_the_run_and_keeps_the_last_good_checkpoint() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let absurd = tiny_spec(
        "steps = 20\ncheckpoint_every = 1\neval_every = 0\n[optimiser]\nlr = 1e30\nwarmup_steps = 0",
    );
    let s = pretrain::<Train>(&absurd, &run, &Default::default(), &options()).unwrap();
    assert_eq!(s.status, RunStatus::Failed);
    let failure = s.failure.clone().unwrap();
    eprintln!("{failure:?}");
    assert!(
        failure.reason.contains("NaN") || failure.reason.contains("inf"),
        "{}",
        failure.reason
    );
    assert!(failure.step >= 2 && failure.step < 20);
    assert_eq!(failure.last_checkpoint_step, Some(failure.step - 1));
    assert_eq!(s.steps_done, failure.step - 1);
    let saved: PretrainSummary =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(saved, s);
    let (manifest, ckpt) = checkpoint::latest(&run).unwrap().unwrap();
    assert_eq!(manifest.step, failure.step - 1);
    let device = Default::default();
    let model = new_model(&absurd.model.config);
    checkpoint::load_model(model, &ckpt, &device).unwrap();
    // starting it again is refused with the reason
    let err = pretrain::<Train>(&absurd, &run, &device, &options())
        .unwrap_err()
        .to_string();
    assert!(err.contains("failed at step"), "{err}");
}

#[test]
fn a_folder_is_not_continued_under_another_spec_but_a_finished_run_is_reported() {
    let _serial = serial();
    let r = reference();
    let device = Default::default();
    let mut other = spec();
    other.seed = 9;
    other.optimiser.lr = 1e-3;
    let err = pretrain::<Train>(&other, &r.run, &device, &options())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("optimiser.lr") && err.contains("seed"),
        "{err}"
    );
    assert!(!err.contains("steps,"), "{err}");
    // the same spec on another device string is the same run: it is complete, so nothing is trained
    let mut same = spec();
    same.device = "cuda:1".parse().unwrap();
    let metrics_before = std::fs::read(r.run.join(METRICS_FILE)).unwrap();
    let s = pretrain::<Train>(&same, &r.run, &device, &options()).unwrap();
    assert_eq!(s, r.summary);
    assert_eq!(
        std::fs::read(r.run.join(METRICS_FILE)).unwrap(),
        metrics_before
    );
}

/// Damages the current checkpoint of a run halted at step 25 (checkpoints at 10 and 20, both kept): loading it
/// is refused with the damaged file named, and a resume goes on from step 10 and still ends bit-identical to the
/// uninterrupted run.
fn damaged_latest_checkpoint_falls_back_to_the_previous(damage: fn(&Path), what: &str) {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let device = Default::default();
    let halt = TrainOptions {
        halt_after_steps: Some(25),
        ..options()
    };
    pretrain::<Train>(&spec(), &run, &device, &halt).unwrap();
    let (manifest, current) = checkpoint::latest(&run).unwrap().unwrap();
    assert_eq!(manifest.step, 20);
    assert_eq!(manifest.previous.as_deref(), Some("ckpt-00000010"));
    assert!(run.join("ckpt-00000010").is_dir(), "the previous is kept");
    let model = current.join("model.mpk");
    damage(&model);
    let err = checkpoint::latest(&run).unwrap_err().to_string();
    assert!(
        err.contains("model.mpk") && err.contains("corrupted"),
        "{what}: {err}"
    );
    let (m, d) = checkpoint::latest_good(&run).unwrap().unwrap();
    assert_eq!((m.step, d), (10, run.join("ckpt-00000010")), "{what}");
    let done = pretrain::<Train>(&spec(), &run, &device, &options()).unwrap();
    assert_same_as_reference(&run, &done);
    // The resume rewrote step 20's checkpoint whole; the last two (20 and 30) are intact, 10 is gone.
    let (m, _) = checkpoint::latest(&run).unwrap().unwrap();
    assert_eq!((m.step, m.previous.as_deref()), (30, Some("ckpt-00000020")));
    ablate_train::checksum::verify(&current).unwrap();
    assert!(!run.join("ckpt-00000010").exists(), "{what}");
}

#[test]
fn a_truncated_latest_checkpoint_is_named_and_the_previous_one_resumes() {
    damaged_latest_checkpoint_falls_back_to_the_previous(
        |p| {
            let len = std::fs::metadata(p).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            f.set_len(len / 2).unwrap();
        },
        "truncated",
    );
}

#[test]
fn a_bit_flip_in_the_latest_checkpoint_is_named_and_the_previous_one_resumes() {
    damaged_latest_checkpoint_falls_back_to_the_previous(
        |p| {
            let mut bytes = std::fs::read(p).unwrap();
            let i = bytes.len() - 100;
            bytes[i] ^= 0x10;
            std::fs::write(p, bytes).unwrap();
        },
        "bit flip",
    );
}

#[test]
fn identical_runs_write_identical_checkpoint_bytes() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    pretrain::<Train>(&spec(), &run, &Default::default(), &options()).unwrap();
    let (_, mine) = checkpoint::latest(&run).unwrap().unwrap();
    let (_, theirs) = checkpoint::latest(&reference().run).unwrap().unwrap();
    for file in ["model.mpk", "optimizer.mpk"] {
        let a = ablate_train::checksum::sum_file(&mine.join(file)).unwrap();
        let b = ablate_train::checksum::sum_file(&theirs.join(file)).unwrap();
        assert_eq!(
            a, b,
            "{file}: the final checkpoint is not a fingerprint of the run"
        );
    }
}
