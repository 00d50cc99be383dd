//! Reading the WordNet 3.0 database files of Debian's `wordnet-base` (`data.*`, `index.*`, `*.exc`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{DataError, INSTALL_HINT, IoContext, Result};

/// Where `wordnet-base` installs the database.
pub const WORDNET_DIR: &str = "/usr/share/wordnet";

/// One synset of a `data.<pos>` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synset {
    /// Member words as written in WordNet (collocations joined by `_`).
    pub words: Vec<String>,
    /// The definition part of the gloss.
    pub definition: String,
    /// The quoted example sentences of the gloss.
    pub examples: Vec<String>,
}

/// Fails with [`DataError::MissingPackages`] naming `wordnet-base` unless `dir` holds the files.
pub fn check_dir(dir: &Path) -> Result<()> {
    for f in ["data.noun", "data.verb", "index.noun", "index.verb"] {
        let p = dir.join(f);
        if !p.is_file() {
            return Err(DataError::MissingPackages {
                packages: vec!["wordnet-base".into()],
                path: p,
                hint: INSTALL_HINT.into(),
            });
        }
    }
    Ok(())
}

fn lines(path: &Path, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let mut reader = BufReader::new(File::open(path).at(path)?);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).at(path)? == 0 {
            return Ok(());
        }
        // WordNet is ASCII with a few Latin-1 bytes in old releases; decode leniently.
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end();
        // The licence header lines start with two spaces.
        if line.is_empty() || line.starts_with("  ") {
            continue;
        }
        f(line)?;
    }
}

/// Splits a gloss into its definition and its quoted examples.
pub fn split_gloss(gloss: &str) -> (String, Vec<String>) {
    let mut parts = gloss.split('"');
    let definition = parts
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches(';')
        .trim()
        .to_string();
    let examples = parts
        .step_by(2)
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    (definition, examples)
}

/// Parses one `data.<pos>` line.
pub fn parse_data_line(line: &str) -> Option<Synset> {
    let (head, gloss) = line.split_once(" | ").unwrap_or((line, ""));
    let fields: Vec<&str> = head.split_whitespace().collect();
    let count = usize::from_str_radix(fields.get(3)?, 16).ok()?;
    let words = (0..count)
        .map(|i| fields.get(4 + 2 * i).map(|w| w.to_string()))
        .collect::<Option<Vec<_>>>()?;
    let (definition, examples) = split_gloss(gloss);
    Some(Synset {
        words,
        definition,
        examples,
    })
}

/// Calls `f` on each synset of `data.<pos>`.
pub fn for_each_synset(
    dir: &Path,
    pos: &str,
    mut f: impl FnMut(Synset) -> Result<()>,
) -> Result<()> {
    let path = dir.join(format!("data.{pos}"));
    lines(&path, |line| match parse_data_line(line) {
        Some(s) => f(s),
        None => Err(DataError::format(
            &path,
            format!("not a WordNet data line: {}", &line[..line.len().min(80)]),
        )),
    })
}

/// The lemmas of `index.<pos>` (lowercase, `_` in collocations).
pub fn index_lemmas(dir: &Path, pos: &str) -> Result<HashSet<String>> {
    let path = dir.join(format!("index.{pos}"));
    let mut out = HashSet::new();
    lines(&path, |line| {
        if let Some(w) = line.split(' ').next() {
            out.insert(w.to_string());
        }
        Ok(())
    })?;
    Ok(out)
}

/// The irregular forms of `<pos>.exc`: inflected form -> base forms.
pub fn exceptions(dir: &Path, pos: &str) -> Result<HashMap<String, Vec<String>>> {
    let path = dir.join(format!("{pos}.exc"));
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if !path.is_file() {
        return Ok(out);
    }
    lines(&path, |line| {
        let mut it = line.split_whitespace();
        if let Some(form) = it.next() {
            out.entry(form.to_string())
                .or_default()
                .extend(it.map(str::to_string));
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_line_is_parsed() {
        let line = "00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 021 * 00005041 v 0000 | draw air into, and expel out of, the lungs; \"I can breathe better when the air is clean\"; \"The patient is respiring\"  ";
        let s = parse_data_line(line).unwrap();
        assert_eq!(
            s.words,
            vec!["breathe", "take_a_breath", "respire", "suspire"]
        );
        assert_eq!(s.definition, "draw air into, and expel out of, the lungs");
        assert_eq!(
            s.examples,
            vec![
                "I can breathe better when the air is clean",
                "The patient is respiring"
            ]
        );
    }

    #[test]
    fn missing_database_names_the_package() {
        let dir = tempfile::tempdir().unwrap();
        match check_dir(dir.path()) {
            Err(DataError::MissingPackages { packages, .. }) => {
                assert_eq!(packages, vec!["wordnet-base"])
            }
            other => panic!("expected MissingPackages, got {other:?}"),
        }
    }
}
