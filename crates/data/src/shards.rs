//! Token shards: each split of a corpus tokenised once into binary files of little-endian u16
//! (vocabulary up to 65,536) or u32 ids, with an `index.json` and a copy of the `tokenizer.json`.
//!
//! A split is one token stream: the passages of that split in corpus order, with `[SEP]` wherever
//! the text is not continuous (a new document, or a passage of the same document that went to
//! another split). The stream is cut into files of `shard_tokens` ids; a sequence read later may
//! span two files. The folder is written under a temporary name and renamed when complete.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::{self, AtomicDir};
use crate::corpus::{Corpus, CorpusStats, Passage};
use crate::error::{DataError, IoContext, Result};
use crate::hashing::fingerprint_of;
use crate::split::{Split, SplitConfig, SplitCounts};
use crate::tokenizer::{SpecialIds, TextTokenizer};

/// Name of the index file in a shard folder.
pub const INDEX_FILE: &str = "index.json";
/// Name of the tokenizer copy in a shard folder.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Version of the shard layout.
pub const SHARD_FORMAT: u32 = 1;

/// Width of the stored ids.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenDtype {
    /// Two bytes per id.
    U16,
    /// Four bytes per id.
    U32,
}

impl TokenDtype {
    /// The narrowest type that holds every id of a vocabulary of `vocab_size`.
    pub fn for_vocab(vocab_size: usize) -> Self {
        if vocab_size <= 1 << 16 {
            TokenDtype::U16
        } else {
            TokenDtype::U32
        }
    }

    /// Bytes per id.
    pub fn width(self) -> usize {
        match self {
            TokenDtype::U16 => 2,
            TokenDtype::U32 => 4,
        }
    }
}

/// Shard writing settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ShardConfig {
    /// Ids per shard file (default 4,194,304: 8 MiB of u16).
    pub shard_tokens: u64,
    /// Passages tokenised per parallel batch (default 512; affects speed only).
    pub encode_batch: usize,
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig {
            shard_tokens: 1 << 22,
            encode_batch: 512,
        }
    }
}

/// One shard file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ShardFile {
    /// File name inside the shard folder.
    pub file: String,
    /// Ids in the file.
    pub tokens: u64,
}

/// The token stream of one split.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct SplitShards {
    /// Ids in the stream, `[SEP]` separators included.
    pub tokens: u64,
    /// Continuous pieces of text (separated by `[SEP]`).
    pub pieces: u64,
    /// Passages, paragraphs and words of the split.
    pub counts: SplitCounts,
    /// The files, in stream order.
    pub shards: Vec<ShardFile>,
}

/// The `index.json` of a shard folder.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ShardIndex {
    /// Layout version ([`SHARD_FORMAT`]).
    pub format: u32,
    /// Width of the stored ids.
    pub dtype: TokenDtype,
    /// Vocabulary size of the tokenizer.
    pub vocab_size: usize,
    /// Special token ids.
    pub special: SpecialIds,
    /// The corpus the shards were built from (absolute path).
    pub corpus_path: PathBuf,
    /// Its fingerprint at build time.
    pub corpus_fingerprint: String,
    /// Its counts at build time.
    pub corpus_stats: CorpusStats,
    /// Fingerprint of the tokenizer used.
    pub tokenizer_fingerprint: String,
    /// The split settings.
    pub split: SplitConfig,
    /// The shard settings.
    pub config: ShardConfig,
    /// Streams per split.
    pub splits: BTreeMap<Split, SplitShards>,
    /// Identity of this shard set (corpus, tokenizer, settings).
    pub fingerprint: String,
}

impl ShardIndex {
    /// Reads `dir/index.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(INDEX_FILE);
        let index: ShardIndex = atomic::read_json(&path)?;
        if index.format != SHARD_FORMAT {
            return Err(DataError::format(
                &path,
                format!(
                    "shard format {} is not the supported {SHARD_FORMAT}; rebuild with `ablate data shards`",
                    index.format
                ),
            ));
        }
        Ok(index)
    }

    /// The stream of one split.
    pub fn split(&self, split: Split) -> &SplitShards {
        static EMPTY: std::sync::OnceLock<SplitShards> = std::sync::OnceLock::new();
        self.splits
            .get(&split)
            .unwrap_or_else(|| EMPTY.get_or_init(SplitShards::default))
    }
}

struct SplitWriter {
    dir: PathBuf,
    split: Split,
    dtype: TokenDtype,
    shard_tokens: u64,
    sep: u32,
    out: Option<(BufWriter<File>, PathBuf)>,
    in_file: u64,
    last: Option<Passage>,
    stream: SplitShards,
}

impl SplitWriter {
    fn new(dir: &Path, split: Split, dtype: TokenDtype, shard_tokens: u64, sep: u32) -> Self {
        SplitWriter {
            dir: dir.to_path_buf(),
            split,
            dtype,
            shard_tokens,
            sep,
            out: None,
            in_file: 0,
            last: None,
            stream: SplitShards::default(),
        }
    }

    fn close_file(&mut self) -> Result<()> {
        if let Some((mut w, path)) = self.out.take() {
            w.flush().at(&path)?;
            let name = path
                .file_name()
                .expect("shard files have names")
                .to_string_lossy()
                .into_owned();
            self.stream.shards.push(ShardFile {
                file: name,
                tokens: self.in_file,
            });
            self.in_file = 0;
        }
        Ok(())
    }

    fn write_ids(&mut self, ids: &[u32]) -> Result<()> {
        let mut rest = ids;
        while !rest.is_empty() {
            if self.out.is_none() {
                let name = format!("{}-{:05}.bin", self.split, self.stream.shards.len());
                let path = self.dir.join(name);
                let file = File::create(&path).at(&path)?;
                self.out = Some((BufWriter::with_capacity(1 << 20, file), path));
            }
            let room = (self.shard_tokens - self.in_file) as usize;
            let (now, later) = rest.split_at(room.min(rest.len()));
            let (w, path) = self.out.as_mut().expect("opened above");
            for &id in now {
                let r = match self.dtype {
                    TokenDtype::U16 => w.write_all(&(id as u16).to_le_bytes()),
                    TokenDtype::U32 => w.write_all(&id.to_le_bytes()),
                };
                r.at(&*path)?;
            }
            self.in_file += now.len() as u64;
            self.stream.tokens += now.len() as u64;
            if self.in_file == self.shard_tokens {
                self.close_file()?;
            }
            rest = later;
        }
        Ok(())
    }

    fn push(&mut self, passage: Passage, ids: &[u32]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        match &self.last {
            Some(prev) if passage.continues(prev) => {}
            Some(_) => {
                self.write_ids(&[self.sep])?;
                self.stream.pieces += 1;
            }
            None => self.stream.pieces += 1,
        }
        self.stream.counts.add(&passage);
        self.write_ids(ids)?;
        self.last = Some(passage);
        Ok(())
    }
}

/// Tokenises `corpus` with `tokenizer` into a new shard folder `out` (replacing an earlier shard
/// folder there) and returns its index.
pub fn build_shards(
    corpus: &Corpus,
    tokenizer: &TextTokenizer,
    split: &SplitConfig,
    cfg: &ShardConfig,
    out: &Path,
) -> Result<ShardIndex> {
    split.validate()?;
    if cfg.shard_tokens == 0 || cfg.encode_batch == 0 {
        return Err(DataError::config(
            "shards.shard_tokens / shards.encode_batch",
            "must be at least 1",
        ));
    }
    let dir = AtomicDir::create(out, INDEX_FILE)?;
    let vocab_size = tokenizer.vocab_size();
    let dtype = TokenDtype::for_vocab(vocab_size);
    let special = tokenizer.special();
    let mut writers: BTreeMap<Split, SplitWriter> = Split::ALL
        .iter()
        .map(|s| {
            let w = SplitWriter::new(dir.path(), *s, dtype, cfg.shard_tokens, special.sep);
            (*s, w)
        })
        .collect();

    let mut batch: Vec<Passage> = Vec::with_capacity(cfg.encode_batch);
    let mut flush = |batch: &mut Vec<Passage>| -> Result<()> {
        let texts: Vec<String> = batch.iter().map(|p| p.paragraphs.join(" ")).collect();
        let ids = tokenizer.encode_many(texts.iter().map(String::as_str).collect())?;
        for (p, ids) in batch.drain(..).zip(ids) {
            let w = writers.get_mut(&split.assign(&p)).expect("all splits");
            w.push(p, &ids)?;
        }
        Ok(())
    };
    for p in corpus.passages(split.passage_words) {
        batch.push(p?);
        if batch.len() == cfg.encode_batch {
            flush(&mut batch)?;
        }
    }
    flush(&mut batch)?;

    let mut splits = BTreeMap::new();
    for (s, mut w) in writers {
        w.close_file()?;
        splits.insert(s, w.stream);
    }
    std::fs::copy(tokenizer.path(), dir.path().join(TOKENIZER_FILE)).at(tokenizer.path())?;
    let settings = serde_json::to_string(&(split, cfg)).expect("plain data serialises");
    let fingerprint = fingerprint_of(&[
        "shards-v1",
        corpus.fingerprint(),
        tokenizer.fingerprint(),
        &settings,
    ]);
    let index = ShardIndex {
        format: SHARD_FORMAT,
        dtype,
        vocab_size,
        special,
        corpus_path: std::fs::canonicalize(corpus.path()).unwrap_or_else(|_| corpus.path().into()),
        corpus_fingerprint: corpus.fingerprint().to_string(),
        corpus_stats: corpus.stats().clone(),
        tokenizer_fingerprint: tokenizer.fingerprint().to_string(),
        split: split.clone(),
        config: cfg.clone(),
        splits,
        fingerprint,
    };
    atomic::write_json(&dir.path().join(INDEX_FILE), &index)?;
    dir.commit()?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_follows_vocabulary() {
        assert_eq!(TokenDtype::for_vocab(30_000), TokenDtype::U16);
        assert_eq!(TokenDtype::for_vocab(65_536), TokenDtype::U16);
        assert_eq!(TokenDtype::for_vocab(65_537), TokenDtype::U32);
    }

    #[test]
    fn writer_inserts_separators_and_rotates_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SplitWriter::new(dir.path(), Split::Train, TokenDtype::U16, 4, 2);
        let p = |doc: u64, idx: u32| Passage {
            document: doc,
            index_in_document: idx,
            paragraphs: vec!["x".into()],
            words: 1,
        };
        w.push(p(0, 0), &[10, 11, 12]).unwrap();
        w.push(p(0, 1), &[13]).unwrap(); // continues: no separator
        w.push(p(1, 0), &[14, 15]).unwrap(); // new document: separator
        w.close_file().unwrap();
        assert_eq!(w.stream.tokens, 7);
        assert_eq!(w.stream.pieces, 2);
        assert_eq!(w.stream.shards.len(), 2);
        let a = std::fs::read(dir.path().join("train-00000.bin")).unwrap();
        let b = std::fs::read(dir.path().join("train-00001.bin")).unwrap();
        let ids: Vec<u16> = a
            .chunks(2)
            .chain(b.chunks(2))
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(ids, vec![10, 11, 12, 13, 2, 14, 15]);
    }
}
