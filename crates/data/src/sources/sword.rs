//! SWORD modules rendered as plain text by `diatheke`: the World English Bible (one chapter per
//! document, one verse per paragraph) and two public-domain commentaries, Spurgeon's Treasury of
//! David and Matthew Henry's Concise Commentary (one commented key per document).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::error::{DataError, IoContext, Result};
use crate::profile::CorpusWriter;
use crate::text::{looks_like_prose, normalize_ws};

use super::DIATHEKE;

/// A verse reference at the start of a line: `Genesis 1:1: text` -> (`Genesis`, 1, 1, `text`).
pub fn parse_ref(line: &str) -> Option<(&str, u32, u32, &str)> {
    let line = line.trim_start();
    let mut from = 0;
    while let Some(i) = line[from..].find(": ") {
        let at = from + i;
        let head = &line[..at];
        if let Some((book, cv)) = head.rsplit_once(' ')
            && let Some((c, v)) = cv.split_once(':')
            && let (Ok(c), Ok(v)) = (c.parse(), v.parse())
            && book.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        {
            return Some((book, c, v, &line[at + 2..]));
        }
        from = at + 2;
    }
    None
}

/// Runs `diatheke -b module -f plain -k key` and calls `f` on each output line.
fn diatheke(module: &str, key: &str, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let command = format!("{DIATHEKE} -b {module} -f plain -k {key}");
    let mut child = Command::new(DIATHEKE)
        .args(["-b", module, "-f", "plain", "-k", key])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .at(DIATHEKE)?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    let result = (|| {
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).at(DIATHEKE)? == 0 {
                return Ok(());
            }
            f(String::from_utf8_lossy(&buf).trim_end())?;
        }
    })();
    let status = child.wait().at(DIATHEKE)?;
    result?;
    if !status.success() {
        return Err(DataError::Command {
            command,
            message: format!(
                "exited with {status}; check that the SWORD module `{module}` is installed"
            ),
        });
    }
    Ok(())
}

/// Collects one keyed entry after another from diatheke's output and hands each to `emit` as
/// (book, chapter, parts): a part is a run of lines; a blank line inside an entry starts a new part.
fn entries(
    module: &str,
    key: &str,
    mut emit: impl FnMut(&str, u32, Vec<Vec<String>>) -> Result<()>,
) -> Result<()> {
    let trailer = format!("({module})");
    let mut cur: Option<(String, u32, Vec<Vec<String>>)> = None;
    let mut after_blank = false;
    diatheke(module, key, |line| {
        if let Some((book, chapter, _, text)) = parse_ref(line) {
            if let Some((b, c, parts)) = cur.take() {
                emit(&b, c, parts)?;
            }
            cur = Some((book.to_string(), chapter, vec![vec![text.to_string()]]));
            after_blank = false;
            return Ok(());
        }
        if line.trim().is_empty() {
            after_blank = true;
            return Ok(());
        }
        if line.trim() == trailer || (after_blank && line.starts_with(char::is_whitespace)) {
            // The module trailer, or an appendix (glossary) after the last key: not verse text.
            return Ok(());
        }
        if let Some((_, _, parts)) = cur.as_mut() {
            if after_blank {
                parts.push(Vec::new());
            }
            parts
                .last_mut()
                .expect("entries start with a part")
                .push(line.to_string());
        }
        after_blank = false;
        Ok(())
    })?;
    if let Some((b, c, parts)) = cur.take() {
        emit(&b, c, parts)?;
    }
    Ok(())
}

/// Cuts commentary text into paragraphs: at line ends and at runs of three or more spaces, with
/// the `*` emphasis marks removed; headings and other short fragments are dropped.
pub fn commentary_paragraphs(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let line = line.replace('*', " ");
        for part in line.split("   ") {
            let p = normalize_ws(part);
            if looks_like_prose(&p, 4) {
                out.push(p);
            }
        }
    }
    out
}

/// The World English Bible: verses as paragraphs, chapters as documents.
pub fn web(w: &mut CorpusWriter) -> Result<()> {
    let mut chapter: Option<(String, u32)> = None;
    let mut verses: Vec<String> = Vec::new();
    entries("engWEB2015eb", "Gen-Rev", |book, c, parts| {
        if chapter
            .as_ref()
            .is_some_and(|(b, k)| (b.as_str(), *k) != (book, c))
        {
            w.document(verses.drain(..))?;
        }
        chapter = Some((book.to_string(), c));
        // A verse with a paragraph break gives two paragraphs; module headings that diatheke
        // repeats after such breaks become duplicate paragraphs and are dropped by the writer.
        for part in parts {
            let text = normalize_ws(&part.join(" "));
            if !text.is_empty() {
                verses.push(text);
            }
        }
        Ok(())
    })?;
    w.document(verses.drain(..))
}

fn commentary(w: &mut CorpusWriter, module: &str, key: &str) -> Result<()> {
    entries(module, key, |_, _, parts| {
        w.document(commentary_paragraphs(&parts.concat()))
    })
}

/// Spurgeon's Treasury of David (Psalms).
pub fn tdavid(w: &mut CorpusWriter) -> Result<()> {
    commentary(w, "TDavid", "Ps")
}

/// Matthew Henry's Concise Commentary.
pub fn mhcc(w: &mut CorpusWriter) -> Result<()> {
    commentary(w, "MHCC", "Gen-Rev")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_recognised() {
        assert_eq!(
            parse_ref("Genesis 1:1: In the beginning"),
            Some(("Genesis", 1, 1, "In the beginning"))
        );
        assert_eq!(
            parse_ref("  Revelation of John 22:21: The grace: all"),
            Some(("Revelation of John", 22, 21, "The grace: all"))
        );
        assert_eq!(
            parse_ref("I Samuel 3:4: Yahweh called"),
            Some(("I Samuel", 3, 4, "Yahweh called"))
        );
        assert_eq!(parse_ref("and you shall eat dust: all the days"), None);
    }

    #[test]
    fn commentary_is_cut_into_prose_paragraphs() {
        let lines = vec![
            " * Verses 3-5 *    God said, Let there be light; he willed it.    * Verses 6-13 *    The earth was emptiness, but by a word spoken.".to_string(),
            "    TITLE.".to_string(),
        ];
        assert_eq!(
            commentary_paragraphs(&lines),
            vec![
                "God said, Let there be light; he willed it.",
                "The earth was emptiness, but by a word spoken."
            ]
        );
    }
}
