//! The `fortunes` package: files of entries separated by `%` lines; one entry is one document.
//! ASCII-art collections, attribution lines and non-prose blocks are left out.

use std::path::Path;

use crate::error::{IoContext, Result};
use crate::profile::CorpusWriter;
use crate::text::{looks_like_prose, normalize_ws};

use super::FORTUNES_DIR;

/// Collections that are pictures, not text.
const SKIP: [&str; 2] = ["art", "ascii-art"];

/// The paragraphs of one fortune: blank-line separated blocks, lines joined, `-- Author` lines
/// dropped, and only blocks that read as prose kept.
pub fn fortune_paragraphs(entry: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut flush = |cur: &mut String| {
        let p = normalize_ws(cur);
        if looks_like_prose(&p, 3) {
            out.push(p);
        }
        cur.clear();
    };
    for line in entry.lines() {
        let t = line.trim();
        if t.is_empty() {
            flush(&mut cur);
        } else if !t.starts_with("--") {
            cur.push(' ');
            cur.push_str(t);
        }
    }
    flush(&mut cur);
    out
}

/// Calls `f` with each entry of a fortune file.
pub fn entries(text: &str, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut cur = String::new();
    for line in text.lines() {
        if line.trim_end() == "%" {
            f(&cur)?;
            cur.clear();
        } else {
            cur.push_str(line);
            cur.push('\n');
        }
    }
    if !cur.trim().is_empty() {
        f(&cur)?;
    }
    Ok(())
}

/// Reads every collection of the package, in name order.
pub fn read(w: &mut CorpusWriter) -> Result<()> {
    let dir = Path::new(FORTUNES_DIR);
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).at(dir)? {
        let e = e.at(dir)?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let plain = !name.contains('.') && !SKIP.contains(&name.as_str());
        if plain && e.file_type().at(&path)?.is_file() {
            files.push(path);
        }
    }
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).at(&path)?;
        let text = String::from_utf8_lossy(&bytes);
        entries(&text, |e| w.document(fortune_paragraphs(e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortunes_split_and_clean() {
        let text = "A banker is a fellow who lends you his umbrella\nwhen the sun is shining.\n\t\t-- Mark Twain\n%\n  /\\_/\\\n ( o.o )\n  > ^ <\n%\nLast one without a trailing percent line.\n";
        let mut seen = Vec::new();
        entries(text, |e| {
            seen.push(fortune_paragraphs(e));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                vec!["A banker is a fellow who lends you his umbrella when the sun is shining."],
                vec![],
                vec!["Last one without a trailing percent line."],
            ]
        );
    }
}
