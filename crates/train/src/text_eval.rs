//! Text evaluation, what `ablate eval` runs: the MLM loss and accuracy of a pre-trained run folder on any
//! text file or on a held-out split of its own corpus, with deterministic masking (a fixed seed), at the
//! run's row length and optionally at several other lengths (length extrapolation). The scoring itself is
//! [`crate::mlm_eval`].
//!
//! The file is read whole: documents are separated by blank lines, each document's lines are tokenised and
//! joined, and documents are separated by `[SEP]`, as in the token shards. The stream is cut into rows of
//! `[CLS]` + L-2 ids + `[SEP]`. Lengths the model cannot take (beyond its absolute position table) are
//! skipped with a note rather than failing the whole evaluation.

use std::path::{Path, PathBuf};

use ablate_data::{Masker, MlmBatch, ReadMode, ShardSet, Split, TextTokenizer};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result, TrainError};
use crate::mlm_eval::{EVAL_SEED, MlmScores, evaluate_mlm};
use crate::rng::mix;
use crate::run_dir::{PretrainedRun, prepare_data};

/// The text `eval_text` scores.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalText {
    /// A UTF-8 text file, documents separated by blank lines.
    File(PathBuf),
    /// A held-out split (`valid` or `test`) of the run's own corpus, read from its token shards (built in
    /// `cache_dir` when missing): text the run never trained on.
    Split {
        /// The split.
        split: Split,
        /// The data cache holding the run's shards.
        cache_dir: PathBuf,
    },
}

impl EvalText {
    /// How the report names the text: the file's path, or `<split> split of <shard folder>`.
    fn describe(&self, shards: Option<&Path>) -> String {
        match self {
            EvalText::File(p) => p.display().to_string(),
            EvalText::Split { split, .. } => match shards {
                Some(dir) => format!("{split} split of {}", dir.display()),
                None => format!("{split} split"),
            },
        }
    }
}

/// What `eval_text` scores and how.
#[derive(Debug, Clone, PartialEq)]
pub struct TextEvalOptions {
    /// The text.
    pub text: EvalText,
    /// Extra row lengths to score (empty: only the run's own `max_len`).
    pub lengths: Vec<usize>,
    /// Rows per batch (`None`: the run's batch size).
    pub batch_size: Option<usize>,
    /// At most this many rows per length (`None`: all).
    pub max_rows: Option<usize>,
    /// Seed of the masks.
    pub seed: u64,
}

impl TextEvalOptions {
    /// Scores `text` at the run's row length with the default seed.
    pub fn new(text: impl Into<PathBuf>) -> Self {
        Self {
            text: EvalText::File(text.into()),
            lengths: Vec::new(),
            batch_size: None,
            max_rows: None,
            seed: EVAL_SEED,
        }
    }
}

/// Scores at one row length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthScores {
    /// Row length, `[CLS]` and `[SEP]` included.
    pub length: usize,
    /// Rows scored (0 when skipped).
    pub rows: u64,
    /// Masked tokens scored.
    pub masked_tokens: u64,
    /// Mean loss per masked token (absent when skipped).
    pub mlm_loss: Option<f64>,
    /// Accuracy at the masked positions (absent when skipped).
    pub mlm_accuracy: Option<f64>,
    /// exp(mlm_loss).
    pub mlm_ppl: Option<f64>,
    /// Why this length was not scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The JSON report of `ablate eval`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextEvalReport {
    /// The run folder.
    pub from: PathBuf,
    /// Steps of the checkpoint scored.
    pub checkpoint_step: u64,
    /// The text: a file's path, or `<split> split of <shard folder>`.
    pub text: String,
    /// Tokens in the text (separators included).
    pub tokens: u64,
    /// Seed of the masks.
    pub seed: u64,
    /// Row length of the main scores (the run's `data.max_len`).
    pub max_len: usize,
    /// Rows scored at `max_len`.
    pub rows: u64,
    /// Mean loss per masked token at `max_len`.
    pub mlm_loss: f64,
    /// Accuracy at the masked positions at `max_len`.
    pub mlm_accuracy: f64,
    /// exp(mlm_loss).
    pub mlm_ppl: f64,
    /// Masked tokens scored at `max_len`.
    pub masked_tokens: u64,
    /// Scores per requested length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_length: Option<Vec<LengthScores>>,
}

/// Checks the inputs of an evaluation before any work: the run folder, the text file, the lengths.
pub fn check_text_eval(run_dir: &Path, opts: &TextEvalOptions) -> Result<PretrainedRun> {
    let run = PretrainedRun::open(run_dir)?;
    match &opts.text {
        EvalText::File(path) if !path.is_file() => {
            let what = if path.exists() {
                "not a regular file (a folder, device or pipe); give a UTF-8 text file"
            } else {
                "no such file; give a UTF-8 text file"
            };
            return Err(TrainError::input(
                format!("--text {}", path.display()),
                what,
            ));
        }
        EvalText::Split { split, .. } if *split == Split::Train => {
            return Err(TrainError::input(
                "--split",
                "train is the text the run learned from; use valid or test",
            ));
        }
        _ => {}
    }
    if let Some(&bad) = opts.lengths.iter().find(|&&l| l < 8) {
        return Err(TrainError::input(
            "--lengths",
            format!("{bad} is too short; use lengths of at least 8"),
        ));
    }
    if opts.batch_size == Some(0) || opts.max_rows == Some(0) {
        return Err(TrainError::input(
            "--batch-size / --max-rows",
            "must be at least 1",
        ));
    }
    Ok(run)
}

/// Token ids of a text file: documents (separated by blank lines) joined by `[SEP]`.
pub fn tokenize_file(tok: &TextTokenizer, path: &Path) -> Result<Vec<u32>> {
    let bytes = std::fs::read(path).at(path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        TrainError::input(
            path.display().to_string(),
            format!(
                "not UTF-8 (byte {}); re-encode it as UTF-8",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let sep = tok.special().sep;
    let mut ids = Vec::new();
    let mut document: Vec<&str> = Vec::new();
    let flush = |document: &mut Vec<&str>, ids: &mut Vec<u32>| -> Result<()> {
        if document.is_empty() {
            return Ok(());
        }
        if !ids.is_empty() {
            ids.push(sep);
        }
        for piece in tok.encode_many(std::mem::take(document))? {
            ids.extend(piece);
        }
        Ok(())
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut document, &mut ids)?;
        } else {
            document.push(line);
        }
    }
    flush(&mut document, &mut ids)?;
    if ids.is_empty() {
        return Err(TrainError::input(
            path.display().to_string(),
            "the file holds no text",
        ));
    }
    Ok(ids)
}

/// The whole token stream of `split` (documents already joined by `[SEP]` in the shards).
fn split_ids(shards: &ShardSet, split: Split) -> Result<Vec<u32>> {
    let reader = shards.reader(split, ReadMode::Pread)?;
    let mut ids = vec![0u32; reader.len() as usize];
    reader.read(0, &mut ids)?;
    if ids.is_empty() {
        return Err(TrainError::input(
            shards.dir().display().to_string(),
            format!("the {split} split holds no tokens; raise data.split fractions"),
        ));
    }
    Ok(ids)
}

/// Masked batches of rows of `len` ids cut from `ids`; one shorter row when `allow_short` and the text
/// does not fill one row. `None` when there is no row.
fn masked_batches(
    ids: &[u32],
    len: usize,
    allow_short: bool,
    opts: &TextEvalOptions,
    batch_size: usize,
    tok: &TextTokenizer,
    masker: &Masker,
) -> Result<Option<Vec<ablate_data::Result<MlmBatch>>>> {
    let width = len - 2;
    let special = tok.special();
    let mut rows: Vec<Vec<u32>> = ids
        .chunks_exact(width)
        .map(|c| [&[special.cls], c, &[special.sep]].concat())
        .collect();
    if rows.is_empty() {
        if !allow_short {
            return Ok(None);
        }
        rows.push([&[special.cls], ids, &[special.sep]].concat());
    }
    rows.truncate(opts.max_rows.unwrap_or(usize::MAX));
    let seq_len = rows[0].len();
    let batches = rows
        .chunks(batch_size)
        .enumerate()
        .map(|(b, chunk)| {
            let keys: Vec<[u64; 4]> = (0..chunk.len())
                .map(|r| {
                    [
                        mix(&[0xE7A1]),
                        opts.seed,
                        len as u64,
                        (b * batch_size + r) as u64,
                    ]
                })
                .collect();
            let refs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
            MlmBatch::from_rows(&refs, seq_len, masker, &keys)
        })
        .collect();
    Ok(Some(batches))
}

/// Scores the run in `run_dir` on the text of `opts`.
pub fn eval_text<B: Backend>(
    run_dir: &Path,
    opts: &TextEvalOptions,
    device: &B::Device,
) -> Result<TextEvalReport> {
    let run = check_text_eval(run_dir, opts)?;
    let tok = run.tokenizer()?;
    let masker = Masker::new(run.spec.data.masking.clone(), &tok)?;
    let (ids, text) = match &opts.text {
        EvalText::File(path) => (tokenize_file(&tok, path)?, opts.text.describe(None)),
        EvalText::Split { split, cache_dir } => {
            let shards = prepare_data(&run.spec, cache_dir)?;
            let ids = split_ids(&shards, *split)?;
            (ids, opts.text.describe(Some(shards.dir())))
        }
    };
    let model = run.load_mlm::<B>(device)?;
    let cfg = &run.spec.model.config;
    let batch_size = opts.batch_size.unwrap_or(run.spec.batch_size);
    let max_len = run.spec.data.max_len;
    let score = |len: usize, allow_short: bool| -> Result<Option<MlmScores>> {
        match masked_batches(&ids, len, allow_short, opts, batch_size, &tok, &masker)? {
            Some(batches) => evaluate_mlm(&model, batches, device).map(Some),
            None => Ok(None),
        }
    };
    let main = score(max_len, true)?.expect("a short row is allowed");
    let by_length = if opts.lengths.is_empty() {
        None
    } else {
        let mut out = Vec::new();
        for &len in &opts.lengths {
            let skip = |why: String| LengthScores {
                length: len,
                rows: 0,
                masked_tokens: 0,
                mlm_loss: None,
                mlm_accuracy: None,
                mlm_ppl: None,
                skipped: Some(why),
            };
            if cfg.has_learned_positions() && len > cfg.max_position_embeddings {
                out.push(skip(format!(
                    "the model's absolute position table has {} rows (model.max_position_embeddings)",
                    cfg.max_position_embeddings
                )));
                continue;
            }
            match score(len, false)? {
                Some(s) => out.push(LengthScores {
                    length: len,
                    rows: s.rows,
                    masked_tokens: s.masked_tokens,
                    mlm_loss: Some(s.loss),
                    mlm_accuracy: Some(s.accuracy),
                    mlm_ppl: Some(s.ppl),
                    skipped: None,
                }),
                None => out.push(skip(format!(
                    "the text has {} tokens, fewer than one row of {len}",
                    ids.len()
                ))),
            }
        }
        Some(out)
    };
    Ok(TextEvalReport {
        from: run.dir.clone(),
        checkpoint_step: run.step,
        text,
        tokens: ids.len() as u64,
        seed: opts.seed,
        max_len,
        rows: main.rows,
        mlm_loss: main.loss,
        mlm_accuracy: main.accuracy,
        mlm_ppl: main.ppl,
        masked_tokens: main.masked_tokens,
        by_length,
    })
}
