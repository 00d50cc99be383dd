//! Building a corpus from the Debian packages of a profile: each source is read, cleaned (markup
//! stripped, one paragraph per line, paragraphs cut at 256 words, exact duplicate paragraphs
//! dropped, a blank line between documents) and appended to `corpus.txt`, with per-source counts
//! in `stats.json`. The output folder appears only when complete.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::atomic::{self, AtomicDir};
use crate::error::{DataError, INSTALL_HINT, IoContext, Result};
use crate::hashing::hash128;
use crate::sources::{self, SourceSpec};
use crate::text::{cap_words, normalize_ws, word_count};

/// Longest paragraph kept as one line; longer ones are cut.
pub const MAX_PARAGRAPH_WORDS: usize = 256;
/// The corpus file in a built corpus folder.
pub const CORPUS_FILE: &str = "corpus.txt";
/// The statistics file in a built corpus folder.
pub const STATS_FILE: &str = "stats.json";

/// Which sources a corpus is built from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CorpusProfile {
    /// Dictionaries, WordNet, SWORD texts, fortunes, Python docs (about 60 MB).
    Core,
    /// Core plus the Linux kernel documentation and six Jane Austen novels.
    Full,
}

impl std::str::FromStr for CorpusProfile {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "core" => Ok(CorpusProfile::Core),
            "full" => Ok(CorpusProfile::Full),
            _ => Err(DataError::config(
                "profile",
                format!("`{s}` is not a profile; use core or full"),
            )),
        }
    }
}

impl CorpusProfile {
    /// The sources, in the order they are written.
    pub(crate) fn sources(self) -> Vec<SourceSpec> {
        let mut v = sources::core();
        if self == CorpusProfile::Full {
            v.extend(sources::full_extra());
        }
        v
    }

    fn install_hint(self) -> String {
        match self {
            CorpusProfile::Core => INSTALL_HINT.to_string(),
            CorpusProfile::Full => format!("{INSTALL_HINT} --full"),
        }
    }
}

/// Counts for one source.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SourceStats {
    /// Short name.
    pub name: String,
    /// Debian package(s) it comes from.
    pub package: String,
    /// Licence of the text.
    pub licence: String,
    /// Documents written.
    pub documents: u64,
    /// Paragraph lines written.
    pub paragraphs: u64,
    /// Words written.
    pub words: u64,
    /// Bytes written (UTF-8, line ends included).
    pub bytes: u64,
    /// Paragraphs dropped as exact duplicates of earlier ones.
    pub duplicates: u64,
    /// Seconds spent reading and cleaning.
    pub seconds: f64,
}

/// `stats.json` of a built corpus.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CorpusBuildReport {
    /// The profile built.
    pub profile: CorpusProfile,
    /// Path of `corpus.txt` (final location).
    pub corpus: PathBuf,
    /// Per-source counts, in corpus order.
    pub sources: Vec<SourceStats>,
    /// Sums over the sources.
    pub total: SourceStats,
}

/// Appends cleaned documents to the corpus file.
pub(crate) struct CorpusWriter {
    out: BufWriter<File>,
    path: PathBuf,
    seen: HashSet<u128>,
    stats: SourceStats,
    any: bool,
}

impl CorpusWriter {
    /// A writer of a new corpus file at `path`.
    pub(crate) fn new(path: &Path) -> Result<Self> {
        Ok(CorpusWriter {
            out: BufWriter::with_capacity(1 << 20, File::create(path).at(path)?),
            path: path.to_path_buf(),
            seen: HashSet::new(),
            stats: SourceStats::default(),
            any: false,
        })
    }

    /// Writes one document: each paragraph whitespace-normalised, cut at
    /// [`MAX_PARAGRAPH_WORDS`], and dropped if empty or seen before. A document left with no
    /// paragraph is skipped.
    pub(crate) fn document<I, S>(&mut self, paragraphs: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut started = false;
        for p in paragraphs {
            let p = normalize_ws(p.as_ref());
            if p.is_empty() {
                continue;
            }
            for piece in cap_words(&p, MAX_PARAGRAPH_WORDS) {
                if !self.seen.insert(hash128(piece.as_bytes())) {
                    self.stats.duplicates += 1;
                    continue;
                }
                if !started {
                    if self.any {
                        self.out.write_all(b"\n").at(&self.path)?;
                        self.stats.bytes += 1;
                    }
                    started = true;
                    self.any = true;
                    self.stats.documents += 1;
                }
                self.out.write_all(piece.as_bytes()).at(&self.path)?;
                self.out.write_all(b"\n").at(&self.path)?;
                self.stats.paragraphs += 1;
                self.stats.words += word_count(&piece) as u64;
                self.stats.bytes += piece.len() as u64 + 1;
            }
        }
        Ok(())
    }

    fn finish_source(&mut self) -> SourceStats {
        std::mem::take(&mut self.stats)
    }

    /// Flushes the file to disk.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.out.flush().at(&self.path)?;
        self.out.get_ref().sync_all().at(&self.path)
    }
}

/// Fails with [`DataError::MissingPackages`] listing every package of `profile` that is missing.
pub fn check_packages(profile: CorpusProfile) -> Result<()> {
    check_sources(&profile.sources(), &profile.install_hint())
}

fn check_sources(specs: &[SourceSpec], hint: &str) -> Result<()> {
    let mut missing: Vec<String> = Vec::new();
    let mut first_path = None;
    for spec in specs {
        for (package, path) in &spec.requires {
            if !Path::new(path).exists() && !missing.iter().any(|m| m == package) {
                missing.push(package.to_string());
                first_path.get_or_insert_with(|| PathBuf::from(path));
            }
        }
    }
    match first_path {
        None => Ok(()),
        Some(path) => Err(DataError::MissingPackages {
            packages: missing,
            path,
            hint: hint.to_string(),
        }),
    }
}

/// Builds the corpus of `profile` into the folder `out` (`corpus.txt` + `stats.json`), replacing
/// an earlier corpus folder there. `progress` is called after each source.
pub fn build_corpus(
    profile: CorpusProfile,
    out: &Path,
    mut progress: impl FnMut(&SourceStats),
) -> Result<CorpusBuildReport> {
    check_packages(profile)?;
    let dir = AtomicDir::create(out, STATS_FILE)?;
    let mut writer = CorpusWriter::new(&dir.path().join(CORPUS_FILE))?;
    let mut report = CorpusBuildReport {
        profile,
        corpus: out.join(CORPUS_FILE),
        sources: Vec::new(),
        total: SourceStats {
            name: "total".into(),
            ..SourceStats::default()
        },
    };
    for spec in profile.sources() {
        let start = Instant::now();
        (spec.read)(&mut writer)?;
        let mut s = writer.finish_source();
        s.name = spec.name.to_string();
        s.package = spec.package.to_string();
        s.licence = spec.licence.to_string();
        s.seconds = start.elapsed().as_secs_f64();
        let t = &mut report.total;
        t.documents += s.documents;
        t.paragraphs += s.paragraphs;
        t.words += s.words;
        t.bytes += s.bytes;
        t.duplicates += s.duplicates;
        t.seconds += s.seconds;
        progress(&s);
        report.sources.push(s);
    }
    writer.finish()?;
    atomic::write_json(&dir.path().join(STATS_FILE), &report)?;
    dir.commit()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_packages_are_all_named_with_the_install_command() {
        let spec = |name, package, path| SourceSpec {
            name,
            package,
            licence: "",
            requires: vec![(package, path)],
            read: |_| Ok(()),
        };
        let specs = [
            spec("a", "pkg-a", "/nonexistent/ablate/a"),
            spec("b", "pkg-present", "/"),
            spec("c", "pkg-c", "/nonexistent/ablate/c"),
        ];
        let err = check_sources(&specs, INSTALL_HINT).unwrap_err();
        match &err {
            DataError::MissingPackages { packages, path, .. } => {
                assert_eq!(packages, &["pkg-a", "pkg-c"]);
                assert_eq!(path, Path::new("/nonexistent/ablate/a"));
            }
            other => panic!("expected MissingPackages, got {other:?}"),
        }
        assert!(err.to_string().contains(INSTALL_HINT));
        assert!(check_sources(&specs[1..2], INSTALL_HINT).is_ok());
    }

    #[test]
    fn writer_dedupes_caps_and_separates_documents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        let mut w = CorpusWriter::new(&path).unwrap();
        let long = vec!["w"; 300].join(" ");
        w.document(["First  paragraph.", "", long.as_str()])
            .unwrap();
        w.document(["First paragraph."]).unwrap(); // all duplicates: no document
        w.document(["Second document."]).unwrap();
        let stats = w.finish_source();
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "First paragraph.");
        assert_eq!(lines[1].split(' ').count(), 256);
        assert_eq!(lines[2].split(' ').count(), 44);
        assert_eq!(lines[3], "");
        assert_eq!(lines[4], "Second document.");
        assert_eq!(lines.len(), 5);
        assert_eq!(stats.documents, 2);
        assert_eq!(stats.duplicates, 1);
        assert_eq!(stats.bytes, text.len() as u64);
    }
}
