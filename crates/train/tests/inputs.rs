//! Bad inputs fail before any work, with messages that name the key (and the allowed keys or values);
//! the resolved spec round-trips.

mod common;

use ablate_train::{
    FinetuneSpec, PretrainedRun, RunSpec, TextEvalOptions, TrainError, check_text_eval,
};
use common::*;

/// The error for [`TINY_SPEC`] with `overrides` merged in, from parsing or from validation.
fn rejected(overrides: &str) -> String {
    match RunSpec::from_toml_str(&tiny_spec_text(overrides)).and_then(|s| s.validate().map(|_| s)) {
        Ok(_) => panic!("accepted: {overrides}"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(message: &str, words: &[&str]) {
    for w in words {
        assert!(message.contains(w), "`{w}` missing from: {message}");
    }
}

#[test]
fn unknown_keys_are_rejected_naming_the_key_and_the_allowed_ones() {
    assert_mentions(&rejected("stepz = 5"), &["stepz", "steps", "grad_accum"]);
    let text = TINY_SPEC.replace("lr = 5e-3", "learning_rate = 5e-3");
    let e = RunSpec::from_toml_str(&text).unwrap_err().to_string();
    assert_mentions(&e, &["learning_rate", "lr", "warmup_steps"]);
    let text = TINY_SPEC.replace("hidden_size = 64", "hiden_size = 64");
    let e = RunSpec::from_toml_str(&text).unwrap_err().to_string();
    assert_mentions(&e, &["hiden_size", "hidden_size"]);
    let text = TINY_SPEC.replace("max_len = 32", "max_len = 32\nmax_lenght = 3");
    let e = RunSpec::from_toml_str(&text).unwrap_err().to_string();
    assert_mentions(&e, &["max_lenght", "max_len"]);
    let e = FinetuneSpec::from_toml_str("epochz = 3")
        .unwrap_err()
        .to_string();
    assert_mentions(&e, &["epochz", "epochs"]);
}

#[test]
fn bad_values_are_rejected_naming_the_key_and_the_allowed_values() {
    let text = TINY_SPEC.replace("preset = \"deberta\"", "preset = \"roberta\"");
    let e = RunSpec::from_toml_str(&text).unwrap_err().to_string();
    assert_mentions(&e, &["roberta", "deberta-no-emd", "bert"]);
    let text = TINY_SPEC.replace("warmup_steps = 20", "warmup_steps = 20\ndecay = \"cosine\"");
    let e = RunSpec::from_toml_str(&text).unwrap_err().to_string();
    assert_mentions(&e, &["cosine", "linear", "constant"]);
    let e = RunSpec::from_toml_str(&format!("device = \"tpu\"\n{TINY_SPEC}"))
        .unwrap_err()
        .to_string();
    assert_mentions(&e, &["tpu", "cpu, cuda or cuda:N"]);
    let text = TINY_SPEC.replace("[model]", "[model.position]\nkind = \"warp\"\n[model]");
    assert!(RunSpec::from_toml_str(&text).is_err());

    assert_mentions(
        &rejected("[optimiser]\nlr = -1.0"),
        &["optimiser.lr", "positive"],
    );
    assert_mentions(
        &rejected("[optimiser]\nbetas = [0.9, 1.5]"),
        &["optimiser.betas", "[0, 1)"],
    );
    assert_mentions(
        &rejected("[optimiser]\nwarmup_steps = 1000"),
        &["optimiser.warmup_steps", "60 steps"],
    );
    assert_mentions(&rejected("batch_size = 0"), &["batch_size", "at least 1"]);
    assert_mentions(
        &rejected("[data]\nmax_len = 128"),
        &["data.max_len", "max_position_embeddings = 64"],
    );
    assert_mentions(
        &rejected("[data.masking]\nrate = 1.5"),
        &["masking.rate", "(0, 1)"],
    );
    assert_mentions(
        &rejected("[model]\nhidden_dropout_prob = 1.5"),
        &["hidden_dropout_prob", "[0, 1)"],
    );
    assert_mentions(
        &rejected("[model]\nvocab_size = 500"),
        &["model.vocab_size", "data.tokenizer.vocab_size = 1000"],
    );
    let e = FinetuneSpec {
        epochs: 0,
        ..FinetuneSpec::default()
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert_mentions(&e, &["epochs"]);
    let mut f = FinetuneSpec::default();
    f.sift.lambda = f64::NAN;
    assert_mentions(&f.validate().unwrap_err().to_string(), &["sift.lambda"]);
    let e = "pos_tag"
        .parse::<ablate_train::FinetuneTask>()
        .unwrap_err()
        .to_string();
    assert_mentions(&e, &["pos_tag", "bshift, sent_order or wn_pos_context"]);
}

#[test]
fn the_resolved_spec_round_trips_and_lists_differing_keys() {
    let spec = tiny_spec("");
    let text = spec.to_toml_string().unwrap();
    let again = RunSpec::from_toml_str(&text).unwrap();
    assert_eq!(again, spec);
    assert!(again.differing_keys(&spec).is_empty());
    assert!(
        text.contains("hidden_size = 64") && text.contains("max_relative_positions"),
        "{text}"
    );
    let mut other = spec.clone();
    other.model.config.hidden_dropout_prob = 0.2;
    other.data.masking.rate = 0.2;
    assert_eq!(
        other.differing_keys(&spec),
        vec!["data.masking.rate", "model.hidden_dropout_prob"]
    );
    assert!(RunSpec::default().validate().is_ok());
    // the vocabulary follows the tokenizer unless set
    assert_eq!(spec.model.config.vocab_size, 1000);
}

#[test]
fn spec_files_resolve_relative_paths_and_report_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.toml");
    std::fs::write(
        &path,
        tiny_spec_text("[data]\ncorpus = \"texts/corpus.txt\""),
    )
    .unwrap();
    let spec = RunSpec::from_toml_file(&path).unwrap();
    assert_eq!(
        spec.data.corpus.unwrap(),
        dir.path().join("texts/corpus.txt")
    );
    std::fs::write(&path, "steps = \"many\"").unwrap();
    let e = RunSpec::from_toml_file(&path).unwrap_err();
    assert!(matches!(e, TrainError::SpecFile { .. }));
    assert_mentions(&e.to_string(), &["run.toml", "steps"]);
    let missing = RunSpec::from_toml_file(dir.path().join("nope.toml"))
        .unwrap_err()
        .to_string();
    assert_mentions(&missing, &["nope.toml"]);
}

#[test]
fn evaluation_and_fine_tuning_inputs_are_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let e = PretrainedRun::open(&dir.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert_mentions(&e, &["missing", "no such folder"]);
    let e = PretrainedRun::open(dir.path()).unwrap_err().to_string();
    assert_mentions(&e, &["spec.resolved.toml", "not a pre-training run folder"]);
    let e = check_text_eval(dir.path(), &TextEvalOptions::new("x.txt"))
        .unwrap_err()
        .to_string();
    assert_mentions(&e, &["not a pre-training run folder"]);
    let spec = FinetuneSpec {
        from: dir.path().join("missing"),
        ..FinetuneSpec::default()
    };
    let e = ablate_train::finetune::<Train>(
        &spec,
        &dir.path().join("out"),
        &Default::default(),
        &options(),
    )
    .unwrap_err()
    .to_string();
    assert_mentions(&e, &["no such folder"]);
    assert!(
        !dir.path().join("out").exists(),
        "nothing is written before the inputs are checked"
    );
}
