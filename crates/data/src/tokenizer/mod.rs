//! Tokenizer training and loading with the HF `tokenizers` crate.
//!
//! A trained tokenizer is saved as `tokenizer.json` in the format Python's `tokenizers` /
//! `transformers` load (`Tokenizer.from_file`, `PreTrainedTokenizerFast(tokenizer_file=...)`). It
//! carries the special tokens `[PAD] [CLS] [SEP] [MASK] [UNK]` (ids 0..4 in that order) and a
//! `[CLS] A [SEP] (B [SEP])` post-processor. Only the train split of the corpus is read.

mod train;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::error::{DataError, IoContext, Result};
use crate::hashing::fingerprint_of;

pub use train::{TokenizerConfig, TokenizerModel};

/// The special tokens, in id order of a trained tokenizer.
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"];

/// Ids of the special tokens.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialIds {
    /// `[PAD]`
    pub pad: u32,
    /// `[CLS]`
    pub cls: u32,
    /// `[SEP]`
    pub sep: u32,
    /// `[MASK]`
    pub mask: u32,
    /// `[UNK]`
    pub unk: u32,
}

impl SpecialIds {
    /// Whether `id` is one of the special tokens.
    pub fn contains(&self, id: u32) -> bool {
        id == self.pad || id == self.cls || id == self.sep || id == self.mask || id == self.unk
    }
}

/// Whether the tokenizer was trained now or found in the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheStatus {
    /// Built by this call.
    Built,
    /// Reused from an earlier call with the same inputs.
    Reused,
}

/// A loaded tokenizer plus what batching needs from it.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    special: SpecialIds,
    word_start: Vec<bool>,
    path: PathBuf,
    fingerprint: String,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .field("vocab_size", &self.vocab_size())
            .field("special", &self.special)
            .finish()
    }
}

pub(crate) fn tok_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Tokenizer {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Which ids begin a word: pieces marked as continuations (`##x`) do not; with `▁`/`Ġ` word
/// markers only marked pieces do; otherwise every piece does.
fn word_start_table(tok: &Tokenizer, special: &SpecialIds) -> Vec<bool> {
    let size = tok.get_vocab_size(true);
    let vocab = tok.get_vocab(true);
    let has = |p: &str| vocab.keys().any(|t| t.starts_with(p));
    let rule: Box<dyn Fn(&str) -> bool> = if has("##") {
        Box::new(|t: &str| !t.starts_with("##"))
    } else if has("\u{2581}") {
        Box::new(|t: &str| t.starts_with('\u{2581}'))
    } else if has("\u{120}") {
        Box::new(|t: &str| t.starts_with('\u{120}'))
    } else {
        Box::new(|_: &str| true)
    };
    let mut table = vec![true; size];
    for (token, id) in vocab {
        if let Some(slot) = table.get_mut(id as usize) {
            *slot = special.contains(id) || rule(&token);
        }
    }
    table
}

impl TextTokenizer {
    /// Loads a `tokenizer.json`; it must define all of [`SPECIAL_TOKENS`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).at(path)?;
        // Syntax first: the tokenizers library panics (`expect`) on some malformed fields when it reads bytes
        // itself; from a syntactically valid JSON value it returns errors, and a panic it might still raise
        // on an odd but valid value is caught and reported as this file's error.
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| tok_err(path, e))?;
        let parsed = std::panic::catch_unwind(|| serde_json::from_value::<Tokenizer>(value));
        let inner: Tokenizer = match parsed {
            Ok(result) => result.map_err(|e| tok_err(path, e))?,
            Err(_) => {
                return Err(tok_err(
                    path,
                    "the tokenizers library cannot read it (it gave up on a malformed field)",
                ));
            }
        };
        let id = |t: &str| {
            inner.token_to_id(t).ok_or_else(|| {
                tok_err(
                    path,
                    format!("the vocabulary has no `{t}`; a tokenizer for this lab needs {SPECIAL_TOKENS:?}"),
                )
            })
        };
        let special = SpecialIds {
            pad: id("[PAD]")?,
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            mask: id("[MASK]")?,
            unk: id("[UNK]")?,
        };
        let word_start = word_start_table(&inner, &special);
        let fingerprint = fingerprint_of(&[&String::from_utf8_lossy(&bytes)]);
        Ok(TextTokenizer {
            inner,
            special,
            word_start,
            path: path.to_path_buf(),
            fingerprint,
        })
    }

    /// The HF tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fingerprint of the `tokenizer.json` content.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Vocabulary size, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Special token ids.
    pub fn special(&self) -> SpecialIds {
        self.special
    }

    /// Per id: does the piece begin a word (used by whole-word masking).
    pub fn word_starts(&self) -> &[bool] {
        &self.word_start
    }

    /// Token ids of `text` without special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| tok_err(&self.path, e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Token ids of many texts (in parallel), without special tokens.
    pub fn encode_many(&self, texts: Vec<&str>) -> Result<Vec<Vec<u32>>> {
        let encs = self
            .inner
            .encode_batch_fast(texts, false)
            .map_err(|e| tok_err(&self.path, e))?;
        Ok(encs.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Text of `ids`, special tokens dropped.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| tok_err(&self.path, e))
    }

    /// The piece of one id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
}
