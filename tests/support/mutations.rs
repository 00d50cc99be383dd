//! The inputs of the property tests: valid files mutated at random (bytes flipped, inserted, deleted, the file
//! cut short) and arbitrary bytes, and the proptest settings (`PROPTEST_CASES` overrides the case count).

use proptest::prelude::*;

/// One edit of a byte string.
#[derive(Debug, Clone)]
pub enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Cut),
    ]
}

/// `seed` with `edits` applied in turn.
pub fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let n = b.len().max(1);
        match *e {
            Edit::Flip(i, x) if !b.is_empty() => b[i % n] ^= x | 1,
            Edit::Insert(i, x) => b.insert(i % (b.len() + 1), x),
            Edit::Delete(i) if !b.is_empty() => {
                b.remove(i % n);
            }
            Edit::Cut(i) => b.truncate(i % (b.len() + 1)),
            _ => {}
        }
    }
    b
}

/// Copies of `seed` with 1 to 5 edits (weight `mutated`) and arbitrary byte strings shorter than
/// `arbitrary_len` (weight 1).
pub fn mutated(
    seed: Vec<u8>,
    mutated: u32,
    arbitrary_len: usize,
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        mutated => proptest::collection::vec(edit(), 1..6).prop_map(move |e| apply(&seed, &e)),
        1 => proptest::collection::vec(any::<u8>(), 0..arbitrary_len),
    ]
}

/// `cases` cases (or `PROPTEST_CASES`), no failure files.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
