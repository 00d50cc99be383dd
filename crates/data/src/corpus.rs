//! Plain-text corpora: a UTF-8 file, or a folder of `.txt` files, with one paragraph per line and
//! a blank line between documents. Reading is streamed; no corpus is held in memory whole.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, IoContext, Result};
use crate::hashing::Fingerprint;

/// The corpus that ships with the repository: three Jane Austen novels (public domain).
pub fn bundled_corpus_path() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = crate_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(crate_dir);
    repo.join("data").join("austen").join("austen_sample.txt")
}

/// Counts over a corpus.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CorpusStats {
    /// Files read.
    pub files: u64,
    /// Documents (runs of paragraphs between blank lines; a file ends a document).
    pub documents: u64,
    /// Non-blank lines.
    pub paragraphs: u64,
    /// Whitespace-separated words.
    pub words: u64,
    /// Bytes of the files.
    pub bytes: u64,
}

/// A validated corpus on disk.
#[derive(Clone, Debug)]
pub struct Corpus {
    path: PathBuf,
    files: Vec<PathBuf>,
    stats: CorpusStats,
    fingerprint: String,
}

/// A run of consecutive paragraphs of one document, the unit that splits are assigned by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passage {
    /// Index of the document in the corpus (0-based, in file order).
    pub document: u64,
    /// Index of this passage within its document.
    pub index_in_document: u32,
    /// The paragraphs, without line ends.
    pub paragraphs: Vec<String>,
    /// Whitespace-separated words in the paragraphs.
    pub words: usize,
}

impl Passage {
    /// The paragraphs joined by newlines.
    pub fn text(&self) -> String {
        self.paragraphs.join("\n")
    }

    /// Whether `self` directly follows `prev` in the same document.
    pub fn continues(&self, prev: &Passage) -> bool {
        self.document == prev.document && self.index_in_document == prev.index_in_document + 1
    }
}

fn is_text_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .map(|n| n.to_string_lossy().starts_with('.'))
        .unwrap_or(true);
    let txt = path
        .extension()
        .map(|e| e.eq_ignore_ascii_case("txt"))
        .unwrap_or(false);
    !hidden && txt
}

fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).at(path)?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let p = e.path().unwrap_or(path).to_path_buf();
            match e.into_io_error() {
                Some(io) => DataError::io(p, io),
                None => DataError::format(p, "a symbolic link loop in the corpus folder"),
            }
        })?;
        if entry.file_type().is_file() && is_text_file(entry.path()) {
            files.push(entry.into_path());
        }
    }
    if files.is_empty() {
        return Err(DataError::NoTextFiles {
            path: path.to_path_buf(),
        });
    }
    Ok(files)
}

/// Reads one line (without its end) into `buf`; the bytes consumed, or `None` at end of file.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, path: &Path) -> Result<Option<usize>> {
    buf.clear();
    let n = reader.read_until(b'\n', buf).at(path)?;
    if n == 0 {
        return Ok(None);
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(n))
}

fn utf8<'a>(bytes: &'a [u8], path: &Path, line: u64, offset: u64) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| DataError::InvalidUtf8 {
        path: path.to_path_buf(),
        line,
        byte_offset: offset + e.valid_up_to() as u64,
    })
}

impl Corpus {
    /// Opens and validates a corpus file or folder in one streaming pass: every file must be
    /// readable UTF-8 with at least one non-blank line. Counts and a content fingerprint are kept.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let files = list_files(&path)?;
        let mut stats = CorpusStats::default();
        let mut fp = Fingerprint::new();
        let mut buf = Vec::new();
        for file in &files {
            let rel = file.strip_prefix(&path).unwrap_or(file);
            fp.update_str(&rel.to_string_lossy());
            let mut reader = BufReader::new(File::open(file).at(file)?);
            let (mut line, mut offset, mut in_doc, mut paragraphs) = (0u64, 0u64, false, 0u64);
            loop {
                let start = offset;
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf).at(file)?;
                if n == 0 {
                    break;
                }
                line += 1;
                offset += n as u64;
                fp.update(&buf);
                let text = utf8(&buf, file, line, start)?.trim();
                if text.is_empty() {
                    in_doc = false;
                    continue;
                }
                if !in_doc {
                    stats.documents += 1;
                    in_doc = true;
                }
                paragraphs += 1;
                stats.words += text.split_whitespace().count() as u64;
            }
            if paragraphs == 0 {
                return Err(DataError::EmptyFile { path: file.clone() });
            }
            stats.files += 1;
            stats.paragraphs += paragraphs;
            stats.bytes += offset;
        }
        Ok(Corpus {
            path,
            files,
            stats,
            fingerprint: fp.hex(),
        })
    }

    /// The file or folder the corpus was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files, in reading order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Counts taken when the corpus was opened.
    pub fn stats(&self) -> &CorpusStats {
        &self.stats
    }

    /// A 128-bit fingerprint of the file names and contents.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Streams the corpus as passages: consecutive paragraphs of one document, cut as soon as they
    /// reach `passage_words` words (and always at a document end).
    pub fn passages(&self, passage_words: usize) -> Passages<'_> {
        Passages {
            corpus: self,
            passage_words: passage_words.max(1),
            file: 0,
            reader: None,
            line: 0,
            offset: 0,
            buf: Vec::new(),
            current: Vec::new(),
            words: 0,
            document: 0,
            index_in_document: 0,
            in_doc: false,
            any_doc: false,
            failed: false,
        }
    }
}

/// Iterator over a corpus' passages; see [`Corpus::passages`].
pub struct Passages<'a> {
    corpus: &'a Corpus,
    passage_words: usize,
    file: usize,
    reader: Option<BufReader<File>>,
    line: u64,
    offset: u64,
    buf: Vec<u8>,
    current: Vec<String>,
    words: usize,
    document: u64,
    index_in_document: u32,
    in_doc: bool,
    any_doc: bool,
    failed: bool,
}

impl Passages<'_> {
    fn take(&mut self) -> Option<Passage> {
        if self.current.is_empty() {
            return None;
        }
        let p = Passage {
            document: self.document,
            index_in_document: self.index_in_document,
            paragraphs: std::mem::take(&mut self.current),
            words: std::mem::replace(&mut self.words, 0),
        };
        self.index_in_document += 1;
        Some(p)
    }

    fn end_document(&mut self) -> Option<Passage> {
        let p = self.take();
        self.in_doc = false;
        p
    }

    fn step(&mut self) -> Result<Option<Passage>> {
        loop {
            if self.reader.is_none() {
                let Some(path) = self.corpus.files.get(self.file) else {
                    return Ok(self.end_document());
                };
                self.reader = Some(BufReader::new(File::open(path).at(path)?));
                self.line = 0;
                self.offset = 0;
            }
            let path = &self.corpus.files[self.file];
            let reader = self.reader.as_mut().expect("reader opened above");
            let start = self.offset;
            let Some(n) = read_line(reader, &mut self.buf, path)? else {
                self.reader = None;
                self.file += 1;
                if let Some(p) = self.end_document() {
                    return Ok(Some(p));
                }
                continue;
            };
            self.line += 1;
            self.offset += n as u64;
            let text = utf8(&self.buf, path, self.line, start)?.trim();
            if text.is_empty() {
                if let Some(p) = self.end_document() {
                    return Ok(Some(p));
                }
                continue;
            }
            if !self.in_doc {
                if self.any_doc {
                    self.document += 1;
                }
                self.any_doc = true;
                self.in_doc = true;
                self.index_in_document = 0;
            }
            self.words += text.split_whitespace().count();
            self.current.push(text.to_string());
            if self.words >= self.passage_words {
                return Ok(self.take());
            }
        }
    }
}

impl Iterator for Passages<'_> {
    type Item = Result<Passage>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn counts_documents_and_cuts_passages() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "c.txt",
            "one two three\nfour five\n\n\nsix seven eight nine\r\nten\n",
        );
        let c = Corpus::open(&p).unwrap();
        assert_eq!(c.stats().documents, 2);
        assert_eq!(c.stats().paragraphs, 4);
        assert_eq!(c.stats().words, 10);
        let ps: Vec<_> = c.passages(4).collect::<Result<_>>().unwrap();
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[0].paragraphs, vec!["one two three", "four five"]);
        assert_eq!((ps[1].document, ps[1].index_in_document), (1, 0));
        assert_eq!(ps[2].paragraphs, vec!["ten"]);
        assert!(ps[2].continues(&ps[1]));
        assert!(!ps[1].continues(&ps[0]));
    }

    #[test]
    fn folder_reads_txt_files_in_order_and_each_file_ends_a_document() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.txt", "second file\n");
        write(dir.path(), "a.txt", "first file\nstill first");
        write(dir.path(), "notes.md", "ignored\n");
        let c = Corpus::open(dir.path()).unwrap();
        assert_eq!(c.files().len(), 2);
        assert_eq!(c.stats().documents, 2);
        let ps: Vec<_> = c.passages(100).collect::<Result<_>>().unwrap();
        assert_eq!(ps[0].paragraphs, vec!["first file", "still first"]);
        assert_eq!(ps[1].document, 1);
    }

    #[test]
    fn fingerprint_follows_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "c.txt", "some text\n");
        let a = Corpus::open(&p).unwrap().fingerprint().to_string();
        write(dir.path(), "c.txt", "some text!\n");
        let b = Corpus::open(&p).unwrap().fingerprint().to_string();
        assert_ne!(a, b);
    }
}
