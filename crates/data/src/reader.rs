//! Reading a shard folder: the index, the tokenizer copy, and random access into a split's token
//! stream, memory-mapped or with positioned reads, so memory does not grow with the corpus.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, IoContext, Result};
use crate::shards::{INDEX_FILE, ShardIndex, TOKENIZER_FILE, TokenDtype};
use crate::split::Split;
use crate::tokenizer::TextTokenizer;

/// How shard files are read.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    /// Memory-map each file (no copies; the pages touched stay resident as shared, evictable
    /// file-backed memory, up to the size of the split's shards).
    Mmap,
    /// Positioned reads (`pread`) into a small buffer per sequence; resident memory stays flat
    /// whatever the corpus size (the default).
    #[default]
    Pread,
}

impl std::str::FromStr for ReadMode {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mmap" => Ok(ReadMode::Mmap),
            "pread" => Ok(ReadMode::Pread),
            _ => Err(DataError::config(
                "read_mode",
                format!("`{s}` is not a read mode; use mmap or pread"),
            )),
        }
    }
}

enum Backing {
    Map(memmap2::Mmap),
    File(File),
    Empty,
}

/// An opened shard folder.
#[derive(Clone, Debug)]
pub struct ShardSet {
    dir: PathBuf,
    index: ShardIndex,
    tokenizer: TextTokenizer,
}

impl ShardSet {
    /// Opens `dir`: reads its index and tokenizer and checks they belong together.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(DataError::NotFound { path: dir });
        }
        let index = ShardIndex::load(&dir)?;
        let tokenizer = TextTokenizer::load(dir.join(TOKENIZER_FILE))?;
        if tokenizer.fingerprint() != index.tokenizer_fingerprint
            || tokenizer.special() != index.special
        {
            return Err(DataError::format(
                dir.join(TOKENIZER_FILE),
                "this tokenizer is not the one the shards were built with; rebuild the shards",
            ));
        }
        Ok(ShardSet {
            dir,
            index,
            tokenizer,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The index.
    pub fn index(&self) -> &ShardIndex {
        &self.index
    }

    /// The tokenizer the shards were built with.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Opens the token stream of one split.
    pub fn reader(&self, split: Split, mode: ReadMode) -> Result<TokenReader> {
        TokenReader::open(&self.dir, &self.index, split, mode)
    }
}

/// Random access to one split's token stream.
pub struct TokenReader {
    dtype: TokenDtype,
    files: Vec<(PathBuf, Backing)>,
    starts: Vec<u64>,
    total: u64,
    index_path: PathBuf,
}

impl std::fmt::Debug for TokenReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenReader")
            .field("index", &self.index_path)
            .field("files", &self.files.len())
            .field("tokens", &self.total)
            .finish()
    }
}

impl TokenReader {
    fn open(dir: &Path, index: &ShardIndex, split: Split, mode: ReadMode) -> Result<Self> {
        let width = index.dtype.width() as u64;
        let stream = index.split(split);
        let mut files = Vec::with_capacity(stream.shards.len());
        let mut starts = Vec::with_capacity(stream.shards.len());
        let mut total = 0u64;
        for shard in &stream.shards {
            let path = dir.join(&shard.file);
            let file = File::open(&path).at(&path)?;
            let len = file.metadata().at(&path)?.len();
            if len != shard.tokens * width {
                return Err(DataError::format(
                    &path,
                    format!(
                        "holds {len} bytes but the index says {} ids of {width} bytes; the shard \
                         folder is damaged, rebuild it with `ablate data shards`",
                        shard.tokens
                    ),
                ));
            }
            let backing = if len == 0 {
                Backing::Empty
            } else {
                match mode {
                    // SAFETY: shard files are written once inside a temporary folder and published
                    // by renaming the folder; nothing writes to them afterwards, and a rebuild
                    // replaces the folder (new inodes) instead of changing these files in place.
                    ReadMode::Mmap => {
                        let map = unsafe { memmap2::Mmap::map(&file) }.at(&path)?;
                        let _ = map.advise(memmap2::Advice::Random);
                        Backing::Map(map)
                    }
                    ReadMode::Pread => Backing::File(file),
                }
            };
            starts.push(total);
            total += shard.tokens;
            files.push((path, backing));
        }
        if total != stream.tokens {
            return Err(DataError::format(
                dir.join(INDEX_FILE),
                "the shard token counts do not add up to the split total; rebuild the shards",
            ));
        }
        Ok(TokenReader {
            dtype: index.dtype,
            files,
            starts,
            total,
            index_path: dir.join(INDEX_FILE),
        })
    }

    /// Ids in the stream.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether the stream is empty.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The index file of the shard folder.
    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    /// Copies the ids `start .. start + out.len()` into `out`.
    pub fn read(&self, start: u64, out: &mut [u32]) -> Result<()> {
        let end = start + out.len() as u64;
        if end > self.total {
            return Err(DataError::format(
                &self.index_path,
                format!("read of ids {start}..{end} past the end ({})", self.total),
            ));
        }
        let width = self.dtype.width();
        let mut pos = start;
        let mut done = 0usize;
        let mut scratch = Vec::new();
        while done < out.len() {
            let f = self.starts.partition_point(|&s| s <= pos) - 1;
            let in_file = pos - self.starts[f];
            let file_end = self.starts.get(f + 1).copied().unwrap_or(self.total);
            let n = ((file_end - pos) as usize).min(out.len() - done);
            let (path, backing) = &self.files[f];
            let bytes: &[u8] = match backing {
                Backing::Map(map) => {
                    let a = in_file as usize * width;
                    &map[a..a + n * width]
                }
                Backing::File(file) => {
                    scratch.resize(n * width, 0);
                    file.read_exact_at(&mut scratch, in_file * width as u64)
                        .at(path)?;
                    &scratch
                }
                Backing::Empty => &[],
            };
            let dst = &mut out[done..done + n];
            match self.dtype {
                TokenDtype::U16 => {
                    for (d, c) in dst.iter_mut().zip(bytes.chunks_exact(2)) {
                        *d = u16::from_le_bytes([c[0], c[1]]) as u32;
                    }
                }
                TokenDtype::U32 => {
                    for (d, c) in dst.iter_mut().zip(bytes.chunks_exact(4)) {
                        *d = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    }
                }
            }
            done += n;
            pos += n as u64;
        }
        Ok(())
    }
}
