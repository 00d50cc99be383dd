//! Dynamic MLM masking: pick about `rate` of the maskable tokens of a sequence, then replace 80%
//! with `[MASK]`, 10% with a random token, and keep 10%. Options: whole-word masking (all pieces of
//! a word together) and span masking (runs of up to `max_span` adjacent tokens, or words with
//! whole-word masking on). Special tokens are never picked.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::tokenizer::{SpecialIds, TextTokenizer};

/// Label of a position that is not predicted (the PyTorch cross-entropy `ignore_index`).
pub const IGNORE_LABEL: i64 = -100;

/// Masking settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MaskingConfig {
    /// Fraction of maskable tokens picked per sequence (default 0.15).
    pub rate: f64,
    /// Of the picked tokens, the fraction replaced by `[MASK]` (default 0.8).
    pub mask_fraction: f64,
    /// Of the picked tokens, the fraction replaced by a random token (default 0.1); the rest stay.
    pub random_fraction: f64,
    /// Pick whole words: a `##` continuation piece goes with the piece before it.
    pub whole_word: bool,
    /// Longest span, in tokens (or words with `whole_word`); 1 turns span masking off (default 1).
    pub max_span: usize,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            rate: 0.15,
            mask_fraction: 0.8,
            random_fraction: 0.1,
            whole_word: false,
            max_span: 1,
        }
    }
}

impl MaskingConfig {
    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        if !(self.rate > 0.0 && self.rate < 1.0) {
            return Err(DataError::config(
                "masking.rate",
                format!("{} is not in (0, 1)", self.rate),
            ));
        }
        let (m, r) = (self.mask_fraction, self.random_fraction);
        if !(0.0..=1.0).contains(&m) || !(0.0..=1.0).contains(&r) || m + r > 1.0 {
            return Err(DataError::config(
                "masking.mask_fraction / masking.random_fraction",
                format!("{m} and {r} must be in [0, 1] and sum to at most 1"),
            ));
        }
        if !(1..=10).contains(&self.max_span) {
            return Err(DataError::config(
                "masking.max_span",
                format!("{} is not in 1..=10", self.max_span),
            ));
        }
        Ok(())
    }
}

/// Applies [`MaskingConfig`] to sequences of one tokenizer's ids.
#[derive(Clone, Debug)]
pub struct Masker {
    cfg: MaskingConfig,
    special: SpecialIds,
    word_start: Vec<bool>,
    random_pool: Vec<u32>,
}

impl Masker {
    /// A masker for `tokenizer`'s vocabulary.
    pub fn new(cfg: MaskingConfig, tokenizer: &TextTokenizer) -> Result<Self> {
        Self::from_parts(cfg, tokenizer.special(), tokenizer.word_starts().to_vec())
    }

    /// A masker from the special ids and the per-id word-start table.
    pub fn from_parts(
        cfg: MaskingConfig,
        special: SpecialIds,
        word_start: Vec<bool>,
    ) -> Result<Self> {
        cfg.validate()?;
        let random_pool: Vec<u32> = (0..word_start.len() as u32)
            .filter(|id| !special.contains(*id))
            .collect();
        if random_pool.is_empty() {
            return Err(DataError::config(
                "tokenizer",
                "the vocabulary has no ordinary tokens to mask",
            ));
        }
        Ok(Masker {
            cfg,
            special,
            word_start,
            random_pool,
        })
    }

    /// The settings.
    pub fn config(&self) -> &MaskingConfig {
        &self.cfg
    }

    /// The special token ids.
    pub fn special(&self) -> SpecialIds {
        self.special
    }

    fn starts_word(&self, id: u32) -> bool {
        self.word_start.get(id as usize).copied().unwrap_or(true)
    }

    /// Maskable units (position ranges): single tokens, or whole words.
    fn units(&self, ids: &[u32]) -> Vec<(usize, usize)> {
        let mut units: Vec<(usize, usize)> = Vec::new();
        for (i, &id) in ids.iter().enumerate() {
            if self.special.contains(id) {
                continue;
            }
            match units.last_mut() {
                Some(last) if self.cfg.whole_word && last.1 == i && !self.starts_word(id) => {
                    last.1 = i + 1;
                }
                _ => units.push((i, i + 1)),
            }
        }
        units
    }

    /// Masks one sequence in place. `labels` (same length) gets the original id at picked
    /// positions and [`IGNORE_LABEL`] elsewhere. Returns the picked positions in order.
    pub fn mask(&self, ids: &mut [u32], labels: &mut [i64], rng: &mut ChaCha8Rng) -> Vec<usize> {
        debug_assert_eq!(ids.len(), labels.len());
        labels.fill(IGNORE_LABEL);
        let units = self.units(ids);
        let candidates: usize = units.iter().map(|(a, b)| b - a).sum();
        if candidates == 0 {
            return Vec::new();
        }
        let budget = ((self.cfg.rate * candidates as f64).round() as usize).max(1);
        let mut order: Vec<usize> = (0..units.len()).collect();
        order.shuffle(rng);
        let mut taken = vec![false; units.len()];
        let mut count = 0usize;
        for u in order {
            if count >= budget {
                break;
            }
            if taken[u] {
                continue;
            }
            let want = if self.cfg.max_span > 1 {
                rng.random_range(1..=self.cfg.max_span)
            } else {
                1
            };
            let mut end = u + 1;
            while end - u < want
                && end < units.len()
                && !taken[end]
                && units[end].0 == units[end - 1].1
            {
                end += 1;
            }
            let size = |e: usize| units[u..e].iter().map(|(a, b)| b - a).sum::<usize>();
            while end > u + 1 && count + size(end) > budget {
                end -= 1;
            }
            if count + size(end) > budget {
                continue;
            }
            taken[u..end].iter_mut().for_each(|t| *t = true);
            count += size(end);
        }
        let mut picked = Vec::with_capacity(count);
        for (unit, _) in units.iter().zip(&taken).filter(|(_, t)| **t) {
            for p in unit.0..unit.1 {
                labels[p] = ids[p] as i64;
                let r: f64 = rng.random();
                if r < self.cfg.mask_fraction {
                    ids[p] = self.special.mask;
                } else if r < self.cfg.mask_fraction + self.cfg.random_fraction {
                    ids[p] = self.random_pool[rng.random_range(0..self.random_pool.len())];
                }
                picked.push(p);
            }
        }
        picked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::rng_for;

    const SPECIAL: SpecialIds = SpecialIds {
        pad: 0,
        cls: 1,
        sep: 2,
        mask: 3,
        unk: 4,
    };

    /// Vocabulary of 100 ids where ids 50.. are `##` continuation pieces.
    fn masker(cfg: MaskingConfig) -> Masker {
        let word_start = (0..100).map(|i| i < 50).collect();
        Masker::from_parts(cfg, SPECIAL, word_start).unwrap()
    }

    fn sequence(len: usize, seed: u64) -> Vec<u32> {
        let mut rng = rng_for(&[seed]);
        let mut ids = vec![1];
        ids.extend((0..len - 2).map(|_| rng.random_range(5..100)));
        ids.push(2);
        ids
    }

    #[test]
    fn rate_and_80_10_10_split_hold_and_specials_are_never_picked() {
        let m = masker(MaskingConfig::default());
        let (mut picked, mut cand, mut masked, mut random, mut kept) = (0, 0, 0, 0, 0);
        for s in 0..400 {
            let orig = sequence(128, s);
            let mut ids = orig.clone();
            let mut labels = vec![0; ids.len()];
            let pos = m.mask(&mut ids, &mut labels, &mut rng_for(&[7, s]));
            cand += 126;
            picked += pos.len();
            for (i, l) in labels.iter().enumerate() {
                if *l == IGNORE_LABEL {
                    assert_eq!(ids[i], orig[i]);
                    continue;
                }
                assert!(pos.contains(&i));
                assert!(!SPECIAL.contains(orig[i]), "special token picked");
                assert_eq!(*l, orig[i] as i64);
                if ids[i] == 3 {
                    masked += 1;
                } else if ids[i] == orig[i] {
                    kept += 1;
                } else {
                    random += 1;
                }
            }
        }
        let rate = picked as f64 / cand as f64;
        assert!((rate - 0.15).abs() < 0.005, "rate {rate}");
        let f = |n: usize| n as f64 / picked as f64;
        assert!((f(masked) - 0.8).abs() < 0.02, "mask {}", f(masked));
        // A random replacement can draw the original id (1 in 95), so "kept" runs a bit high.
        assert!((f(random) - 0.1).abs() < 0.02, "random {}", f(random));
        assert!((f(kept) - 0.1).abs() < 0.02, "kept {}", f(kept));
    }

    #[test]
    fn whole_word_masking_takes_every_piece_of_a_word() {
        let m = masker(MaskingConfig {
            whole_word: true,
            ..MaskingConfig::default()
        });
        for s in 0..200 {
            let orig = sequence(64, s);
            let mut ids = orig.clone();
            let mut labels = vec![0; ids.len()];
            m.mask(&mut ids, &mut labels, &mut rng_for(&[s]));
            for i in 1..orig.len() - 1 {
                let cont = orig[i] >= 50;
                if cont && !SPECIAL.contains(orig[i - 1]) {
                    let a = labels[i - 1] != IGNORE_LABEL;
                    let b = labels[i] != IGNORE_LABEL;
                    assert_eq!(a, b, "seq {s}: piece {i} split from its word");
                }
            }
        }
    }

    #[test]
    fn span_masking_makes_runs_of_at_most_max_span() {
        let m = masker(MaskingConfig {
            max_span: 3,
            ..MaskingConfig::default()
        });
        let plain = masker(MaskingConfig::default());
        // (runs, runs longer than one token) for span masking and for token masking
        let mut stats = [(0usize, 0usize); 2];
        let count_runs = |labels: &[i64]| {
            let mut out = Vec::new();
            let mut run = 0;
            for l in labels.iter().chain([IGNORE_LABEL].iter()) {
                if *l != IGNORE_LABEL {
                    run += 1;
                } else if run > 0 {
                    out.push(run);
                    run = 0;
                }
            }
            out
        };
        for s in 0..200 {
            let orig = sequence(256, s);
            for (k, mk) in [&m, &plain].into_iter().enumerate() {
                let mut ids = orig.clone();
                let mut labels = vec![0; ids.len()];
                mk.mask(&mut ids, &mut labels, &mut rng_for(&[s]));
                for r in count_runs(&labels) {
                    stats[k].0 += 1;
                    stats[k].1 += usize::from(r >= 2);
                }
            }
        }
        let long = |(runs, long): (usize, usize)| long as f64 / runs as f64;
        // Spans of 1, 2 or 3 are equally likely (touching spans merge into longer runs).
        assert!(long(stats[0]) > 0.6, "span masking: {:?}", stats[0]);
        assert!(long(stats[1]) < 0.25, "token masking: {:?}", stats[1]);
    }

    #[test]
    fn same_stream_same_mask() {
        let m = masker(MaskingConfig::default());
        let orig = sequence(100, 1);
        let run = |seed| {
            let mut ids = orig.clone();
            let mut labels = vec![0; ids.len()];
            m.mask(&mut ids, &mut labels, &mut rng_for(&[seed]));
            (ids, labels)
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn bad_settings_are_rejected() {
        let bad = MaskingConfig {
            rate: 0.0,
            ..MaskingConfig::default()
        };
        assert!(matches!(bad.validate(), Err(DataError::Config { .. })));
        let bad = MaskingConfig {
            mask_fraction: 0.9,
            random_fraction: 0.2,
            ..MaskingConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
