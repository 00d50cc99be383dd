//! A tokenizer and shard folder built once per test binary from the bundled Austen corpus.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ablate_data::{
    Corpus, ShardConfig, ShardSet, SplitConfig, TextTokenizer, TokenizerConfig, build_shards,
    bundled_corpus_path,
};

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub corpus: Corpus,
    pub split: SplitConfig,
    pub tokenizer: TextTokenizer,
    pub shards_dir: PathBuf,
}

/// Held-out fractions large enough that the small corpus gives task examples.
pub fn split_config() -> SplitConfig {
    SplitConfig {
        valid_fraction: 0.03,
        test_fraction: 0.06,
        ..SplitConfig::default()
    }
}

pub fn tokenizer_config() -> TokenizerConfig {
    TokenizerConfig {
        vocab_size: 3000,
        ..TokenizerConfig::default()
    }
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let corpus = Corpus::open(bundled_corpus_path()).unwrap();
        let split = split_config();
        let tokenizer = TextTokenizer::train(
            &corpus,
            &split,
            &tokenizer_config(),
            &root.join("tok/tokenizer.json"),
        )
        .unwrap();
        let shards_dir = root.join("shards");
        let cfg = ShardConfig {
            shard_tokens: 50_000, // several files per split, so rows cross file ends
            ..ShardConfig::default()
        };
        build_shards(&corpus, &tokenizer, &split, &cfg, &shards_dir).unwrap();
        Fixture {
            _dir: dir,
            root,
            corpus,
            split,
            tokenizer,
            shards_dir,
        }
    })
}

pub fn shards() -> ShardSet {
    ShardSet::open(&fixture().shards_dir).unwrap()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
