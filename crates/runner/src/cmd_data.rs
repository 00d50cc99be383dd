//! `ablate data ...`: build a corpus from Debian packages, train a tokenizer, write token shards,
//! build task sets, and inspect or stream what was built.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ablate_data::tasks::{TaskKind, TaskOptions, build_tasks};
use ablate_data::{
    BatchConfig, CacheStatus, Corpus, CorpusProfile, MaskingConfig, MlmBatcher, ReadMode,
    ShardConfig, ShardSet, Split, SplitConfig, TextTokenizer, TokenizerConfig, TokenizerModel,
    build_corpus, build_shards, bundled_corpus_path, split_counts,
};
use anyhow::{Context, Result};
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
    fn config(&self) -> SplitConfig {
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
    fn config(&self) -> TokenizerConfig {
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

/// Runs an `ablate data` subcommand.
pub fn run(args: DataArgs) -> Result<()> {
    match args.command {
        DataCommand::Corpus(a) => corpus(a),
        DataCommand::Tokenizer(a) => tokenizer(a),
        DataCommand::Shards(a) => shards(a),
        DataCommand::Tasks(a) => tasks(a),
        DataCommand::Stats(a) => stats(a),
        DataCommand::Stream(a) => stream(a),
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn corpus(a: CorpusArgs) -> Result<()> {
    let profile = match a.profile {
        ProfileArg::Core => CorpusProfile::Core,
        ProfileArg::Full => CorpusProfile::Full,
    };
    println!(
        "{:<20} {:>9} {:>10} {:>11} {:>8} {:>9} {:>7}",
        "source", "docs", "paragraphs", "words", "MB", "dupes", "s"
    );
    let row = |s: &ablate_data::SourceStats| {
        println!(
            "{:<20} {:>9} {:>10} {:>11} {:>8.2} {:>9} {:>7.1}",
            s.name,
            s.documents,
            s.paragraphs,
            s.words,
            mb(s.bytes),
            s.duplicates,
            s.seconds
        );
    };
    let report = build_corpus(profile, &a.out, row)?;
    row(&report.total);
    println!("wrote {}", report.corpus.display());
    Ok(())
}

fn open_corpus(path: Option<&Path>) -> Result<Corpus> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(bundled_corpus_path);
    Ok(Corpus::open(&path)?)
}

fn tokenizer_for(corpus: &Corpus, tok: &TokOpts, split: &SplitConfig) -> Result<TextTokenizer> {
    let start = Instant::now();
    let (t, status) = TextTokenizer::cached(corpus, split, &tok.config(), &tok.cache)?;
    let what = match status {
        CacheStatus::Built => "trained",
        CacheStatus::Reused => "reused",
    };
    println!(
        "tokenizer {what}: {} ({} ids, {:.1} s)",
        t.path().display(),
        t.vocab_size(),
        start.elapsed().as_secs_f64()
    );
    Ok(t)
}

fn tokenizer(a: TokenizerArgs) -> Result<()> {
    let corpus = open_corpus(a.corpus.as_deref())?;
    let t = tokenizer_for(&corpus, &a.tok, &a.split.config())?;
    if let Some(out) = a.out {
        let bytes = std::fs::read(t.path()).with_context(|| t.path().display().to_string())?;
        ablate_data::write_bytes(&out, &bytes)?;
        println!("copied to {}", out.display());
    }
    Ok(())
}

fn print_index(set: &ShardSet) {
    let idx = set.index();
    println!(
        "shards {} (corpus {}, vocabulary {}, {:?})",
        set.dir().display(),
        idx.corpus_path.display(),
        idx.vocab_size,
        idx.dtype
    );
    println!(
        "{:<6} {:>9} {:>11} {:>11} {:>12} {:>7}",
        "split", "passages", "paragraphs", "words", "tokens", "files"
    );
    for split in Split::ALL {
        let s = idx.split(split);
        println!(
            "{:<6} {:>9} {:>11} {:>11} {:>12} {:>7}",
            split.name(),
            s.counts.passages,
            s.counts.paragraphs,
            s.counts.words,
            s.tokens,
            s.shards.len()
        );
    }
}

fn shards(a: ShardsArgs) -> Result<()> {
    let corpus = open_corpus(a.corpus.as_deref())?;
    let split = a.split.config();
    let tok = match &a.tokenizer {
        Some(path) => TextTokenizer::load(path)?,
        None => tokenizer_for(&corpus, &a.tok, &split)?,
    };
    let cfg = ShardConfig {
        shard_tokens: a.shard_tokens,
        ..ShardConfig::default()
    };
    let start = Instant::now();
    build_shards(&corpus, &tok, &split, &cfg, &a.out)?;
    println!("built in {:.1} s", start.elapsed().as_secs_f64());
    print_index(&ShardSet::open(&a.out)?);
    Ok(())
}

fn tasks(a: TasksArgs) -> Result<()> {
    let tasks = if a.only.is_empty() {
        TaskKind::ALL.to_vec()
    } else {
        a.only
            .iter()
            .map(|s| s.trim().parse())
            .collect::<Result<Vec<TaskKind>, _>>()?
    };
    let opts = TaskOptions {
        tasks,
        seed: a.seed,
        lengths: a.lengths,
        wordnet_dir: a.wordnet,
        ..TaskOptions::default()
    };
    let report = build_tasks(&a.shards, &a.out, &opts)?;
    println!(
        "held-out text: {} passages, {} words",
        report.held_out.passages, report.held_out.words
    );
    println!("{:<16} {:<6} {:>8}  balance", "task", "split", "examples");
    for t in &report.tasks {
        for (split, b) in &t.splits {
            let balance: Vec<String> = b
                .per_label
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            println!(
                "{:<16} {:<6} {:>8}  {}",
                t.name,
                split,
                b.examples,
                balance.join(", ")
            );
        }
    }
    for l in &report.lenext {
        for (split, s) in &l.splits {
            println!(
                "{:<16} {:<6} {:>8}  rows of {} tokens",
                l.name, split, s.sequences, l.max_len
            );
        }
    }
    println!("wrote {}", a.out.display());
    Ok(())
}

fn stats(a: StatsArgs) -> Result<()> {
    if let Some(dir) = a.shards {
        print_index(&ShardSet::open(&dir)?);
        return Ok(());
    }
    let corpus = open_corpus(a.corpus.as_deref())?;
    let s = corpus.stats();
    println!(
        "corpus {}: {} files, {} documents, {} paragraphs, {} words, {:.2} MB",
        corpus.path().display(),
        s.files,
        s.documents,
        s.paragraphs,
        s.words,
        mb(s.bytes)
    );
    println!(
        "{:<6} {:>9} {:>11} {:>11}",
        "split", "passages", "paragraphs", "words"
    );
    for (split, c) in split_counts(&corpus, &a.split.config())? {
        println!(
            "{:<6} {:>9} {:>11} {:>11}",
            split.name(),
            c.passages,
            c.paragraphs,
            c.words
        );
    }
    Ok(())
}

/// Resident memory of this process from `/proc/self/status`, in kB: (VmRSS, VmHWM, RssAnon, RssFile).
fn memory_kb() -> Option<(u64, u64, u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((
        field("VmRSS:")?,
        field("VmHWM:")?,
        field("RssAnon:")?,
        field("RssFile:")?,
    ))
}

fn print_memory(when: &str) {
    match memory_kb() {
        Some((rss, hwm, anon, file)) => println!(
            "memory {when:<8} RSS {:>7.1} MB  peak {:>7.1} MB  anonymous {:>7.1} MB  file-backed {:>7.1} MB",
            rss as f64 / 1e3,
            hwm as f64 / 1e3,
            anon as f64 / 1e3,
            file as f64 / 1e3
        ),
        None => println!("memory {when}: /proc/self/status is not available here"),
    }
}

fn stream(a: StreamArgs) -> Result<()> {
    print_memory("start");
    let set = ShardSet::open(&a.shards)?;
    let cfg = BatchConfig {
        batch_size: a.batch_size,
        max_len: a.max_len,
        seed: a.seed,
        masking: MaskingConfig {
            whole_word: a.whole_word,
            max_span: a.max_span,
            ..MaskingConfig::default()
        },
        read_mode: match a.read_mode {
            ReadModeArg::Mmap => ReadMode::Mmap,
            ReadModeArg::Pread => ReadMode::Pread,
        },
    };
    let mut batcher = MlmBatcher::new(&set, a.split.into(), cfg)?;
    print_memory("opened");
    let n = a.batches.unwrap_or_else(|| batcher.batches_per_epoch());
    let start = Instant::now();
    let (mut masked, mut checksum) = (0u64, 0u64);
    for i in 0..n {
        let b = batcher.next_batch()?;
        masked += b.num_masked() as u64;
        checksum = checksum
            .wrapping_mul(31)
            .wrapping_add(b.input_ids.iter().map(|&x| x as u64).sum::<u64>());
        if n >= 4 && i + 1 == n / 2 {
            print_memory("halfway");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    print_memory("end");
    let tokens = n * (a.batch_size * a.max_len) as u64;
    println!(
        "{n} batches of {}x{} from {} ({} sequences): {:.0} batches/s, {:.2} M tokens/s, {:.2}% masked, checksum {checksum:x}",
        a.batch_size,
        a.max_len,
        Split::from(a.split),
        batcher.sequences(),
        n as f64 / secs,
        tokens as f64 / secs / 1e6,
        100.0 * masked as f64 / tokens as f64
    );
    Ok(())
}
