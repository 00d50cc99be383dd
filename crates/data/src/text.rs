//! Small text helpers shared by the corpus sources and the task builders.

/// Collapses every run of whitespace to one space and trims the ends.
pub fn normalize_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whitespace-separated words.
pub fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Cuts a paragraph into pieces of at most `max_words` words (whitespace normalised).
pub fn cap_words(s: &str, max_words: usize) -> Vec<String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    words
        .chunks(max_words.max(1))
        .map(|c| c.join(" "))
        .collect()
}

/// Whether a line reads as prose: at least `min_words` words and mostly letters (not a table,
/// code or ASCII art).
pub fn looks_like_prose(s: &str, min_words: usize) -> bool {
    let mut letters = 0usize;
    let mut visible = 0usize;
    for c in s.chars().filter(|c| !c.is_whitespace()) {
        visible += 1;
        if c.is_alphabetic() {
            letters += 1;
        }
    }
    word_count(s) >= min_words && visible > 0 && letters * 10 >= visible * 7
}

/// Removes every `open ... close` group (not nested), keeping the rest.
pub fn strip_groups(s: &str, open: char, close: char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        if c == open {
            depth += 1;
        } else if c == close && depth > 0 {
            depth -= 1;
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_caps() {
        assert_eq!(normalize_ws("  a \t b\n c "), "a b c");
        assert_eq!(cap_words("a b c d e", 2), vec!["a b", "c d", "e"]);
        assert_eq!(word_count(" x  y "), 2);
    }

    #[test]
    fn prose_test_rejects_art_and_code() {
        assert!(looks_like_prose(
            "It is a truth universally acknowledged.",
            3
        ));
        assert!(!looks_like_prose("|__|  /\\ /\\  (o_o) ---", 3));
        assert!(!looks_like_prose("x = f(a[1], b[2]) + 3;", 3));
        assert!(!looks_like_prose("Too short", 3));
    }

    #[test]
    fn groups_are_removed() {
        assert_eq!(strip_groups("a [b] c [d [e]] f", '[', ']'), "a  c  f");
    }
}
