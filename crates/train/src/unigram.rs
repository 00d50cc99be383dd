//! The frequency-only reference of MLM scores: what a model that ignores the context entirely would score on
//! the valid split. It predicts every masked token from the training split's token frequencies, so its loss is
//! the unigram cross-entropy and its accuracy that of always naming the most frequent token. A model whose
//! valid loss is not clearly below this has learned nothing from the context.

use ablate_data::{IGNORE_LABEL, MlmBatch, ShardSet, SpecialIds, Split};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Tokens read from the split per call.
const CHUNK: usize = 1 << 20;

/// The frequency-only scores on the masked tokens a run is evaluated on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnigramReference {
    /// Mean negative log-likelihood (nats) of the masked tokens under the training split's token
    /// frequencies (add-one smoothed over the non-special vocabulary).
    pub loss: f64,
    /// Share of masked tokens equal to the most frequent training token.
    pub accuracy: f64,
    /// Masked tokens scored.
    pub masked_tokens: u64,
}

/// Token counts of a split, special tokens left out.
#[derive(Debug, Clone)]
pub struct UnigramCounts {
    counts: Vec<u64>,
    special: SpecialIds,
}

impl UnigramCounts {
    /// Counts every token of `split` (one pass over its shards).
    pub fn of_split(shards: &ShardSet, split: Split) -> Result<Self> {
        let vocab = shards.tokenizer().vocab_size();
        let special = shards.tokenizer().special();
        let reader = shards.reader(split, ablate_data::ReadMode::default())?;
        let mut counts = vec![0u64; vocab];
        let mut buf = vec![0u32; CHUNK];
        let mut start = 0u64;
        while start < reader.len() {
            let n = (reader.len() - start).min(CHUNK as u64) as usize;
            reader.read(start, &mut buf[..n])?;
            for &id in &buf[..n] {
                if let Some(c) = counts.get_mut(id as usize)
                    && !special.contains(id)
                {
                    *c += 1;
                }
            }
            start += n as u64;
        }
        Ok(Self { counts, special })
    }

    /// Counts from a table (ids are indices), for tests.
    pub fn from_counts(counts: Vec<u64>, special: SpecialIds) -> Self {
        Self { counts, special }
    }

    /// Scores the masked tokens of `batches` with the smoothed frequencies.
    pub fn score<'a>(&self, batches: impl IntoIterator<Item = &'a MlmBatch>) -> UnigramReference {
        let eligible = (0..self.counts.len() as u32).filter(|&id| !self.special.contains(id));
        let (mut mode, mut mode_count, mut kinds, mut total) = (0u32, 0u64, 0u64, 0u64);
        for id in eligible {
            let count = self.counts[id as usize];
            kinds += 1;
            total += count;
            if count > mode_count {
                (mode, mode_count) = (id, count);
            }
        }
        let denom = (total + kinds.max(1)) as f64;
        let (mut nll, mut correct, mut masked) = (0.0f64, 0u64, 0u64);
        for batch in batches {
            for &pos in &batch.masked_positions {
                let label = batch.labels[pos as usize];
                if label == IGNORE_LABEL {
                    continue;
                }
                let count = self.counts.get(label as usize).copied().unwrap_or(0);
                nll -= ((count + 1) as f64 / denom).ln();
                correct += u64::from(label == i64::from(mode));
                masked += 1;
            }
        }
        let per = |x: f64| {
            if masked == 0 {
                f64::NAN
            } else {
                x / masked as f64
            }
        };
        UnigramReference {
            loss: per(nll),
            accuracy: per(correct as f64),
            masked_tokens: masked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn special() -> SpecialIds {
        SpecialIds {
            pad: 0,
            cls: 1,
            sep: 2,
            mask: 3,
            unk: 4,
        }
    }

    #[test]
    fn scores_by_hand() {
        // vocabulary 8, ids 5..8 are words with counts 6, 2, 1, 0 (specials 100 each, ignored)
        let counts = UnigramCounts::from_counts(vec![100, 100, 100, 100, 100, 6, 2, 1], special());
        let batch = MlmBatch {
            input_ids: vec![3, 3, 3, 7],
            labels: vec![5, 6, 7, IGNORE_LABEL],
            attention_mask: vec![true; 4],
            masked_positions: vec![0, 1, 2],
            batch_size: 1,
            seq_len: 4,
            sequence_ids: vec![0],
        };
        let r = counts.score([&batch]);
        // eligible ids 5, 6, 7 (specials left out): denominator 9 counted + 3 smoothing = 12; mode id 5
        let want = -((7.0f64 / 12.0).ln() + (3.0f64 / 12.0).ln() + (2.0f64 / 12.0).ln()) / 3.0;
        assert!((r.loss - want).abs() < 1e-12, "{} vs {want}", r.loss);
        assert!((r.accuracy - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.masked_tokens, 3);
    }
}
