//! Bigram shift: half of the sentences have two adjacent words swapped. A bag-of-words model
//! scores chance; only word order tells the classes apart.

use rand::Rng;

use std::collections::HashSet;

use super::held_out::{Stretch, separate};
use super::sentences::{sentence_key, word_spans};
use super::{TaskExample, TaskSets, TaskSplit, shuffle};
use crate::hashing::{domain, rng_for};

/// Folder name.
pub const NAME: &str = "bshift";
/// Label names by class index.
pub const LABELS: [&str; 2] = ["original", "swapped"];
/// What the task tests.
pub const DESCRIPTION: &str =
    "Was a pair of adjacent words swapped in this sentence? Balanced; bag-of-words is at chance.";
const TAG: u64 = 1;

/// Positions `j` where words `j` and `j+1` are separated by spaces only and differ.
fn swappable(sentence: &str, words: &[(usize, usize)]) -> Vec<usize> {
    (0..words.len().saturating_sub(1))
        .filter(|&j| {
            let (a, b) = (words[j], words[j + 1]);
            let gap = &sentence[a.1..b.0];
            !gap.is_empty()
                && gap.chars().all(char::is_whitespace)
                && sentence[a.0..a.1].to_lowercase() != sentence[b.0..b.1].to_lowercase()
        })
        .collect()
}

/// `sentence` with words `j` and `j+1` exchanged (spacing kept).
pub fn swap_words(sentence: &str, words: &[(usize, usize)], j: usize) -> String {
    let (a, b) = (words[j], words[j + 1]);
    format!(
        "{}{}{}{}{}",
        &sentence[..a.0],
        &sentence[b.0..b.1],
        &sentence[a.1..b.0],
        &sentence[a.0..a.1],
        &sentence[b.1..]
    )
}

/// Builds the task from held-out stretches: each stretch's sentences go to its task split, and
/// [`separate`] keeps every sentence in one split and out of the `pretraining` text. Returns the
/// sets and how many distinct sentences were left out as pre-training text.
pub fn build(
    stretches: &[Stretch],
    pretraining: &HashSet<u128>,
    seed: u64,
    (min_words, max_words): (usize, usize),
) -> (TaskSets, u64) {
    let mut pools: [Vec<String>; 3] = Default::default();
    for stretch in stretches {
        let pool = &mut pools[stretch.split.index()];
        for s in stretch.sentences() {
            let w = word_spans(s);
            if (min_words..=max_words).contains(&w.len()) && !swappable(s, &w).is_empty() {
                pool.push(s.clone());
            }
        }
    }
    for pool in &mut pools {
        pool.sort();
        pool.dedup();
    }
    let (pools, overlap) = separate(pools, pretraining, |s| vec![sentence_key(s)]);
    let mut sets = TaskSets::default();
    for (k, mut pool) in pools.into_iter().enumerate() {
        let split = TaskSplit::ALL[k];
        shuffle(&mut pool, seed, TAG, k as u64);
        let out = sets.get_mut(split);
        for (i, s) in pool.into_iter().enumerate() {
            if i % 2 == 0 {
                out.push(TaskExample {
                    text_a: s,
                    text_b: None,
                    label: 0,
                    span: None,
                });
                continue;
            }
            let words = word_spans(&s);
            let at = swappable(&s, &words);
            let mut rng = rng_for(&[domain::TASK, seed, TAG, k as u64, i as u64]);
            let j = at[rng.random_range(0..at.len())];
            out.push(TaskExample {
                text_a: swap_words(&s, &words, j),
                text_b: None,
                label: 1,
                span: None,
            });
        }
    }
    (sets, overlap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::held_out::assign_splits;
    use crate::tasks::held_out::tests::stretches_of;

    fn sets(sentences: &[String], seed: u64, fractions: (f64, f64)) -> TaskSets {
        let stretches = stretches_of(sentences, fractions);
        build(&stretches, &HashSet::new(), seed, (5, 40)).0
    }

    fn bag(s: &str) -> Vec<String> {
        let mut w: Vec<String> = word_spans(s)
            .iter()
            .map(|(a, b)| s[*a..*b].to_string())
            .collect();
        w.sort();
        w
    }

    #[test]
    fn swapped_sentences_differ_by_one_adjacent_swap_and_classes_balance() {
        let sentences: Vec<String> = (0..101)
            .map(|i| format!("Sentence number {i} has a few more words, truly."))
            .collect();
        let sets = sets(&sentences, 3, (0.0, 0.0));
        let ones = sets.train.iter().filter(|e| e.label == 1).count();
        assert_eq!(sets.train.len(), 101);
        assert_eq!(ones, 50);
        for e in &sets.train {
            let original = sentences.iter().find(|s| bag(s) == bag(&e.text_a)).unwrap();
            let diff = original
                .split(' ')
                .zip(e.text_a.split(' '))
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(diff, if e.label == 1 { 2 } else { 0 }, "{}", e.text_a);
        }
        assert_eq!(sets, self::sets(&sentences, 3, (0.0, 0.0)), "deterministic");
        let split = self::sets(&sentences, 3, (0.2, 0.2));
        assert!(!split.valid.is_empty() && !split.test.is_empty() && split.train.len() > 40);
        assert_eq!(
            split.train.len() + split.valid.len() + split.test.len(),
            101
        );
    }

    #[test]
    fn a_stretch_feeds_one_split_and_pretraining_sentences_are_left_out() {
        let mut stretches: Vec<Stretch> = (0..60)
            .map(|d| Stretch {
                key: format!("stretch {d}"),
                paragraphs: (0..4)
                    .map(|p| vec![format!("Stretch d{d} has sentence p{p} in it, plainly.")])
                    .collect(),
                split: TaskSplit::Train,
            })
            .collect();
        assign_splits(&mut stretches, 0.2, 0.2, 9);
        let seen = "Stretch d7 has sentence p2 in it, plainly.";
        let pretraining = HashSet::from([sentence_key(seen)]);
        let (sets, overlap) = build(&stretches, &pretraining, 9, (5, 40));
        assert_eq!(overlap, 1);
        let named = [&sets.train, &sets.valid, &sets.test];
        let mut per_stretch = vec![0; stretches.len()];
        for (k, part) in named.iter().enumerate() {
            for e in part.iter() {
                let d = stretches
                    .iter()
                    .position(|st| st.sentences().any(|s| bag(s) == bag(&e.text_a)))
                    .unwrap();
                assert_eq!(stretches[d].split.index(), k, "stretch {d}");
                per_stretch[d] += 1;
            }
        }
        for (d, n) in per_stretch.iter().enumerate() {
            assert_eq!(*n, if d == 7 { 3 } else { 4 }, "stretch {d}");
        }
        assert!(named.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn punctuation_is_never_moved() {
        let s = "Well, he said, no.";
        let w = word_spans(s);
        assert_eq!(swappable(s, &w), vec![1]); // only "he said"
        assert_eq!(swap_words(s, &w, 1), "Well, said he, no.");
    }
}
