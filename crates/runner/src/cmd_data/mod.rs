//! `ablate data ...`: build a corpus from Debian packages, train a tokenizer, write token shards,
//! build task sets, and inspect or stream what was built.

use std::path::Path;
use std::time::Instant;

use ablate_data::tasks::{TaskKind, TaskOptions, build_tasks};
use ablate_data::{
    BatchConfig, CacheStatus, Corpus, CorpusProfile, MaskingConfig, MlmBatcher, ReadMode,
    ShardConfig, ShardSet, Split, SplitConfig, TextTokenizer, build_corpus, build_shards,
    bundled_corpus_path, split_counts,
};
use anyhow::{Context, Result};

mod args;

pub use args::*;

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
