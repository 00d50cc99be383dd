//! Sentence and word segmentation for the task builders (Unicode UAX #29 bounds, with sentence
//! breaks after common abbreviations and initials undone).

use unicode_segmentation::UnicodeSegmentation;

/// Abbreviations after which a full stop does not end a sentence.
const ABBREVIATIONS: [&str; 24] = [
    "mr", "mrs", "ms", "dr", "st", "mme", "messrs", "col", "capt", "gen", "rev", "prof", "sr",
    "jr", "no", "vs", "cf", "viz", "ch", "co", "lt", "esq", "e.g", "i.e",
];

fn ends_with_abbreviation(s: &str) -> bool {
    let t = s.trim_end();
    let Some(body) = t.strip_suffix('.') else {
        return false;
    };
    let last = body
        .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"' || c == '\u{201c}')
        .next()
        .unwrap_or("");
    let lower = last.to_lowercase();
    ABBREVIATIONS.contains(&lower.as_str())
        || (last.chars().count() == 1 && last.chars().all(char::is_uppercase))
}

/// The sentences of a paragraph, trimmed.
pub fn split_sentences(paragraph: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut carry = String::new();
    for piece in paragraph.split_sentence_bounds() {
        carry.push_str(piece);
        if ends_with_abbreviation(&carry) {
            continue;
        }
        let s = carry.trim();
        if !s.is_empty() {
            out.push(s.to_string());
        }
        carry.clear();
    }
    let s = carry.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
    out
}

/// The key under which sentences count as the same text: XXH3-128 of the lowercase,
/// whitespace-normalised sentence (the tokenizer lowercases by default, so case does not tell two
/// sentences apart for a model).
pub fn sentence_key(sentence: &str) -> u128 {
    crate::hashing::hash128(crate::text::normalize_ws(&sentence.to_lowercase()).as_bytes())
}

/// Whether a word-bound token is a word (has a letter or digit).
pub fn is_word(token: &str) -> bool {
    token.chars().any(char::is_alphanumeric)
}

/// The words of a sentence with their byte ranges (punctuation and spaces left out).
pub fn word_spans(sentence: &str) -> Vec<(usize, usize)> {
    sentence
        .split_word_bound_indices()
        .filter(|(_, t)| is_word(t))
        .map(|(i, t)| (i, i + t.len()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_do_not_end_sentences() {
        let p = "\"My dear Mr. Bennet,\" said his lady. Mr. Bennet replied that he had not. J. Smith came.";
        assert_eq!(
            split_sentences(p),
            vec![
                "\"My dear Mr. Bennet,\" said his lady.",
                "Mr. Bennet replied that he had not.",
                "J. Smith came."
            ]
        );
    }

    #[test]
    fn keys_ignore_case_and_spacing() {
        assert_eq!(
            sentence_key("The  ship sailed."),
            sentence_key(" the ship\tsailed.")
        );
        assert_ne!(
            sentence_key("the ship sailed."),
            sentence_key("the ship sailed")
        );
    }

    #[test]
    fn words_have_spans() {
        let s = "It is, isn't it?";
        let words: Vec<&str> = word_spans(s).iter().map(|(a, b)| &s[*a..*b]).collect();
        assert_eq!(words, vec!["It", "is", "isn't", "it"]);
    }
}
