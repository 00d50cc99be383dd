//! The arguments of `ablate data` and its subcommands (clap), and their conversions to the data crate's
//! configs.

use std::path::PathBuf;

use ablate_data::{Split, SplitConfig, TokenizerConfig, TokenizerModel};
use clap::{Args, Subcommand, ValueEnum};

/// Arguments of `ablate data`.
#[derive(Args, Debug)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The `ablate data` subcommands.
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Build the core or full corpus from installed Debian packages
    /// (install them with scripts/install_corpus_packages.sh).
    #[command(after_help = "Example:\n  ablate data corpus --profile core --out data/core")]
    Corpus(CorpusArgs),
    /// Train a tokenizer on a corpus, or reuse the cached one trained on the same corpus and settings.
    #[command(
        after_help = "Example:\n  ablate data tokenizer --corpus data/core/corpus.txt --out tokenizer.json --vocab-size 16384"
    )]
    Tokenizer(TokenizerArgs),
    /// Tokenise a corpus into train/valid/test token shards.
    #[command(
        after_help = "Example:\n  ablate data shards --corpus data/core/corpus.txt --out data/core-shards --vocab-size 16384"
    )]
    Shards(ShardsArgs),
    /// Build the downstream task sets (bshift, sent_order, wn_pos_context, lenext) from shards.
    #[command(
        after_help = "Example:\n  ablate data tasks --shards data/core-shards --out data/core-tasks"
    )]
    Tasks(TasksArgs),
    /// Print the sizes of a corpus and its splits, or of a shard folder.
    #[command(after_help = "Example:\n  ablate data stats --corpus data/core/corpus.txt")]
    Stats(StatsArgs),
    /// Stream MLM batches from a shard folder and report speed and process memory.
    #[command(
        after_help = "Example:\n  ablate data stream --shards data/core-shards --batch-size 32 --max-len 128 --batches 200"
    )]
    Stream(StreamArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ProfileArg {
    Core,
    Full,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ModelArg {
    Wordpiece,
    Bpe,
    Unigram,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ReadModeArg {
    Mmap,
    Pread,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum SplitArg {
    Train,
    Valid,
    Test,
}

impl From<SplitArg> for Split {
    fn from(s: SplitArg) -> Self {
        match s {
            SplitArg::Train => Split::Train,
            SplitArg::Valid => Split::Valid,
            SplitArg::Test => Split::Test,
        }
    }
}

#[derive(Args, Debug)]
pub struct CorpusArgs {
    /// Which sources: core (about 60 MB) or full (core + Linux docs + six Austen novels).
    #[arg(long, value_enum, default_value = "core")]
    pub profile: ProfileArg,
    /// Output folder (gets corpus.txt and stats.json).
    #[arg(long)]
    pub out: PathBuf,
}

/// Split settings shared by several subcommands.
#[derive(Args, Debug, Clone)]
pub struct SplitOpts {
    /// Fraction of passages held out for validation.
    #[arg(long, default_value_t = 0.01)]
    pub valid_fraction: f64,
    /// Fraction of passages held out for test and task sets.
    #[arg(long, default_value_t = 0.01)]
    pub test_fraction: f64,
    /// Words per passage (the unit assigned to a split).
    #[arg(long, default_value_t = 200)]
    pub passage_words: usize,
    /// Salt of the split hash.
    #[arg(long, default_value_t = 0)]
    pub split_salt: u64,
}

impl SplitOpts {
    pub(super) fn config(&self) -> SplitConfig {
        SplitConfig {
            valid_fraction: self.valid_fraction,
            test_fraction: self.test_fraction,
            passage_words: self.passage_words,
            salt: self.split_salt,
        }
    }
}

/// Tokenizer training settings.
#[derive(Args, Debug, Clone)]
pub struct TokOpts {
    /// Subword model.
    #[arg(long, value_enum, default_value = "wordpiece")]
    pub model: ModelArg,
    /// Vocabulary size, special tokens included.
    #[arg(long, default_value_t = 8192)]
    pub vocab_size: usize,
    /// Minimum pair count for a merge (WordPiece/BPE).
    #[arg(long, default_value_t = 2)]
    pub min_frequency: u64,
    /// Keep case and accents (default: lowercase, accents stripped).
    #[arg(long)]
    pub cased: bool,
    /// Folder of the tokenizer cache.
    #[arg(long, default_value = "data/cache")]
    pub cache: PathBuf,
}

impl TokOpts {
    pub(super) fn config(&self) -> TokenizerConfig {
        TokenizerConfig {
            model: match self.model {
                ModelArg::Wordpiece => TokenizerModel::WordPiece,
                ModelArg::Bpe => TokenizerModel::Bpe,
                ModelArg::Unigram => TokenizerModel::Unigram,
            },
            vocab_size: self.vocab_size,
            min_frequency: self.min_frequency,
            lowercase: !self.cased,
            ..TokenizerConfig::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct TokenizerArgs {
    /// Corpus file or folder of .txt files (default: the bundled Austen sample).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Also copy the tokenizer.json here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub tok: TokOpts,
    #[command(flatten)]
    pub split: SplitOpts,
}

#[derive(Args, Debug)]
pub struct ShardsArgs {
    /// Corpus file or folder of .txt files (default: the bundled Austen sample).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Output shard folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Use this tokenizer.json instead of training (or reusing) one.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Ids per shard file.
    #[arg(long, default_value_t = 1 << 22)]
    pub shard_tokens: u64,
    #[command(flatten)]
    pub tok: TokOpts,
    #[command(flatten)]
    pub split: SplitOpts,
}

#[derive(Args, Debug)]
pub struct TasksArgs {
    /// Shard folder whose held-out text the tasks are drawn from.
    #[arg(long)]
    pub shards: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Only these sets (comma-separated: bshift,sent_order,wn_pos_context,lenext).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Seed of the task splits, order and swaps.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Row lengths of the length-extrapolation sets.
    #[arg(long, value_delimiter = ',', default_value = "64,128,256,512,1024")]
    pub lengths: Vec<usize>,
    /// WordNet database folder.
    #[arg(long, default_value = ablate_data::WORDNET_DIR)]
    pub wordnet: PathBuf,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// A shard folder to describe.
    #[arg(long, conflicts_with = "corpus")]
    pub shards: Option<PathBuf>,
    /// A corpus to count (default: the bundled Austen sample).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    #[command(flatten)]
    pub split: SplitOpts,
}

#[derive(Args, Debug)]
pub struct StreamArgs {
    /// Shard folder.
    #[arg(long)]
    pub shards: PathBuf,
    /// Split to stream.
    #[arg(long, value_enum, default_value = "train")]
    pub split: SplitArg,
    /// Rows per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Tokens per row.
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Batches to stream (default: one epoch).
    #[arg(long)]
    pub batches: Option<u64>,
    /// Seed of order and masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How shard files are read.
    #[arg(long, value_enum, default_value = "pread")]
    pub read_mode: ReadModeArg,
    /// Whole-word masking.
    #[arg(long)]
    pub whole_word: bool,
    /// Longest masked span (1 = no span masking).
    #[arg(long, default_value_t = 1)]
    pub max_span: usize,
}
