//! MLM batches from a shard folder: packed sequences, a seeded order per epoch, dynamic masking,
//! and a saveable cursor.
//!
//! Sequence `s` of a split holds ids `s*(max_len-2) .. (s+1)*(max_len-2)` of its token stream, with
//! `[CLS]` before and `[SEP]` after (the stream already holds `[SEP]` between documents). Epoch `e`
//! visits sequences in the order of a keyed permutation of (seed, e); the tail that does not fill a
//! batch is left out of that epoch. Sequence `s` in epoch `e` is masked with a random stream keyed
//! by (seed, e, s), so a batch depends only on (seed, epoch, position): same seed, same batches,
//! bit for bit, and a restored [`DataCursor`] continues the exact stream.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::hashing::{domain, mix, rng_for};
use crate::masking::{Masker, MaskingConfig};
use crate::permutation::Permutation;
use crate::reader::{ReadMode, ShardSet, TokenReader};
use crate::split::Split;
use crate::tokenizer::SpecialIds;

/// One MLM batch, row-major `[batch_size, seq_len]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlmBatch {
    /// Input ids after masking.
    pub input_ids: Vec<u32>,
    /// Original ids at picked positions, [`crate::IGNORE_LABEL`] (-100) elsewhere.
    pub labels: Vec<i64>,
    /// `true` for real tokens, `false` for padding.
    pub attention_mask: Vec<bool>,
    /// Flat indices (`row * seq_len + col`) of the picked positions, ascending.
    pub masked_positions: Vec<u32>,
    /// Rows.
    pub batch_size: usize,
    /// Columns.
    pub seq_len: usize,
    /// Which packed sequence of the split each row is.
    pub sequence_ids: Vec<u64>,
}

impl MlmBatch {
    /// Picked positions in the batch.
    pub fn num_masked(&self) -> usize {
        self.masked_positions.len()
    }

    /// Masks evaluation rows (e.g. a length-extrapolation file) with masks fixed by `seed` and the
    /// row's index in its file (`first_row` is the index of `rows[0]`): the same masks on every
    /// call, whatever the batch size.
    pub fn mask_eval_rows(
        rows: &[&[u32]],
        masker: &Masker,
        seed: u64,
        first_row: u64,
    ) -> Result<Self> {
        let seq_len = rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let keys: Vec<[u64; 4]> = (0..rows.len() as u64)
            .map(|i| [domain::EVAL, seed, 1, first_row + i])
            .collect();
        Self::from_rows(rows, seq_len, masker, &keys)
    }

    /// Masks `rows` (all of length `seq_len`; padded with `[PAD]` where shorter) with one random
    /// stream per row, keyed by `keys[row]`.
    pub fn from_rows(
        rows: &[&[u32]],
        seq_len: usize,
        masker: &Masker,
        keys: &[[u64; 4]],
    ) -> Result<Self> {
        if rows.len() != keys.len() {
            return Err(DataError::config("rows", "one key per row is needed"));
        }
        let pad = masker.special().pad;
        let n = rows.len() * seq_len;
        let mut batch = MlmBatch {
            input_ids: vec![pad; n],
            labels: vec![0; n],
            attention_mask: vec![false; n],
            masked_positions: Vec::new(),
            batch_size: rows.len(),
            seq_len,
            sequence_ids: keys.iter().map(|k| k[3]).collect(),
        };
        for (r, (row, key)) in rows.iter().zip(keys).enumerate() {
            if row.len() > seq_len {
                return Err(DataError::config(
                    "max_len",
                    format!("a row of {} ids does not fit {seq_len}", row.len()),
                ));
            }
            let span = r * seq_len..r * seq_len + row.len();
            batch.input_ids[span.clone()].copy_from_slice(row);
            batch.attention_mask[span.clone()].fill(true);
            let mut rng: ChaCha8Rng = rng_for(key);
            let (ids, labels) = (&mut batch.input_ids[span.clone()], &mut batch.labels[span]);
            for p in masker.mask(ids, labels, &mut rng) {
                batch.masked_positions.push((r * seq_len + p) as u32);
            }
            for l in &mut batch.labels[r * seq_len + row.len()..(r + 1) * seq_len] {
                *l = crate::masking::IGNORE_LABEL;
            }
        }
        Ok(batch)
    }
}

/// Batching settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Rows per batch (default 32).
    pub batch_size: usize,
    /// Tokens per row, `[CLS]` and `[SEP]` included (default 128).
    pub max_len: usize,
    /// Seed of the order and the masks.
    pub seed: u64,
    /// Masking settings.
    pub masking: MaskingConfig,
    /// How shard files are read.
    pub read_mode: ReadMode,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            batch_size: 32,
            max_len: 128,
            seed: 0,
            masking: MaskingConfig::default(),
            read_mode: ReadMode::Pread,
        }
    }
}

/// Where a batch stream stands; save it with a checkpoint and give it to
/// [`MlmBatcher::restore`] to continue the same stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DataCursor {
    /// Fingerprint of the shard set.
    pub shards: String,
    /// The split read.
    pub split: Split,
    /// Batch settings the stream was started with.
    pub seed: u64,
    /// Rows per batch.
    pub batch_size: usize,
    /// Tokens per row.
    pub max_len: usize,
    /// Masking settings.
    pub masking: MaskingConfig,
    /// Current epoch (0-based).
    pub epoch: u64,
    /// Sequences of this epoch already served.
    pub position: u64,
    /// Batches served since the start.
    pub batches: u64,
}

/// Packed fixed-length sequences of one split.
#[derive(Debug)]
pub struct PackedSequences {
    reader: TokenReader,
    max_len: usize,
    special: SpecialIds,
    count: u64,
}

impl PackedSequences {
    /// Packs `split` of `shards` into rows of `max_len` ids.
    pub fn open(shards: &ShardSet, split: Split, max_len: usize, mode: ReadMode) -> Result<Self> {
        if max_len < 8 {
            return Err(DataError::config(
                "max_len",
                format!("{max_len} is too short; use at least 8"),
            ));
        }
        let reader = shards.reader(split, mode)?;
        let count = reader.len() / (max_len as u64 - 2);
        Ok(PackedSequences {
            reader,
            max_len,
            special: shards.index().special,
            count,
        })
    }

    /// Number of sequences.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Row length.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Writes sequence `s` (`[CLS] ... [SEP]`) into `out` (length `max_len`).
    pub fn fill(&self, s: u64, out: &mut [u32]) -> Result<()> {
        let w = self.max_len - 2;
        out[0] = self.special.cls;
        self.reader.read(s * w as u64, &mut out[1..=w])?;
        out[w + 1] = self.special.sep;
        Ok(())
    }

    pub(crate) fn too_small(&self, split: Split, batch_size: usize) -> DataError {
        DataError::CorpusTooSmall {
            path: self.reader.index_path().to_path_buf(),
            split: split.to_string(),
            sequences: self.count,
            batch_size,
            max_len: self.max_len,
        }
    }
}

/// An endless, resumable stream of training batches.
#[derive(Debug)]
pub struct MlmBatcher {
    seqs: PackedSequences,
    masker: Masker,
    cfg: BatchConfig,
    cursor: DataCursor,
    rows: Vec<u32>,
}

impl MlmBatcher {
    /// A batcher over `split` of `shards`, starting at epoch 0.
    pub fn new(shards: &ShardSet, split: Split, cfg: BatchConfig) -> Result<Self> {
        if cfg.batch_size == 0 {
            return Err(DataError::config("batch_size", "must be at least 1"));
        }
        let masker = Masker::new(cfg.masking.clone(), shards.tokenizer())?;
        let seqs = PackedSequences::open(shards, split, cfg.max_len, cfg.read_mode)?;
        if seqs.len() < cfg.batch_size as u64 {
            return Err(seqs.too_small(split, cfg.batch_size));
        }
        let cursor = DataCursor {
            shards: shards.index().fingerprint.clone(),
            split,
            seed: cfg.seed,
            batch_size: cfg.batch_size,
            max_len: cfg.max_len,
            masking: cfg.masking.clone(),
            epoch: 0,
            position: 0,
            batches: 0,
        };
        let rows = vec![0; cfg.batch_size * cfg.max_len];
        Ok(MlmBatcher {
            seqs,
            masker,
            cfg,
            cursor,
            rows,
        })
    }

    /// Sequences in the split.
    pub fn sequences(&self) -> u64 {
        self.seqs.len()
    }

    /// Full batches per epoch.
    pub fn batches_per_epoch(&self) -> u64 {
        self.seqs.len() / self.cfg.batch_size as u64
    }

    /// Where the stream stands (the next batch to serve).
    pub fn cursor(&self) -> DataCursor {
        self.cursor.clone()
    }

    /// Continues from `cursor`, which must come from a stream with the same shards and settings.
    pub fn restore(&mut self, cursor: &DataCursor) -> Result<()> {
        let here = &self.cursor;
        let mismatch = if cursor.shards != here.shards {
            Some("it was saved for another shard set".to_string())
        } else if cursor.split != here.split {
            Some(format!("it reads {}, not {}", cursor.split, here.split))
        } else if (cursor.seed, cursor.batch_size, cursor.max_len)
            != (here.seed, here.batch_size, here.max_len)
        {
            Some(format!(
                "seed/batch_size/max_len {}/{}/{} differ from {}/{}/{}",
                cursor.seed,
                cursor.batch_size,
                cursor.max_len,
                here.seed,
                here.batch_size,
                here.max_len
            ))
        } else if cursor.masking != here.masking {
            Some("the masking settings differ".to_string())
        } else if cursor.position + cursor.batch_size as u64 > self.seqs.len() {
            Some(format!("position {} is past the epoch", cursor.position))
        } else {
            None
        };
        if let Some(message) = mismatch {
            return Err(DataError::CursorMismatch {
                path: self.seqs.reader.index_path().to_path_buf(),
                message,
            });
        }
        self.cursor = cursor.clone();
        Ok(())
    }

    /// The batch at (`epoch`, `position`), independent of the cursor.
    pub fn batch_at(&mut self, epoch: u64, position: u64) -> Result<MlmBatch> {
        let (b, l, seed) = (self.cfg.batch_size, self.cfg.max_len, self.cfg.seed);
        let perm = Permutation::new(self.seqs.len(), mix(&[domain::ORDER, seed, epoch]));
        let mut keys = Vec::with_capacity(b);
        for r in 0..b {
            let s = perm.apply(position + r as u64);
            self.seqs.fill(s, &mut self.rows[r * l..(r + 1) * l])?;
            keys.push([domain::MASK, seed, epoch, s]);
        }
        let rows: Vec<&[u32]> = self.rows.chunks(l).collect();
        MlmBatch::from_rows(&rows, l, &self.masker, &keys)
    }

    /// Serves the next batch and advances the cursor.
    pub fn next_batch(&mut self) -> Result<MlmBatch> {
        let (epoch, position) = (self.cursor.epoch, self.cursor.position);
        let batch = self.batch_at(epoch, position)?;
        let b = self.cfg.batch_size as u64;
        self.cursor.position += b;
        if self.cursor.position + b > self.seqs.len() {
            self.cursor.epoch += 1;
            self.cursor.position = 0;
        }
        self.cursor.batches += 1;
        Ok(batch)
    }
}

impl Iterator for MlmBatcher {
    type Item = Result<MlmBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_batch())
    }
}
