//! dictd dictionaries (`*.dict.dz` = gzip, `*.index` = headword TAB base64 offset TAB base64
//! length): GCIDE (definitions and literary quotations of Webster 1913), the Jargon File and the
//! Devil's Dictionary. One entry is one document.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, IoContext, Result};
use crate::profile::CorpusWriter;
use crate::text::{looks_like_prose, normalize_ws, strip_groups};

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_number(s: &str) -> Option<u64> {
    s.bytes().try_fold(0u64, |acc, c| {
        let d = B64.iter().position(|b| *b == c)? as u64;
        acc.checked_mul(64)?.checked_add(d)
    })
}

/// Calls `f` with the text of each entry of a dictd dictionary, in file order. Entries several
/// headwords share are given once; the metadata entries (`00-database-*`, `00-<name>-*`,
/// `00database*`) are skipped.
pub fn for_each_entry(
    dict: &Path,
    index: &Path,
    mut f: impl FnMut(&str) -> Result<()>,
) -> Result<()> {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    let reader = BufReader::new(File::open(index).at(index)?);
    for (n, line) in reader.split(b'\n').enumerate() {
        let line = line.at(index)?;
        let line = String::from_utf8_lossy(&line);
        let mut parts = line.trim_end().split('\t');
        let (Some(head), Some(off), Some(len)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if head.starts_with("00-") || head.starts_with("00database") {
            continue;
        }
        match (b64_number(off), b64_number(len)) {
            (Some(o), Some(l)) => spans.push((o, l)),
            _ => {
                return Err(DataError::format(
                    index,
                    format!("line {}: bad base64 offset/length", n + 1),
                ));
            }
        }
    }
    spans.sort_unstable();
    spans.dedup();
    let mut text = MultiGzDecoder::new(BufReader::new(File::open(dict).at(dict)?));
    let mut pos = 0u64;
    let mut buf = Vec::new();
    for (off, len) in spans {
        if off < pos {
            continue; // overlaps the entry before
        }
        std::io::copy(&mut (&mut text).take(off - pos), &mut std::io::sink()).at(dict)?;
        buf.clear();
        (&mut text).take(len).read_to_end(&mut buf).at(dict)?;
        if (buf.len() as u64) < len {
            return Err(DataError::format(
                dict,
                "the index points past the end of the text",
            ));
        }
        pos = off + len;
        f(&String::from_utf8_lossy(&buf))?;
    }
    Ok(())
}

/// Replaces GCIDE's bracketed character codes (`[ae]`, `[=e]`, `['e]`, `[imac]`, ...) by plain
/// letters; other bracket groups are left alone.
pub fn decode_gcide_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let close = tail[1..].find(']').map(|j| j + 1);
        let Some(close) = close.filter(|c| *c <= 8) else {
            out.push('[');
            rest = &tail[1..];
            continue;
        };
        let inner = &tail[1..close];
        let letters: String = inner.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        let marked = inner.chars().any(|c| "^'`\"=-~.,".contains(c));
        let replacement = match letters.as_str() {
            "ae" | "AE" | "oe" | "OE" | "ng" | "oo" => Some(letters.clone()),
            "eth" | "thorn" => Some("th".to_string()),
            "add" | "root" | "deg" => Some(String::new()),
            l if l.len() == 1 && marked && inner != format!("{l}.") => Some(l.to_string()),
            l if l.len() >= 3 && (l.ends_with("mac") || l.ends_with("um") || l.ends_with("sl")) => {
                Some(l[..1].to_string())
            }
            "" if inner.chars().all(|c| c.is_ascii_digit()) && !inner.is_empty() => {
                Some(String::new())
            }
            _ => None,
        };
        match replacement {
            Some(r) => out.push_str(&r),
            None => out.push_str(&tail[..=close]),
        }
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Removes `{`/`}` around cross-references, with the syllable marks (`*`, `"`, `` ` ``) inside.
fn unbrace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut inside = false;
    for c in s.chars() {
        match c {
            '{' => inside = true,
            '}' => inside = false,
            '*' | '"' | '`' if inside => {}
            _ => out.push(c),
        }
    }
    out
}

/// Removes literary attributions such as `--Shak.` or `--Sir T. Browne.`.
fn strip_attributions(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("--") {
        let after = &rest[i + 2..];
        if !after.starts_with(|c: char| c.is_uppercase()) {
            out.push_str(&rest[..i + 2]);
            rest = after;
            continue;
        }
        out.push_str(&rest[..i]);
        // An attribution closes its paragraph; if more than a name follows, drop one word only.
        rest = if after.split_whitespace().count() <= 6 {
            ""
        } else {
            after.split_once(' ').map(|(_, r)| r).unwrap_or("")
        };
    }
    out.push_str(rest);
    out
}

fn strip_leading_labels(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && t[digits..].starts_with(". ") {
            s = &t[digits + 2..];
        } else if t.starts_with('(') && t.find(')').is_some_and(|j| j <= 16) {
            let j = t.find(')').expect("checked");
            s = &t[j + 1..];
        } else if let Some(r) = t.strip_prefix("Note:") {
            s = r;
        } else {
            return t;
        }
    }
}

/// The definition and quotation paragraphs of one GCIDE entry: headword lines (with
/// pronunciation and etymology) dropped, character codes decoded, bracketed labels and source tags
/// removed, cross-reference braces and attributions stripped, synonym lists dropped.
pub fn clean_gcide_entry(entry: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut header_depth: Option<i64> = None;
    let mut seen_head = false;
    for line in entry.lines() {
        if line.trim().is_empty() {
            blocks.push(std::mem::take(&mut cur));
            continue;
        }
        if !line.starts_with(' ') {
            blocks.push(std::mem::take(&mut cur));
            header_depth = Some(0);
            seen_head = true;
        }
        if !seen_head {
            continue; // text before the first headword belongs to the previous entry
        }
        if let Some(depth) = header_depth.as_mut() {
            *depth += line.matches('[').count() as i64 - line.matches(']').count() as i64;
            if *depth <= 0 {
                header_depth = None;
            }
            continue;
        }
        cur.push(' ');
        cur.push_str(line.trim());
    }
    blocks.push(cur);
    blocks
        .iter()
        .filter_map(|b| {
            let b = normalize_ws(b);
            if b.starts_with("Syn:") || b.contains('?') && b.contains("Gr.") {
                return None;
            }
            let b = strip_groups(&decode_gcide_chars(&b), '[', ']');
            let b = strip_attributions(&unbrace(&b));
            let b = normalize_ws(strip_leading_labels(&b));
            looks_like_prose(&b, 3).then_some(b)
        })
        .collect()
}

/// The paragraphs of a plain dictd entry (Jargon File, Devil's Dictionary): blank-line separated
/// blocks with `{}` references and `_` emphasis removed; with `drop_head`, the first block (the
/// headword and pronunciation) is dropped.
pub fn clean_plain_entry(entry: &str, drop_head: bool) -> Vec<String> {
    let mut blocks = entry.split("\n\n").map(str::trim).filter(|b| !b.is_empty());
    if drop_head {
        blocks.next();
    }
    blocks
        .filter_map(|b| {
            let b: String = b
                .chars()
                .filter(|c| !matches!(c, '{' | '}' | '_'))
                .collect();
            let b = normalize_ws(&b);
            let b = normalize_ws(strip_leading_labels(&b));
            let only_tag = b.starts_with('[') && b.ends_with(']') && !b[1..].contains('[');
            (!only_tag && looks_like_prose(&b, 3)).then_some(b)
        })
        .collect()
}

fn read_dict(w: &mut CorpusWriter, name: &str, clean: impl Fn(&str) -> Vec<String>) -> Result<()> {
    let dir = Path::new(super::DICTD_DIR);
    let dict = dir.join(format!("{name}.dict.dz"));
    let index = dir.join(format!("{name}.index"));
    for_each_entry(&dict, &index, |entry| w.document(clean(entry)))
}

/// GCIDE.
pub fn gcide(w: &mut CorpusWriter) -> Result<()> {
    read_dict(w, "gcide", clean_gcide_entry)
}

/// The Jargon File.
pub fn jargon(w: &mut CorpusWriter) -> Result<()> {
    read_dict(w, "jargon", |e| clean_plain_entry(e, true))
}

/// The Devil's Dictionary.
pub fn devil(w: &mut CorpusWriter) -> Result<()> {
    read_dict(w, "devil", |e| clean_plain_entry(e, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPLE: &str = "Apple \\Ap\"ple\\ ([a^]p\"p'l), n. [OE. appel, eppel, AS. [ae]ppel,\n   [ae]pl; of\n   unknown origin.]\n   1. The fleshy pome or fruit of a rosaceous tree ({Pyrus\n      malus}) cultivated in numberless varieties.\n      [1913 Webster]\n\n   Note: Apple is used either adjectively or in combination; as,\n         apple paper or apple-paper. [Obs.]\n         [1913 Webster]\n\n            The apostolical benediction dichotomizes all good\n            things into grace and peace.          --Bp. Hall.\n      [1913 Webster]\n\n   Syn: apple tree\n";

    #[test]
    fn gcide_entry_keeps_definitions_and_quotations_only() {
        let p = clean_gcide_entry(APPLE);
        assert_eq!(
            p,
            vec![
                "The fleshy pome or fruit of a rosaceous tree (Pyrus malus) cultivated in numberless varieties.",
                "Apple is used either adjectively or in combination; as, apple paper or apple-paper.",
                "The apostolical benediction dichotomizes all good things into grace and peace.",
            ]
        );
    }

    #[test]
    fn character_codes_are_decoded() {
        assert_eq!(
            decode_gcide_chars("C[ae]sar [=e]ra caf['e]"),
            "Caesar era cafe"
        );
        assert_eq!(
            decode_gcide_chars("na[imac]ve [Obs.] [F.]"),
            "naive [Obs.] [F.]"
        );
        assert_eq!(decode_gcide_chars("no [close"), "no [close");
    }

    #[test]
    fn plain_entries_drop_heads_and_tags() {
        let e = "ad-hockery\n /ad·hok'@r·ee/, n.\n\n    [Purdue]\n\n    1. Gratuitous assumptions made inside\n    certain {programs}.\n";
        assert_eq!(
            clean_plain_entry(e, true),
            vec!["Gratuitous assumptions made inside certain programs."]
        );
        let d = "ABNORMAL, adj.  Not conforming to _standard_.  In matters\nof thought.\n";
        assert_eq!(
            clean_plain_entry(d, false),
            vec!["ABNORMAL, adj. Not conforming to standard. In matters of thought."]
        );
    }

    #[test]
    fn dictd_files_are_read_by_index() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let body = "00-database-short\n   Test\n00-x-info\n   About\nalpha\n   First entry text.\nbeta\n   Second entry.\n";
        let dz = dir.path().join("t.dict.dz");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&dz).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(body.as_bytes()).unwrap();
        gz.finish().unwrap();
        let enc = |mut n: u64| {
            let mut s = Vec::new();
            loop {
                s.push(B64[(n % 64) as usize]);
                n /= 64;
                if n == 0 {
                    break;
                }
            }
            s.reverse();
            String::from_utf8(s).unwrap()
        };
        let a = body.find("alpha").unwrap() as u64;
        let b = body.find("beta").unwrap() as u64;
        let info = body.find("00-x-info").unwrap() as u64;
        let index = format!(
            "00-database-short\t{}\t{}\n00-x-info\t{}\t{}\nalpha\t{}\t{}\nbeta\t{}\t{}\nalias\t{}\t{}\n",
            enc(0),
            enc(info),
            enc(info),
            enc(a - info),
            enc(a),
            enc(b - a),
            enc(b),
            enc(body.len() as u64 - b),
            enc(a),
            enc(b - a)
        );
        let idx = dir.path().join("t.index");
        std::fs::write(&idx, index).unwrap();
        let mut seen = Vec::new();
        for_each_entry(&dz, &idx, |e| {
            seen.push(e.to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec!["alpha\n   First entry text.\n", "beta\n   Second entry.\n"]
        );
    }
}
