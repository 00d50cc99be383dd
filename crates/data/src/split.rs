//! Deterministic train/valid/test split by passage hash.
//!
//! A corpus is read as passages (consecutive paragraphs of one document, about `passage_words`
//! words; a short document is one passage). Each passage goes to a split by the XXH3 hash of its
//! text under `salt`, so the split depends on nothing but the text and the settings: the same
//! passage lands in the same split on every machine, and duplicated passages never straddle splits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::corpus::{Corpus, Passage};
use crate::error::{DataError, Result};
use crate::hashing::{hash64, unit_fraction};

/// One of the three splits.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Pre-training text.
    Train,
    /// Held out for validation during pre-training.
    Valid,
    /// Held out for tests and downstream task sets.
    Test,
}

impl Split {
    /// All splits in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Split {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "valid" => Ok(Split::Valid),
            "test" => Ok(Split::Test),
            _ => Err(DataError::config(
                "split",
                format!("`{s}` is not a split; use train, valid or test"),
            )),
        }
    }
}

/// How passages are cut and assigned to splits.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// Fraction of passages held out for validation (default 0.01).
    pub valid_fraction: f64,
    /// Fraction of passages held out for test and task sets (default 0.01).
    pub test_fraction: f64,
    /// A passage closes at the first paragraph end at or past this many words (default 200).
    pub passage_words: usize,
    /// Seed of the split hash; another salt gives another split of the same text.
    pub salt: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            valid_fraction: 0.01,
            test_fraction: 0.01,
            passage_words: 200,
            salt: 0,
        }
    }
}

impl SplitConfig {
    /// Checks that the fractions leave a training split and that passages are non-empty.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("valid_fraction", self.valid_fraction),
            ("test_fraction", self.test_fraction),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(DataError::config(key, format!("{v} is not in [0, 1)")));
            }
        }
        if self.valid_fraction + self.test_fraction >= 1.0 {
            return Err(DataError::config(
                "valid_fraction + test_fraction",
                "the held-out fractions must sum to less than 1 so that text is left to train on",
            ));
        }
        if self.passage_words == 0 {
            return Err(DataError::config("passage_words", "must be at least 1"));
        }
        Ok(())
    }

    /// The split of a passage with this text.
    pub fn assign_text(&self, text: &str) -> Split {
        let u = unit_fraction(hash64(text.as_bytes(), self.salt));
        if u < self.test_fraction {
            Split::Test
        } else if u < self.test_fraction + self.valid_fraction {
            Split::Valid
        } else {
            Split::Train
        }
    }

    /// The split of a passage.
    pub fn assign(&self, passage: &Passage) -> Split {
        self.assign_text(&passage.text())
    }
}

/// Counts of one split.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitCounts {
    /// Passages assigned to the split.
    pub passages: u64,
    /// Paragraphs in them.
    pub paragraphs: u64,
    /// Words in them.
    pub words: u64,
}

impl SplitCounts {
    /// Adds one passage.
    pub fn add(&mut self, p: &Passage) {
        self.passages += 1;
        self.paragraphs += p.paragraphs.len() as u64;
        self.words += p.words as u64;
    }
}

/// Counts the passages, paragraphs and words of each split of `corpus`.
pub fn split_counts(corpus: &Corpus, cfg: &SplitConfig) -> Result<BTreeMap<Split, SplitCounts>> {
    cfg.validate()?;
    let mut out: BTreeMap<Split, SplitCounts> = Split::ALL
        .iter()
        .map(|s| (*s, SplitCounts::default()))
        .collect();
    for p in corpus.passages(cfg.passage_words) {
        let p = p?;
        out.get_mut(&cfg.assign(&p))
            .expect("every split is present")
            .add(&p);
    }
    Ok(out)
}

/// Streams the passages of one split.
pub fn split_passages<'a>(
    corpus: &'a Corpus,
    cfg: &'a SplitConfig,
    split: Split,
) -> impl Iterator<Item = Result<Passage>> + 'a {
    corpus
        .passages(cfg.passage_words)
        .filter(move |p| p.as_ref().map(|p| cfg.assign(p) == split).unwrap_or(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_deterministic_and_near_the_fractions() {
        let cfg = SplitConfig {
            valid_fraction: 0.1,
            test_fraction: 0.2,
            ..SplitConfig::default()
        };
        let texts: Vec<String> = (0..20_000).map(|i| format!("passage number {i}")).collect();
        let first: Vec<Split> = texts.iter().map(|t| cfg.assign_text(t)).collect();
        let again: Vec<Split> = texts.iter().map(|t| cfg.assign_text(t)).collect();
        assert_eq!(first, again);
        let frac = |s: Split| first.iter().filter(|x| **x == s).count() as f64 / 20_000.0;
        assert!(
            (frac(Split::Test) - 0.2).abs() < 0.015,
            "{}",
            frac(Split::Test)
        );
        assert!(
            (frac(Split::Valid) - 0.1).abs() < 0.015,
            "{}",
            frac(Split::Valid)
        );
        let salted = SplitConfig {
            salt: 7,
            ..cfg.clone()
        };
        let moved = texts
            .iter()
            .filter(|t| salted.assign_text(t) != cfg.assign_text(t))
            .count();
        assert!(moved > 1000, "another salt gives another split");
    }

    #[test]
    fn bad_fractions_are_rejected() {
        let bad = SplitConfig {
            valid_fraction: 0.5,
            test_fraction: 0.5,
            ..SplitConfig::default()
        };
        assert!(matches!(bad.validate(), Err(DataError::Config { .. })));
        let neg = SplitConfig {
            test_fraction: -0.1,
            ..SplitConfig::default()
        };
        assert!(neg.validate().is_err());
    }
}
