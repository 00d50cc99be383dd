//! Training a tokenizer on a corpus' train split, and the cache of trained tokenizers.

use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::decoders::metaspace::Metaspace as MetaspaceDecoder;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::models::unigram::{Unigram, UnigramTrainerBuilder};
use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainerBuilder};
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use super::{CacheStatus, SPECIAL_TOKENS, TextTokenizer, tok_err};
use crate::atomic;
use crate::corpus::Corpus;
use crate::error::{DataError, Result};
use crate::hashing::fingerprint_of;
use crate::split::{Split, SplitConfig, split_passages};

/// The subword model to train.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TokenizerModel {
    /// BERT's WordPiece (continuation pieces start with `##`).
    #[default]
    WordPiece,
    /// Byte-pair encoding, with `##` continuation pieces like WordPiece.
    Bpe,
    /// SentencePiece-style unigram LM over `▁`-marked words.
    Unigram,
}

impl std::str::FromStr for TokenizerModel {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "wordpiece" => Ok(TokenizerModel::WordPiece),
            "bpe" => Ok(TokenizerModel::Bpe),
            "unigram" => Ok(TokenizerModel::Unigram),
            _ => Err(DataError::config(
                "tokenizer.model",
                format!("`{s}` is not a model; use wordpiece, bpe or unigram"),
            )),
        }
    }
}

/// Tokenizer training settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TokenizerConfig {
    /// Subword model.
    pub model: TokenizerModel,
    /// Vocabulary size, special tokens included (default 8192; must fit the corpus).
    pub vocab_size: usize,
    /// Minimum count of a merge pair (WordPiece/BPE; default 2).
    pub min_frequency: u64,
    /// Most distinct characters kept in the initial alphabet (WordPiece/BPE; default 1000).
    pub limit_alphabet: usize,
    /// Lowercase and strip accents (an uncased model; default true).
    pub lowercase: bool,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig {
            model: TokenizerModel::WordPiece,
            vocab_size: 8192,
            min_frequency: 2,
            limit_alphabet: 1000,
            lowercase: true,
        }
    }
}

impl TokenizerConfig {
    /// Rejects sizes that cannot work.
    pub fn validate(&self) -> Result<()> {
        if self.vocab_size < 64 {
            return Err(DataError::config(
                "tokenizer.vocab_size",
                format!("{} is too small; use at least 64", self.vocab_size),
            ));
        }
        if self.vocab_size > u32::MAX as usize {
            return Err(DataError::config("tokenizer.vocab_size", "must fit in u32"));
        }
        if self.min_frequency == 0 {
            return Err(DataError::config(
                "tokenizer.min_frequency",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

impl TextTokenizer {
    /// Trains a tokenizer on the train split of `corpus` and saves it atomically at `out`.
    pub fn train(
        corpus: &Corpus,
        split: &SplitConfig,
        cfg: &TokenizerConfig,
        out: &Path,
    ) -> Result<Self> {
        cfg.validate()?;
        split.validate()?;
        let specials: Vec<AddedToken> = SPECIAL_TOKENS
            .iter()
            .map(|t| AddedToken::from(*t, true))
            .collect();
        let vocab = cfg.vocab_size;
        let (model, mut trainer): (ModelWrapper, TrainerWrapper) = match cfg.model {
            TokenizerModel::WordPiece => (
                WordPiece::builder()
                    .unk_token("[UNK]".into())
                    .build()
                    .map_err(|e| tok_err(out, e))?
                    .into(),
                WordPieceTrainerBuilder::new()
                    .vocab_size(vocab)
                    .min_frequency(cfg.min_frequency)
                    .limit_alphabet(cfg.limit_alphabet)
                    .special_tokens(specials)
                    .show_progress(false)
                    .build()
                    .into(),
            ),
            TokenizerModel::Bpe => (
                BPE::builder()
                    .unk_token("[UNK]".into())
                    .continuing_subword_prefix("##".into())
                    .build()
                    .map_err(|e| tok_err(out, e))?
                    .into(),
                BpeTrainerBuilder::new()
                    .vocab_size(vocab)
                    .min_frequency(cfg.min_frequency)
                    .limit_alphabet(cfg.limit_alphabet)
                    .continuing_subword_prefix("##".into())
                    .special_tokens(specials)
                    .show_progress(false)
                    .build()
                    .into(),
            ),
            TokenizerModel::Unigram => (
                Unigram::default().into(),
                UnigramTrainerBuilder::default()
                    .vocab_size(vocab as u32)
                    .special_tokens(specials)
                    .unk_token(Some("[UNK]".into()))
                    .show_progress(false)
                    .build()
                    .map_err(|e| tok_err(out, e))?
                    .into(),
            ),
        };
        let mut tok = Tokenizer::new(model);
        tok.with_normalizer(Some(BertNormalizer::new(
            true,
            true,
            Some(cfg.lowercase),
            cfg.lowercase,
        )))
        .map_err(|e| tok_err(out, e))?;
        if cfg.model == TokenizerModel::Unigram {
            tok.with_pre_tokenizer(Some(Metaspace::new(
                '\u{2581}',
                PrependScheme::Always,
                true,
            )));
            tok.with_decoder(Some(DecoderWrapper::from(MetaspaceDecoder::new(
                '\u{2581}',
                PrependScheme::Always,
                true,
            ))));
        } else {
            tok.with_pre_tokenizer(Some(BertPreTokenizer));
            tok.with_decoder(Some(DecoderWrapper::from(WordPieceDecoder::default())));
        }

        let failure: Mutex<Option<DataError>> = Mutex::new(None);
        let paragraphs = split_passages(corpus, split, Split::Train)
            .map_while(|p| match p {
                Ok(p) => Some(p.paragraphs),
                Err(e) => {
                    *failure.lock().expect("not poisoned") = Some(e);
                    None
                }
            })
            .flatten();
        tok.train(&mut trainer, paragraphs)
            .map_err(|e| tok_err(corpus.path(), e))?;
        if let Some(e) = failure.into_inner().expect("not poisoned") {
            return Err(e);
        }

        let achieved = tok.get_vocab_size(true);
        if achieved < vocab {
            return Err(DataError::VocabTooLarge {
                path: corpus.path().to_path_buf(),
                requested: vocab,
                achieved,
            });
        }
        if cfg.model == TokenizerModel::WordPiece {
            tok = canonical_wordpiece(&tok, out)?;
        }
        let id = |t: &str| {
            tok.token_to_id(t)
                .ok_or_else(|| tok_err(out, format!("no {t}")))
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        let post = TemplateProcessing::builder()
            .try_single("[CLS] $A [SEP]")
            .map_err(|e| tok_err(out, e))?
            .try_pair("[CLS] $A [SEP] $B:1 [SEP]:1")
            .map_err(|e| tok_err(out, e))?
            .special_tokens(vec![("[CLS]", cls), ("[SEP]", sep)])
            .build()
            .map_err(|e| tok_err(out, e))?;
        tok.with_post_processor(Some(post));
        let json = tok.to_string(true).map_err(|e| tok_err(out, e))?;
        atomic::write_bytes(out, json.as_bytes())?;
        Self::load(out)
    }

    /// Returns the tokenizer for `corpus` and `cfg` from `cache_dir`, training and caching it
    /// first if no earlier call made it. The cache key is the corpus fingerprint plus the split and
    /// tokenizer settings.
    pub fn cached(
        corpus: &Corpus,
        split: &SplitConfig,
        cfg: &TokenizerConfig,
        cache_dir: &Path,
    ) -> Result<(Self, CacheStatus)> {
        let key = Self::cache_key(corpus, split, cfg);
        let path = cache_dir
            .join(format!("tokenizer-{key}"))
            .join("tokenizer.json");
        if path.is_file() {
            return Ok((Self::load(&path)?, CacheStatus::Reused));
        }
        Ok((Self::train(corpus, split, cfg, &path)?, CacheStatus::Built))
    }

    /// The cache key [`TextTokenizer::cached`] uses.
    pub fn cache_key(corpus: &Corpus, split: &SplitConfig, cfg: &TokenizerConfig) -> String {
        let settings = serde_json::to_string(&(cfg, split)).expect("plain data serialises");
        fingerprint_of(&["tokenizer-v2", corpus.fingerprint(), &settings])[..16].to_string()
    }
}

/// Renumbers a trained WordPiece vocabulary: the special tokens keep ids 0..4 and the other pieces
/// follow in byte order of their text. The trainer numbers pieces in an order that depends on hash
/// map iteration (it differs from run to run while the pieces are the same); WordPiece encodes by
/// longest match, so ids carry no meaning and this makes the same corpus and settings give the
/// same `tokenizer.json`.
fn canonical_wordpiece(tok: &Tokenizer, out: &Path) -> Result<Tokenizer> {
    let mut json = serde_json::to_value(tok).map_err(|e| tok_err(out, e))?;
    let vocab = json
        .pointer_mut("/model/vocab")
        .and_then(|v| v.as_object_mut())
        .ok_or_else(|| tok_err(out, "a WordPiece model without a vocabulary"))?;
    let mut others: Vec<String> = vocab
        .keys()
        .filter(|t| !SPECIAL_TOKENS.contains(&t.as_str()))
        .cloned()
        .collect();
    others.sort();
    let mut renumbered = serde_json::Map::new();
    for (id, token) in SPECIAL_TOKENS
        .iter()
        .map(|t| t.to_string())
        .chain(others)
        .enumerate()
    {
        renumbered.insert(token, serde_json::Value::from(id as u64));
    }
    *vocab = renumbered;
    serde_json::from_value(json).map_err(|e| tok_err(out, e))
}
