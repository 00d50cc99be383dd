//! The held-out text the sentence tasks are built from, and the rules that keep task splits apart:
//! a stretch of held-out text goes to one task split whole, every sentence feeds at most one task
//! split, and no task uses a sentence that is pre-training text.

use std::collections::HashSet;

use super::TaskSplit;
use super::sentences::{sentence_key, split_sentences};
use crate::corpus::{Corpus, Passage};
use crate::error::Result;
use crate::hashing::{domain, hash64, mix};
use crate::split::{Split, SplitConfig, SplitCounts, split_passages};

/// A stretch of held-out text: consecutive test-split passages of one document (a whole short
/// document, or the held-out part of a long one). It is the unit the task splits of `bshift` and
/// `sent_order` are assigned by, so no passage feeds two task splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stretch {
    /// The text of its first passage, hashed to order the stretches ([`assign_splits`]).
    pub key: String,
    /// Its paragraphs, each as its list of sentences.
    pub paragraphs: Vec<Vec<String>>,
    /// Its task split (train until [`assign_splits`] sets it).
    pub split: TaskSplit,
}

impl Stretch {
    /// Its sentences, in order.
    pub fn sentences(&self) -> impl Iterator<Item = &String> {
        self.paragraphs.iter().flatten()
    }
}

/// The stretches of the corpus' test split, in corpus order, and the split's counts.
pub fn held_out_stretches(
    corpus: &Corpus,
    cfg: &SplitConfig,
) -> Result<(Vec<Stretch>, SplitCounts)> {
    let mut out: Vec<Stretch> = Vec::new();
    let mut counts = SplitCounts::default();
    let mut prev: Option<Passage> = None;
    for p in split_passages(corpus, cfg, Split::Test) {
        let mut p = p?;
        counts.add(&p);
        let paragraphs: Vec<Vec<String>> =
            p.paragraphs.iter().map(|t| split_sentences(t)).collect();
        match out.last_mut() {
            Some(last) if prev.as_ref().is_some_and(|q| p.continues(q)) => {
                last.paragraphs.extend(paragraphs)
            }
            _ => out.push(Stretch {
                key: p.text(),
                paragraphs,
                split: TaskSplit::Train,
            }),
        }
        p.paragraphs.clear(); // only its place in the document is needed
        prev = Some(p);
    }
    Ok((out, counts))
}

/// Sets the task split of every stretch. Stretches are ordered by the hash of their key (keyed by
/// the task seed, ties in corpus order); the first ones, until they hold the fraction `test` of
/// all sentences, go to test, the next ones, until `valid` more, to valid, and the rest to train.
/// So each task split gets its fraction of the text, give or take one stretch, also when there
/// are few stretches (test, with a nonzero fraction, always gets the first one).
pub fn assign_splits(stretches: &mut [Stretch], valid: f64, test: f64, seed: u64) {
    let key = mix(&[domain::TASK, seed]);
    let mut order: Vec<(u64, usize)> = stretches
        .iter()
        .enumerate()
        .map(|(i, s)| (hash64(s.key.as_bytes(), key), i))
        .collect();
    order.sort_unstable();
    let total: usize = stretches.iter().map(|s| s.sentences().count()).sum();
    // Sentences each split should hold, rounded up (the epsilon absorbs float error in f * n).
    let share = |f: f64| (f * total as f64 - 1e-9).ceil().max(0.0) as usize;
    let test_end = share(test);
    let valid_end = test_end + share(valid);
    let mut before = 0usize;
    for (_, i) in order {
        let stretch = &mut stretches[i];
        stretch.split = if before < test_end {
            TaskSplit::Test
        } else if before < valid_end {
            TaskSplit::Valid
        } else {
            TaskSplit::Train
        };
        before += stretch.sentences().count();
    }
}

/// The keys ([`sentence_key`]) of `candidates` that occur in the corpus' train split, the
/// pre-training text: as a whole paragraph, or as one sentence of a paragraph.
pub fn in_pretraining_text(
    corpus: &Corpus,
    cfg: &SplitConfig,
    candidates: &HashSet<u128>,
) -> Result<HashSet<u128>> {
    let mut found = HashSet::new();
    if candidates.is_empty() {
        return Ok(found);
    }
    for p in split_passages(corpus, cfg, Split::Train) {
        for para in &p?.paragraphs {
            let sentences = split_sentences(para);
            let whole = (sentences.len() != 1).then(|| sentence_key(para));
            for k in sentences.iter().map(|s| sentence_key(s)).chain(whole) {
                if candidates.contains(&k) {
                    found.insert(k);
                }
            }
        }
    }
    Ok(found)
}

/// Makes the pools of a task (indexed by [`TaskSplit::index`]) disjoint. Pools are visited test,
/// valid, then train, each in its order; an item is dropped when one of its sentence keys is in
/// `pretraining` (these are counted, the second value) or belongs to an item kept before. So each
/// sentence feeds at most one example, in the first of test, valid and train that has it.
pub fn separate<T>(
    mut pools: [Vec<T>; 3],
    pretraining: &HashSet<u128>,
    keys: impl Fn(&T) -> Vec<u128>,
) -> ([Vec<T>; 3], u64) {
    let mut used: HashSet<u128> = HashSet::new();
    let mut overlap = 0u64;
    for split in [TaskSplit::Test, TaskSplit::Valid, TaskSplit::Train] {
        pools[split.index()].retain(|item| {
            let k = keys(item);
            if k.iter().any(|k| pretraining.contains(k)) {
                overlap += 1;
                return false;
            }
            if k.iter().any(|k| used.contains(k)) {
                return false;
            }
            used.extend(k);
            true
        });
    }
    (pools, overlap)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One stretch per sentence, keyed by the sentence, with its split assigned.
    pub(crate) fn stretches_of(sentences: &[String], (valid, test): (f64, f64)) -> Vec<Stretch> {
        let mut out: Vec<Stretch> = sentences
            .iter()
            .map(|s| Stretch {
                key: s.clone(),
                paragraphs: vec![vec![s.clone()]],
                split: TaskSplit::Train,
            })
            .collect();
        assign_splits(&mut out, valid, test, 0);
        out
    }

    #[test]
    fn splits_get_their_fraction_of_the_sentences_even_from_few_stretches() {
        let sentences: Vec<String> = (0..1000).map(|i| format!("Sentence {i}.")).collect();
        let count = |s: &[Stretch], split| s.iter().filter(|x| x.split == split).count();
        let many = stretches_of(&sentences, (0.1, 0.2));
        assert_eq!(count(&many, TaskSplit::Test), 200);
        assert_eq!(count(&many, TaskSplit::Valid), 100);
        let few = stretches_of(&sentences[..6], (0.1, 0.1));
        assert_eq!(count(&few, TaskSplit::Test), 1);
        assert_eq!(count(&few, TaskSplit::Valid), 1);
        assert_eq!(
            few,
            stretches_of(&sentences[..6], (0.1, 0.1)),
            "deterministic"
        );
        let none = stretches_of(&sentences[..6], (0.0, 0.0));
        assert_eq!(count(&none, TaskSplit::Train), 6);
    }

    #[test]
    fn pools_are_disjoint_and_pretraining_sentences_are_left_out() {
        let pools = [
            vec!["a", "b", "c", "x"],
            vec!["b", "d", "y"],
            vec!["c", "d", "e", "e"],
        ];
        let pretraining = HashSet::from([sentence_key("x"), sentence_key("y")]);
        let (pools, overlap) = separate(pools, &pretraining, |s| vec![sentence_key(s)]);
        assert_eq!(pools, [vec!["a"], vec!["b"], vec!["c", "d", "e"]]);
        assert_eq!(overlap, 2);
    }

    #[test]
    fn consecutive_held_out_passages_make_one_stretch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        let doc = |d: usize| {
            (0..6)
                .map(|p| format!("Document {d} paragraph {p} says something. Then more."))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let text: Vec<String> = (0..40).map(doc).collect();
        std::fs::write(&path, text.join("\n\n")).unwrap();
        let corpus = Corpus::open(&path).unwrap();
        let cfg = SplitConfig {
            test_fraction: 0.5,
            valid_fraction: 0.0,
            passage_words: 14,
            ..SplitConfig::default()
        };
        let (stretches, counts) = held_out_stretches(&corpus, &cfg).unwrap();
        let passages: Vec<Passage> = split_passages(&corpus, &cfg, Split::Test)
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(counts.passages as usize, passages.len());
        let breaks = passages
            .windows(2)
            .filter(|w| !w[1].continues(&w[0]))
            .count();
        assert_eq!(stretches.len(), breaks + 1);
        assert!(stretches.len() < passages.len(), "some passages are joined");
        let sentences: usize = stretches.iter().map(|s| s.sentences().count()).sum();
        assert_eq!(sentences, 2 * counts.paragraphs as usize);

        let train: Vec<Passage> = split_passages(&corpus, &cfg, Split::Train)
            .collect::<Result<_>>()
            .unwrap();
        let in_train = &train[0].paragraphs[0];
        let candidates = HashSet::from([
            sentence_key("Then more."),
            sentence_key(in_train),
            sentence_key(&stretches[0].paragraphs[0][0]),
        ]);
        let found = in_pretraining_text(&corpus, &cfg, &candidates).unwrap();
        assert_eq!(
            found,
            HashSet::from([sentence_key("Then more."), sentence_key(in_train)])
        );
    }
}
