//! Every bad input gives its own error variant, naming the file and the problem.

mod common;

use std::path::Path;

use ablate_data::tasks::{TaskKind, TaskOptions, build_tasks};
use ablate_data::{
    BatchConfig, Corpus, DataError, MlmBatcher, ShardConfig, ShardSet, Split, SplitConfig,
    TextTokenizer, TokenizerConfig, build_shards, bundled_corpus_path,
};
use common::write;

fn names(err: &DataError, path: &Path) {
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "`{text}` does not name {}",
        path.display()
    );
    assert_eq!(err.path(), Some(path), "{text}");
}

/// A tokenizer trained on part of the bundled corpus, for the tiny corpora below.
fn small_tokenizer(dir: &Path) -> TextTokenizer {
    let bytes = std::fs::read(bundled_corpus_path()).unwrap();
    let text = write(dir, "part.txt", &bytes[..100_000]);
    let corpus = Corpus::open(&text).unwrap();
    let cfg = TokenizerConfig {
        vocab_size: 400,
        ..TokenizerConfig::default()
    };
    TextTokenizer::train(
        &corpus,
        &SplitConfig::default(),
        &cfg,
        &dir.join("tok.json"),
    )
    .unwrap()
}

#[test]
fn empty_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [("empty.txt", &b""[..]), ("blank.txt", &b"  \n\n\t\n"[..])] {
        let p = write(dir.path(), name, body);
        let err = Corpus::open(&p).unwrap_err();
        assert!(matches!(err, DataError::EmptyFile { .. }), "{err}");
        names(&err, &p);
    }
}

#[test]
fn an_empty_file_inside_a_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"Some real text here.\n");
    let p = write(dir.path(), "b.txt", b"");
    let err = Corpus::open(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::EmptyFile { .. }), "{err}");
    names(&err, &p);
}

#[test]
fn non_utf8_bytes_give_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "latin1.txt", b"first line\ncaf\xe9 au lait\n");
    let err = Corpus::open(&p).unwrap_err();
    match &err {
        DataError::InvalidUtf8 {
            line, byte_offset, ..
        } => assert_eq!((*line, *byte_offset), (2, 14)),
        other => panic!("expected InvalidUtf8, got {other}"),
    }
    names(&err, &p);
    assert!(err.to_string().contains("line 2"));
}

#[test]
fn unreadable_paths_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.txt");
    let err = Corpus::open(&missing).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    names(&err, &missing);

    let file = write(dir.path(), "file.txt", b"text\n");
    let under_file = file.join("corpus.txt");
    let err = Corpus::open(&under_file).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
    names(&err, &under_file);

    let empty_dir = dir.path().join("nothing");
    std::fs::create_dir(&empty_dir).unwrap();
    write(&empty_dir, "readme.md", b"not a corpus file\n");
    let err = Corpus::open(&empty_dir).unwrap_err();
    assert!(matches!(err, DataError::NoTextFiles { .. }), "{err}");
    names(&err, &empty_dir);

    let err = TextTokenizer::load(dir.path().join("tokenizer.json")).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
    let err = ShardSet::open(dir.path().join("no-shards")).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
}

#[test]
fn a_vocabulary_larger_than_the_corpus_supports_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "tiny.txt",
        b"The cat sat on the mat.\nThe dog sat on the log.\n\nA bird sang.\n",
    );
    let corpus = Corpus::open(&p).unwrap();
    let cfg = TokenizerConfig {
        vocab_size: 5000,
        ..TokenizerConfig::default()
    };
    let out = dir.path().join("tok/tokenizer.json");
    let err = TextTokenizer::train(&corpus, &SplitConfig::default(), &cfg, &out).unwrap_err();
    match &err {
        DataError::VocabTooLarge {
            requested,
            achieved,
            ..
        } => {
            assert_eq!(*requested, 5000);
            assert!(*achieved < 100, "{achieved}");
        }
        other => panic!("expected VocabTooLarge, got {other}"),
    }
    names(&err, &p);
    assert!(!out.exists(), "no tokenizer file is left behind");
}

#[test]
fn a_corpus_smaller_than_one_batch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tok = small_tokenizer(dir.path());
    let p = write(
        dir.path(),
        "short.txt",
        b"It was a bright cold day in April.\nThe clocks were striking thirteen.\n\nNothing else was said.\n",
    );
    let corpus = Corpus::open(&p).unwrap();
    let shards = dir.path().join("shards");
    let split = SplitConfig {
        valid_fraction: 0.0,
        test_fraction: 0.0,
        ..SplitConfig::default()
    };
    build_shards(&corpus, &tok, &split, &ShardConfig::default(), &shards).unwrap();
    let set = ShardSet::open(&shards).unwrap();
    let cfg = BatchConfig {
        batch_size: 4,
        max_len: 16,
        ..BatchConfig::default()
    };
    let err = MlmBatcher::new(&set, Split::Train, cfg).unwrap_err();
    match &err {
        DataError::CorpusTooSmall {
            sequences,
            batch_size,
            ..
        } => assert!((*sequences as usize) < *batch_size),
        other => panic!("expected CorpusTooSmall, got {other}"),
    }
    names(&err, &shards.join("index.json"));
}

#[test]
fn damaged_shards_and_tokenizers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let tok = small_tokenizer(dir.path());
    let corpus = Corpus::open(dir.path().join("part.txt")).unwrap();
    let shards = dir.path().join("shards");
    let index = build_shards(
        &corpus,
        &tok,
        &SplitConfig::default(),
        &ShardConfig::default(),
        &shards,
    )
    .unwrap();
    let file = shards.join(&index.split(Split::Train).shards[0].file);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 2]).unwrap();
    let set = ShardSet::open(&shards).unwrap();
    let err = MlmBatcher::new(&set, Split::Train, BatchConfig::default()).unwrap_err();
    assert!(matches!(err, DataError::Format { .. }), "{err}");
    names(&err, &file);

    let bad = write(dir.path(), "bad.json", b"{ not json");
    let err = TextTokenizer::load(&bad).unwrap_err();
    assert!(matches!(err, DataError::Tokenizer { .. }), "{err}");
    names(&err, &bad);

    // A valid HF tokenizer without the lab's special tokens.
    let json = std::fs::read_to_string(tok.path())
        .unwrap()
        .replace("[MASK]", "[MSK]");
    let renamed = write(dir.path(), "renamed.json", json.as_bytes());
    let err = TextTokenizer::load(&renamed).unwrap_err();
    assert!(err.to_string().contains("[MASK]"), "{err}");
    names(&err, &renamed);
}

#[test]
fn an_existing_foreign_output_folder_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let tok = small_tokenizer(dir.path());
    let corpus = Corpus::open(dir.path().join("part.txt")).unwrap();
    let out = dir.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    write(&out, "keep.txt", b"precious");
    let err = build_shards(
        &corpus,
        &tok,
        &SplitConfig::default(),
        &ShardConfig::default(),
        &out,
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Format { .. }), "{err}");
    assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"precious");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left: {leftovers:?}"
    );
}

#[test]
fn missing_wordnet_names_the_package_and_install_script() {
    let dir = tempfile::tempdir().unwrap();
    let opts = TaskOptions {
        tasks: vec![TaskKind::WnPosContext],
        wordnet_dir: dir.path().join("wordnet"),
        ..TaskOptions::default()
    };
    let out = dir.path().join("tasks");
    let err = build_tasks(&dir.path().join("shards"), &out, &opts).unwrap_err();
    match &err {
        DataError::MissingPackages { packages, .. } => assert_eq!(packages, &["wordnet-base"]),
        other => panic!("expected MissingPackages, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("install_corpus_packages.sh"), "{text}");
    assert!(!out.exists());
}

#[test]
fn bad_settings_are_config_errors() {
    let err = SplitConfig {
        test_fraction: 1.5,
        ..SplitConfig::default()
    }
    .validate()
    .unwrap_err();
    assert!(
        matches!(err, DataError::Config { ref key, .. } if key == "test_fraction"),
        "{err}"
    );
    let err = TokenizerConfig {
        vocab_size: 10,
        ..TokenizerConfig::default()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("vocab_size"), "{err}");
    assert!("wordpiece2".parse::<ablate_data::TokenizerModel>().is_err());
}
