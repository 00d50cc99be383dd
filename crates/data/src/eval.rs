//! Evaluation batches: one ordered pass over a split with masks fixed by the seed.

use crate::batcher::{BatchConfig, MlmBatch, PackedSequences};
use crate::error::{DataError, Result};
use crate::hashing::domain;
use crate::masking::Masker;
use crate::reader::ShardSet;
use crate::split::Split;

/// One ordered pass over a split with fixed masks: the same batches on every call, for
/// validation and test losses.
#[derive(Debug)]
pub struct EvalBatches {
    seqs: PackedSequences,
    masker: Masker,
    batch_size: usize,
    seed: u64,
    next: u64,
}

impl EvalBatches {
    /// A pass over `split` of `shards`; the last batch may be smaller.
    pub fn new(shards: &ShardSet, split: Split, cfg: &BatchConfig) -> Result<Self> {
        if cfg.batch_size == 0 {
            return Err(DataError::config("batch_size", "must be at least 1"));
        }
        let masker = Masker::new(cfg.masking.clone(), shards.tokenizer())?;
        let seqs = PackedSequences::open(shards, split, cfg.max_len, cfg.read_mode)?;
        if seqs.is_empty() {
            return Err(seqs.too_small(split, 1));
        }
        Ok(EvalBatches {
            seqs,
            masker,
            batch_size: cfg.batch_size,
            seed: cfg.seed,
            next: 0,
        })
    }

    /// Sequences in the pass.
    pub fn sequences(&self) -> u64 {
        self.seqs.len()
    }

    fn batch(&mut self) -> Result<MlmBatch> {
        let l = self.seqs.max_len();
        let n = (self.seqs.len() - self.next).min(self.batch_size as u64) as usize;
        let mut rows = vec![0u32; n * l];
        let mut keys = Vec::with_capacity(n);
        for r in 0..n {
            let s = self.next + r as u64;
            self.seqs.fill(s, &mut rows[r * l..(r + 1) * l])?;
            keys.push([domain::EVAL, self.seed, 0, s]);
        }
        self.next += n as u64;
        let rows: Vec<&[u32]> = rows.chunks(l).collect();
        MlmBatch::from_rows(&rows, l, &self.masker, &keys)
    }
}

impl Iterator for EvalBatches {
    type Item = Result<MlmBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.seqs.len() {
            return None;
        }
        Some(self.batch())
    }
}
