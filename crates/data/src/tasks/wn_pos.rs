//! WordNet part of speech in context: the example sentences of noun and verb synsets whose words
//! are both nouns and verbs in WordNet ("run", "ship", "book"...). The sentence's one occurrence of
//! such a word (in any inflected form) is marked; the label is the synset's part of speech, as
//! WordNet's lexicographers assigned it. The same words occur in both classes, so only context and
//! word order decide. Examples are divided into train/valid/test by lemma; a sentence that is
//! pre-training text is not used (the core corpus leaves the task's sentences out of its WordNet
//! documents, see [`sentence_keys`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::held_out::separate;
use super::sentences::{sentence_key, word_spans};
use super::{TaskExample, TaskSets, TaskSplit, shuffle};
use crate::error::Result;
use crate::wordnet::{check_dir, exceptions, for_each_synset, index_lemmas};

/// Folder name.
pub const NAME: &str = "wn_pos_context";
/// Label names by class index.
pub const LABELS: [&str; 2] = ["noun", "verb"];
/// What the task tests.
pub const DESCRIPTION: &str = "Is the marked word (text_b, at byte span `span` of text_a) a noun or a verb in this WordNet example sentence? Words occur in both classes.";
const TAG: u64 = 3;

/// WordNet's detachment rules (morphy) for nouns and verbs.
const NOUN_RULES: [(&str, &str); 8] = [
    ("s", ""),
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
];
const VERB_RULES: [(&str, &str); 8] = [
    ("s", ""),
    ("ies", "y"),
    ("es", "e"),
    ("es", ""),
    ("ed", "e"),
    ("ed", ""),
    ("ing", "e"),
    ("ing", ""),
];

/// Candidate base forms of a word for one part of speech.
pub fn base_forms(word: &str, verb: bool, exc: &HashMap<String, Vec<String>>) -> HashSet<String> {
    let w = word.to_lowercase();
    let mut out: HashSet<String> = HashSet::from([w.clone()]);
    if let Some(b) = exc.get(&w) {
        out.extend(b.iter().cloned());
    }
    let rules: &[(&str, &str)] = if verb { &VERB_RULES } else { &NOUN_RULES };
    for (suffix, repl) in rules {
        if let Some(stem) = w.strip_suffix(suffix) {
            if stem.is_empty() {
                continue;
            }
            out.insert(format!("{stem}{repl}"));
            // A doubled final consonant: running -> run, shipped -> ship.
            let b = stem.as_bytes();
            let doubled = b.len() >= 3
                && b[b.len() - 1] == b[b.len() - 2]
                && !b"aeiou".contains(&b[b.len() - 1]);
            if verb && repl.is_empty() && (*suffix == "ing" || *suffix == "ed") && doubled {
                out.insert(stem[..stem.len() - 1].to_string());
            }
        }
    }
    out
}

/// Reads the examples from the WordNet database in `dir`.
pub fn examples(dir: &Path) -> Result<Vec<(String, TaskExample)>> {
    check_dir(dir)?;
    let nouns = index_lemmas(dir, "noun")?;
    let verbs = index_lemmas(dir, "verb")?;
    let ambiguous: HashSet<&String> = nouns
        .iter()
        .filter(|w| !w.contains('_') && verbs.contains(*w))
        .collect();
    let mut out: Vec<(String, TaskExample)> = Vec::new();
    let mut seen: HashSet<(String, String, u32)> = HashSet::new();
    for (label, pos) in [(0u32, "noun"), (1, "verb")] {
        let exc = exceptions(dir, pos)?;
        for_each_synset(dir, pos, |s| {
            let lemmas: Vec<String> = s
                .words
                .iter()
                .map(|w| w.to_lowercase())
                .filter(|w| ambiguous.contains(w))
                .collect();
            if lemmas.is_empty() {
                return Ok(());
            }
            for ex in &s.examples {
                let hits: Vec<((usize, usize), &String)> = word_spans(ex)
                    .into_iter()
                    .filter_map(|(a, b)| {
                        let forms = base_forms(&ex[a..b], label == 1, &exc);
                        lemmas
                            .iter()
                            .find(|l| forms.contains(*l))
                            .map(|l| ((a, b), l))
                    })
                    .collect();
                if let [((a, b), lemma)] = hits[..] {
                    let key = (ex.clone(), ex[a..b].to_string(), label);
                    if seen.insert(key) {
                        out.push((
                            lemma.clone(),
                            TaskExample {
                                text_a: ex.clone(),
                                text_b: Some(ex[a..b].to_string()),
                                label,
                                span: Some((a, b)),
                            },
                        ));
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// The keys ([`sentence_key`]) of the sentences the task can use: the corpus' WordNet source
/// leaves these out, so that no task sentence is pre-training text.
pub fn sentence_keys(dir: &Path) -> Result<HashSet<u128>> {
    Ok(examples(dir)?
        .iter()
        .map(|(_, e)| sentence_key(&e.text_a))
        .collect())
}

/// Builds the task from [`examples`], dividing them by the hash of the lemma; [`separate`] keeps
/// every sentence in one split and out of the `pretraining` text. Returns the sets and how many
/// examples were left out as pre-training text.
pub fn build(
    examples: Vec<(String, TaskExample)>,
    pretraining: &HashSet<u128>,
    seed: u64,
    (valid, test): (f64, f64),
) -> (TaskSets, u64) {
    let mut pools: [Vec<TaskExample>; 3] = Default::default();
    for (lemma, ex) in examples {
        pools[TaskSplit::of(&lemma, valid, test, seed).index()].push(ex);
    }
    let (pools, overlap) = separate(pools, pretraining, |e| vec![sentence_key(&e.text_a)]);
    let [mut train, mut valid, mut test] = pools;
    for (k, part) in [&mut train, &mut valid, &mut test].into_iter().enumerate() {
        shuffle(part, seed, TAG, k as u64);
    }
    (TaskSets { train, valid, test }, overlap)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fake_wordnet(dir: &Path) {
        let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        w(
            "index.noun",
            "  licence header\nrun n 1 0\nship n 1 0\ndog n 1 0\n",
        );
        w("index.verb", "run v 1 0\nship v 1 0\nbark v 1 0\n");
        w("verb.exc", "ran run\n");
        w("noun.exc", "");
        w(
            "data.noun",
            "  header\n00000001 04 n 01 run 0 000 | a score in baseball; \"he made a run\"; \"the dog and the run\"\n00000002 06 n 02 ship 0 dog 0 000 | a vessel; \"the ship sailed\"\n",
        );
        w(
            "data.verb",
            "00000003 38 v 01 run 0 000 | move fast; \"she ran home\"; \"they are running late\"\n00000004 35 v 01 ship 0 000 | send; \"we shipped the books and shipped them again\"\n",
        );
    }

    #[test]
    fn marked_words_and_labels_come_from_wordnet() {
        let dir = tempfile::tempdir().unwrap();
        fake_wordnet(dir.path());
        let ex = examples(dir.path()).unwrap();
        let got: Vec<(&str, &str, u32)> = ex
            .iter()
            .map(|(_, e)| (e.text_a.as_str(), e.text_b.as_deref().unwrap(), e.label))
            .collect();
        assert_eq!(
            got,
            vec![
                ("he made a run", "run", 0),
                ("the dog and the run", "run", 0),
                ("the ship sailed", "ship", 0),
                ("she ran home", "ran", 1),
                ("they are running late", "running", 1),
            ]
        );
        for (_, e) in &ex {
            let (a, b) = e.span.unwrap();
            assert_eq!(Some(&e.text_a[a..b]), e.text_b.as_deref());
        }
    }

    #[test]
    fn pretraining_sentences_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        fake_wordnet(dir.path());
        let keys = sentence_keys(dir.path()).unwrap();
        assert_eq!(keys.len(), 5);
        assert!(keys.contains(&sentence_key("He made a run")));
        let pretraining = HashSet::from([sentence_key("he made  a run"), sentence_key("x")]);
        let ex = examples(dir.path()).unwrap();
        let (sets, overlap) = build(ex, &pretraining, 0, (0.3, 0.3));
        assert_eq!(overlap, 1);
        let all: Vec<&str> = [&sets.train, &sets.valid, &sets.test]
            .into_iter()
            .flatten()
            .map(|e| e.text_a.as_str())
            .collect();
        assert_eq!(all.len(), 4);
        assert!(!all.contains(&"he made a run"));
    }

    #[test]
    fn morphology_finds_base_forms() {
        let exc = HashMap::from([("ran".to_string(), vec!["run".to_string()])]);
        assert!(base_forms("Ran", true, &exc).contains("run"));
        assert!(base_forms("boxes", false, &exc).contains("box"));
        assert!(base_forms("carries", true, &exc).contains("carry"));
        assert!(base_forms("baked", true, &exc).contains("bake"));
    }
}
