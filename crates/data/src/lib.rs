//! `ablate-data`: the data side of the lab, one way from text to batches.
//!
//! corpus ([`Corpus`], or [`build_corpus`] from Debian packages) -> tokenizer ([`TextTokenizer`],
//! HF `tokenizers`, saved as `tokenizer.json`) -> token shards ([`build_shards`], read through
//! [`ShardSet`]) -> MLM batches ([`MlmBatcher`], [`EvalBatches`]) and downstream task sets
//! ([`tasks`]). [`prepare`] runs the first three steps with caching.
//!
//! Batches are plain vectors ([`MlmBatch`]); the training crate turns them into tensors.
//! Every output is written atomically, splits are by passage hash, and a batch depends only on the
//! seed and the [`DataCursor`].

#![warn(missing_docs)]

mod atomic;
mod batcher;
mod corpus;
mod error;
mod eval;
mod hashing;
mod masking;
mod permutation;
mod pipeline;
mod profile;
mod reader;
mod shards;
mod sources;
mod split;
pub mod tasks;
mod text;
mod tokenizer;
mod wordnet;

pub use atomic::{AtomicDir, AtomicFile, read_json, write_bytes, write_file, write_json};
pub use batcher::{BatchConfig, DataCursor, MlmBatch, MlmBatcher, PackedSequences};
pub use corpus::{Corpus, CorpusStats, Passage, Passages, bundled_corpus_path};
pub use error::{
    DISK_FULL, DataError, INSTALL_HINT, Result, describe_io, is_disk_full, tells_disk_full,
};
pub use eval::EvalBatches;
pub use masking::{IGNORE_LABEL, Masker, MaskingConfig};
pub use permutation::Permutation;
pub use pipeline::{DataSpec, PreparedData, prepare};
pub use profile::{CorpusBuildReport, CorpusProfile, SourceStats, build_corpus};
pub use reader::{ReadMode, ShardSet, TokenReader};
pub use shards::{
    INDEX_FILE, SHARD_FORMAT, ShardConfig, ShardFile, ShardIndex, SplitShards, TOKENIZER_FILE,
    TokenDtype, build_shards,
};
pub use split::{Split, SplitConfig, SplitCounts, split_counts, split_passages};
pub use tokenizer::{
    CacheStatus, SPECIAL_TOKENS, SpecialIds, TextTokenizer, TokenizerConfig, TokenizerModel,
};
pub use wordnet::WORDNET_DIR;
