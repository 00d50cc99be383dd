//! One call from a corpus to an opened shard folder, with the tokenizer and the shards cached by
//! what they are built from.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::corpus::{Corpus, bundled_corpus_path};
use crate::error::{DataError, Result};
use crate::hashing::fingerprint_of;
use crate::reader::ShardSet;
use crate::shards::{INDEX_FILE, ShardConfig, build_shards};
use crate::split::SplitConfig;
use crate::tokenizer::{CacheStatus, TextTokenizer, TokenizerConfig};

/// What data a run trains on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DataSpec {
    /// Corpus file or folder; `None` is the bundled Austen sample.
    pub corpus: Option<PathBuf>,
    /// An existing `tokenizer.json` to use instead of training one.
    pub tokenizer_file: Option<PathBuf>,
    /// Tokenizer training settings (ignored with `tokenizer_file`).
    pub tokenizer: TokenizerConfig,
    /// Split settings.
    pub split: SplitConfig,
    /// Shard settings.
    pub shards: ShardConfig,
}

impl DataSpec {
    /// The corpus path this spec reads.
    pub fn corpus_path(&self) -> PathBuf {
        self.corpus.clone().unwrap_or_else(bundled_corpus_path)
    }
}

/// The result of [`prepare`].
#[derive(Debug)]
pub struct PreparedData {
    /// The opened shard folder (its tokenizer is [`ShardSet::tokenizer`]).
    pub shards: ShardSet,
    /// Whether the tokenizer was trained now (`Built`) or reused; a given file counts as reused.
    pub tokenizer_status: CacheStatus,
    /// Whether the shards were built now or reused.
    pub shards_status: CacheStatus,
}

/// Opens the corpus, gets the tokenizer (given, cached or trained) and the shards (cached or
/// built) under `cache_dir`, and opens the shard folder.
///
/// Processes sharing `cache_dir` (the runs of `ablate run --jobs N`) prepare one at a time: an exclusive lock
/// on `cache_dir/.lock` is held while the tokenizer and shards are looked up or built, so the second process
/// reuses what the first built instead of building the same files alongside it.
pub fn prepare(spec: &DataSpec, cache_dir: &Path) -> Result<PreparedData> {
    std::fs::create_dir_all(cache_dir).map_err(|e| DataError::io(cache_dir, e))?;
    let lock_path = cache_dir.join(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| DataError::io(&lock_path, e))?;
    lock.lock().map_err(|e| DataError::io(&lock_path, e))?;
    let corpus = Corpus::open(spec.corpus_path())?;
    let (tokenizer, tokenizer_status) = match &spec.tokenizer_file {
        Some(path) => (TextTokenizer::load(path)?, CacheStatus::Reused),
        None => TextTokenizer::cached(&corpus, &spec.split, &spec.tokenizer, cache_dir)?,
    };
    let settings = serde_json::to_string(&(&spec.split, &spec.shards)).expect("plain data");
    let key = fingerprint_of(&[
        "shards-cache-v1",
        corpus.fingerprint(),
        tokenizer.fingerprint(),
        &settings,
    ]);
    let dir = cache_dir.join(format!("shards-{}", &key[..16]));
    if dir.join(INDEX_FILE).is_file()
        && let Ok(set) = ShardSet::open(&dir)
        && set.index().corpus_fingerprint == corpus.fingerprint()
        && set.index().tokenizer_fingerprint == tokenizer.fingerprint()
    {
        return Ok(PreparedData {
            shards: set,
            tokenizer_status,
            shards_status: CacheStatus::Reused,
        });
    }
    build_shards(&corpus, &tokenizer, &spec.split, &spec.shards, &dir)?;
    Ok(PreparedData {
        shards: ShardSet::open(&dir)?,
        tokenizer_status,
        shards_status: CacheStatus::Built,
    })
}
