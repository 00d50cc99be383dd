//! The text sources of the corpus profiles, each read from an installed Debian package.

use std::path::Path;

use crate::error::Result;
use crate::profile::CorpusWriter;
use crate::tasks::sentences::sentence_key;

pub mod austen;
pub mod dictd;
pub mod fortunes;
pub mod html;
pub mod sword;

/// Where dictd dictionaries are installed.
pub const DICTD_DIR: &str = "/usr/share/dictd";
/// Where the fortunes package installs its files.
pub const FORTUNES_DIR: &str = "/usr/share/games/fortunes";
/// The Python 3.11 HTML documentation.
pub const PYTHON_DOC_DIR: &str = "/usr/share/doc/python3.11/html";
/// The Linux kernel HTML documentation.
pub const LINUX_DOC_DIR: &str = "/usr/share/doc/linux-doc-6.1/html";
/// The janeaustenr R data.
pub const JANEAUSTENR_RDB: &str = "/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb";
/// The SWORD command-line front end.
pub const DIATHEKE: &str = "/usr/bin/diatheke";

/// A source: its name, package, licence, the paths that prove it is installed, and its reader.
pub struct SourceSpec {
    /// Short name.
    pub name: &'static str,
    /// Debian package(s).
    pub package: &'static str,
    /// Licence of the text.
    pub licence: &'static str,
    /// (package, path) pairs that must exist.
    pub requires: Vec<(&'static str, &'static str)>,
    /// Writes the source's documents.
    pub read: fn(&mut CorpusWriter) -> Result<()>,
}

/// WordNet glosses and example sentences, one synset per document: `words: definition.` then
/// each example as its own paragraph.
fn wordnet(w: &mut CorpusWriter) -> Result<()> {
    wordnet_from(Path::new(crate::wordnet::WORDNET_DIR), w)
}

/// The WordNet source read from `dir`. The example sentences the `wn_pos_context` task can use
/// are left out (their glosses stay), so that no task sentence is pre-training text.
fn wordnet_from(dir: &Path, w: &mut CorpusWriter) -> Result<()> {
    let task = crate::tasks::wn_pos::sentence_keys(dir)?;
    for pos in ["noun", "verb", "adj", "adv"] {
        crate::wordnet::for_each_synset(dir, pos, |s| {
            let words: Vec<String> = s.words.iter().map(|x| clean_lemma(x)).collect();
            let mut def = format!("{}: {}", words.join(", "), s.definition);
            if !def.ends_with('.') {
                def.push('.');
            }
            let examples = s
                .examples
                .into_iter()
                .filter(|e| !task.contains(&sentence_key(e)));
            w.document(std::iter::once(def).chain(examples))
        })?;
    }
    Ok(())
}

/// `take_a_breath` -> `take a breath`, `good(a)` -> `good`.
fn clean_lemma(s: &str) -> String {
    let s = s.split('(').next().unwrap_or(s);
    s.replace('_', " ")
}

fn pydoc(w: &mut CorpusWriter) -> Result<()> {
    html::read_tree(
        w,
        Path::new(PYTHON_DOC_DIR),
        &["_sources", "_static", "whatsnew"],
    )
}

fn linux_doc(w: &mut CorpusWriter) -> Result<()> {
    html::read_tree(
        w,
        Path::new(LINUX_DOC_DIR),
        &["_sources", "_static", "translations"],
    )
}

/// The sources of the `core` profile, in corpus order.
pub fn core() -> Vec<SourceSpec> {
    vec![
        SourceSpec {
            name: "gcide",
            package: "dict-gcide",
            licence: "GPL-2+",
            requires: vec![("dict-gcide", "/usr/share/dictd/gcide.dict.dz")],
            read: dictd::gcide,
        },
        SourceSpec {
            name: "wordnet",
            package: "wordnet-base",
            licence: "WordNet 3.0 licence (BSD-like)",
            requires: vec![("wordnet-base", "/usr/share/wordnet/data.noun")],
            read: wordnet,
        },
        SourceSpec {
            name: "web-bible",
            package: "sword-text-web, diatheke",
            licence: "public domain",
            requires: vec![
                ("diatheke", DIATHEKE),
                (
                    "sword-text-web",
                    "/usr/share/sword/mods.d/engWEB2015eb.conf",
                ),
            ],
            read: sword::web,
        },
        SourceSpec {
            name: "treasury-of-david",
            package: "sword-comm-tdavid, diatheke",
            licence: "public domain",
            requires: vec![
                ("diatheke", DIATHEKE),
                ("sword-comm-tdavid", "/usr/share/sword/mods.d/tdavid.conf"),
            ],
            read: sword::tdavid,
        },
        SourceSpec {
            name: "matthew-henry",
            package: "sword-comm-mhcc, diatheke",
            licence: "public domain",
            requires: vec![
                ("diatheke", DIATHEKE),
                ("sword-comm-mhcc", "/usr/share/sword/mods.d/mhcc.conf"),
            ],
            read: sword::mhcc,
        },
        SourceSpec {
            name: "fortunes",
            package: "fortunes",
            licence: "BSD (package)",
            requires: vec![("fortunes", "/usr/share/games/fortunes/fortunes")],
            read: fortunes::read,
        },
        SourceSpec {
            name: "jargon",
            package: "dict-jargon",
            licence: "public domain",
            requires: vec![("dict-jargon", "/usr/share/dictd/jargon.dict.dz")],
            read: dictd::jargon,
        },
        SourceSpec {
            name: "devils-dictionary",
            package: "dict-devil",
            licence: "public domain",
            requires: vec![("dict-devil", "/usr/share/dictd/devil.dict.dz")],
            read: dictd::devil,
        },
        SourceSpec {
            name: "python-docs",
            package: "python3.11-doc",
            licence: "PSF",
            requires: vec![(
                "python3.11-doc",
                "/usr/share/doc/python3.11/html/index.html",
            )],
            read: pydoc,
        },
    ]
}

/// The sources the `full` profile adds.
pub fn full_extra() -> Vec<SourceSpec> {
    vec![
        SourceSpec {
            name: "linux-docs",
            package: "linux-doc-6.1",
            licence: "GPL-2",
            requires: vec![(
                "linux-doc-6.1",
                "/usr/share/doc/linux-doc-6.1/html/index.html",
            )],
            read: linux_doc,
        },
        SourceSpec {
            name: "austen-novels",
            package: "r-cran-janeaustenr",
            licence: "public domain",
            requires: vec![("r-cran-janeaustenr", JANEAUSTENR_RDB)],
            read: austen::read,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lemmas_read_as_words() {
        assert_eq!(clean_lemma("take_a_breath"), "take a breath");
        assert_eq!(clean_lemma("good(a)"), "good");
    }

    #[test]
    fn wordnet_documents_leave_out_the_task_sentences() {
        let dir = tempfile::tempdir().unwrap();
        crate::tasks::wn_pos::tests::fake_wordnet(dir.path());
        std::fs::write(
            dir.path().join("data.adj"),
            "00000005 00 a 01 fast 0 000 | quick; \"she ran home\"; \"a fast ship\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("data.adv"), "").unwrap();
        let path = dir.path().join("corpus.txt");
        let mut w = CorpusWriter::new(&path).unwrap();
        wordnet_from(dir.path(), &mut w).unwrap();
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let task = [
            "he made a run",
            "the dog and the run",
            "the ship sailed",
            "she ran home",
        ];
        for s in task.iter().chain(&["they are running late"]) {
            assert!(!lines.contains(s), "{s} is in the corpus");
        }
        // Sentences the task cannot use (two marked words) and every gloss stay.
        for s in [
            "we shipped the books and shipped them again",
            "a fast ship",
            "run: a score in baseball.",
            "fast: quick.",
        ] {
            assert!(lines.contains(&s), "{s} is missing:\n{text}");
        }
    }

    #[test]
    fn every_source_names_a_package_path() {
        for s in core().into_iter().chain(full_extra()) {
            assert!(!s.requires.is_empty(), "{} checks nothing", s.name);
            for (pkg, path) in &s.requires {
                assert!(
                    s.package.contains(pkg),
                    "{}: {pkg} not in {}",
                    s.name,
                    s.package
                );
                assert!(path.starts_with('/'));
            }
        }
    }
}
