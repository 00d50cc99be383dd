//! Sentence order: two consecutive sentences of one paragraph, given in their original order or
//! swapped. Balanced by construction.

use std::collections::HashSet;

use super::held_out::{Stretch, separate};
use super::sentences::{sentence_key, word_spans};
use super::{TaskExample, TaskSets, TaskSplit, shuffle};

/// Folder name.
pub const NAME: &str = "sent_order";
/// Label names by class index.
pub const LABELS: [&str; 2] = ["swapped", "in_order"];
/// What the task tests.
pub const DESCRIPTION: &str =
    "Are text_a and text_b two consecutive sentences in their original order? Balanced.";
const TAG: u64 = 2;

/// Builds the task from held-out stretches. Pairs are disjoint: sentences (0,1), (2,3), ... of a
/// paragraph; each goes to its stretch's task split, and [`separate`] keeps every sentence in one
/// split and out of the `pretraining` text. Returns the sets and how many distinct pairs were left
/// out as pre-training text.
pub fn build(
    stretches: &[Stretch],
    pretraining: &HashSet<u128>,
    seed: u64,
    (min_words, max_words): (usize, usize),
) -> (TaskSets, u64) {
    let ok = |s: &String| (min_words..=max_words).contains(&word_spans(s).len());
    let mut pools: [Vec<(String, String)>; 3] = Default::default();
    for stretch in stretches {
        let pool = &mut pools[stretch.split.index()];
        for p in &stretch.paragraphs {
            for pair in p.chunks_exact(2) {
                if ok(&pair[0]) && ok(&pair[1]) && pair[0] != pair[1] {
                    pool.push((pair[0].clone(), pair[1].clone()));
                }
            }
        }
    }
    for pool in &mut pools {
        pool.sort();
        pool.dedup();
    }
    let (pools, overlap) = separate(pools, pretraining, |(a, b)| {
        vec![sentence_key(a), sentence_key(b)]
    });
    let mut sets = TaskSets::default();
    for (k, mut pairs) in pools.into_iter().enumerate() {
        let split = TaskSplit::ALL[k];
        shuffle(&mut pairs, seed, TAG, k as u64);
        let out = sets.get_mut(split);
        for (i, (a, b)) in pairs.into_iter().enumerate() {
            let (text_a, text_b, label) = if i % 2 == 0 { (a, b, 1) } else { (b, a, 0) };
            out.push(TaskExample {
                text_a,
                text_b: Some(text_b),
                label,
                span: None,
            });
        }
    }
    (sets, overlap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_consecutive_and_balanced() {
        let para: Vec<String> = (0..10)
            .map(|i| format!("This is sentence {i} of the paragraph."))
            .collect();
        let stretch = |paragraph: &[String], split| Stretch {
            key: String::new(),
            paragraphs: vec![paragraph.to_vec()],
            split,
        };
        let train = TaskSplit::Train;
        let stretches = [stretch(&para[..], train), stretch(&para[..3], train)];
        let (sets, overlap) = build(&stretches, &HashSet::new(), 1, (3, 40));
        assert_eq!(overlap, 0);
        assert_eq!(
            sets.train.len(),
            5,
            "duplicates of the first pair are dropped"
        );
        let in_order = sets.train.iter().filter(|e| e.label == 1).count();
        assert_eq!(in_order, 3);
        for e in &sets.train {
            let a = para.iter().position(|s| *s == e.text_a).unwrap();
            let b = para
                .iter()
                .position(|s| Some(s) == e.text_b.as_ref())
                .unwrap();
            if e.label == 1 {
                assert_eq!(b, a + 1);
            } else {
                assert_eq!(a, b + 1);
            }
        }

        // A pair with a pre-training sentence is left out; a sentence feeds one split only.
        let pretraining = HashSet::from([sentence_key(&para[3])]);
        let (sets, overlap) = build(&stretches, &pretraining, 1, (3, 40));
        assert_eq!((sets.train.len(), overlap), (4, 1));
        let stretches = [
            stretch(&para[..], train),
            stretch(&para[2..6], TaskSplit::Test),
        ];
        let (sets, _) = build(&stretches, &HashSet::new(), 1, (3, 40));
        assert_eq!((sets.train.len(), sets.test.len()), (3, 2));
    }
}
