//! Bigram shift: half of the sentences have two adjacent words swapped. A bag-of-words model
//! scores chance; only word order tells the classes apart.

use rand::Rng;

use super::sentences::word_spans;
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

/// Builds the task from held-out sentences; each distinct sentence goes to a task split by its
/// hash (fractions `valid`, `test`).
pub fn build(
    mut sentences: Vec<String>,
    seed: u64,
    (valid, test): (f64, f64),
    (min_words, max_words): (usize, usize),
) -> TaskSets {
    sentences.retain(|s| {
        let w = word_spans(s);
        (min_words..=max_words).contains(&w.len()) && !swappable(s, &w).is_empty()
    });
    sentences.sort();
    sentences.dedup();
    let mut pools: [Vec<String>; 3] = Default::default();
    for s in sentences {
        pools[TaskSplit::of(&s, valid, test, seed).index()].push(s);
    }
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
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let sets = build(sentences.clone(), 3, (0.0, 0.0), (5, 40));
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
        assert_eq!(
            sets,
            build(sentences.clone(), 3, (0.0, 0.0), (5, 40)),
            "deterministic"
        );
        let split = build(sentences, 3, (0.2, 0.2), (5, 40));
        assert!(!split.valid.is_empty() && !split.test.is_empty() && split.train.len() > 40);
        assert_eq!(
            split.train.len() + split.valid.len() + split.test.len(),
            101
        );
    }

    #[test]
    fn punctuation_is_never_moved() {
        let s = "Well, he said, no.";
        let w = word_spans(s);
        assert_eq!(swappable(s, &w), vec![1]); // only "he said"
        assert_eq!(swap_words(s, &w, 1), "Well, said he, no.");
    }
}
