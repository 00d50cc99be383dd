//! Sentence order: two consecutive sentences of one paragraph, given in their original order or
//! swapped. Balanced by construction.

use super::sentences::word_spans;
use super::{TaskExample, TaskSets, TaskSplit, shuffle};

/// Folder name.
pub const NAME: &str = "sent_order";
/// Label names by class index.
pub const LABELS: [&str; 2] = ["swapped", "in_order"];
/// What the task tests.
pub const DESCRIPTION: &str =
    "Are text_a and text_b two consecutive sentences in their original order? Balanced.";
const TAG: u64 = 2;

/// Builds the task from held-out paragraphs (as sentence lists). Pairs are disjoint: sentences
/// (0,1), (2,3), ... of a paragraph; each distinct pair goes to a task split by its hash.
pub fn build(
    paragraphs: Vec<Vec<String>>,
    seed: u64,
    (valid, test): (f64, f64),
    (min_words, max_words): (usize, usize),
) -> TaskSets {
    let ok = |s: &String| (min_words..=max_words).contains(&word_spans(s).len());
    let mut pairs: Vec<(String, String)> = Vec::new();
    for p in paragraphs {
        for pair in p.chunks_exact(2) {
            if ok(&pair[0]) && ok(&pair[1]) && pair[0] != pair[1] {
                pairs.push((pair[0].clone(), pair[1].clone()));
            }
        }
    }
    pairs.sort();
    pairs.dedup();
    let mut pools: [Vec<(String, String)>; 3] = Default::default();
    for (a, b) in pairs {
        let k = TaskSplit::of(&format!("{a}\n{b}"), valid, test, seed).index();
        pools[k].push((a, b));
    }
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
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_consecutive_and_balanced() {
        let para: Vec<String> = (0..10)
            .map(|i| format!("This is sentence {i} of the paragraph."))
            .collect();
        let sets = build(
            vec![para.clone(), para[..3].to_vec()],
            1,
            (0.0, 0.0),
            (3, 40),
        );
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
    }
}
