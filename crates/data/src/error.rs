//! The crate's error type: every variant names the file or setting at fault and says how to fix it.

use std::path::{Path, PathBuf};

/// The command that installs every Debian package the `core` corpus profile and the WordNet task
/// read (add `--full` for the `full` profile).
pub const INSTALL_HINT: &str = "sudo scripts/install_corpus_packages.sh";

/// Everything that can go wrong while building, reading or batching data.
///
/// `path` is always the file or folder at fault; the other fields are the numbers the message
/// quotes.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A path that should exist does not.
    #[error(
        "{path}: no such file or folder; check the path (a corpus is a UTF-8 text file or a folder of .txt files)"
    )]
    NotFound { path: PathBuf },

    /// Reading or writing a path failed for another reason (permissions, disk full, ...). The cause is part
    /// of the message (a full disk says so and what to do), so it is not repeated as a source.
    #[error("{path}: {}", describe_io(cause))]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// A corpus file holds no text.
    #[error(
        "{path}: the file is empty (no non-blank line); a corpus file needs at least one paragraph of text"
    )]
    EmptyFile { path: PathBuf },

    /// A corpus folder holds no `.txt` file.
    #[error("{path}: the folder holds no .txt file; put the corpus text in files ending in .txt")]
    NoTextFiles { path: PathBuf },

    /// A corpus file holds bytes that are not UTF-8.
    #[error(
        "{path}, line {line}: bytes that are not valid UTF-8 (file byte offset {byte_offset}); re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`"
    )]
    InvalidUtf8 {
        path: PathBuf,
        line: u64,
        byte_offset: u64,
    },

    /// The corpus gives fewer training sequences than one batch holds.
    #[error(
        "{path}: the {split} split holds {sequences} sequences of {max_len} tokens, fewer than one batch of {batch_size}; use a bigger corpus, a smaller batch_size or a shorter max_len"
    )]
    CorpusTooSmall {
        path: PathBuf,
        split: String,
        sequences: u64,
        batch_size: usize,
        max_len: usize,
    },

    /// The corpus cannot support the requested vocabulary size.
    #[error(
        "{path}: the corpus supports a vocabulary of only {achieved} tokens, not the {requested} asked for; set vocab_size to at most {achieved} or use a bigger corpus"
    )]
    VocabTooLarge {
        path: PathBuf,
        requested: usize,
        achieved: usize,
    },

    /// Debian packages that a corpus profile or task needs are not installed.
    #[error(
        "missing Debian package(s) {packages:?} (looked for {path}); install them with `{hint}`"
    )]
    MissingPackages {
        packages: Vec<String>,
        path: PathBuf,
        hint: String,
    },

    /// A file exists but its content is not what this crate wrote or expects.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },

    /// A JSON file could not be parsed or written.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// The HF tokenizers library reported a problem with a tokenizer file or its training.
    #[error("{path}: tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },

    /// A setting has a value that cannot work.
    #[error("setting `{key}`: {message}")]
    Config { key: String, message: String },

    /// A saved data cursor does not belong to these shards or batch settings.
    #[error(
        "{path}: the data cursor does not fit these shards/settings: {message}; resume with the settings the run started with"
    )]
    CursorMismatch { path: PathBuf, message: String },

    /// An external program (diatheke) failed.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
}

/// The crate's result type.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// What the lab says after the path when a write fails because the disk (or the user's quota) is full.
pub const DISK_FULL: &str = "the disk is full (no space left on device): free some space, then run the same \
     command again; finished work is kept and runs resume from their last checkpoint";

/// Whether a message already says the disk is full: [`DISK_FULL`] and the checkpoint writer's "the disk
/// holding DIR is full (...)" both do, so a caller need not add [`DISK_FULL`] again.
pub fn tells_disk_full(message: &str) -> bool {
    message.contains("is full")
}

/// Whether `e` says the disk or the user's quota is full (ENOSPC, EDQUOT).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{QuotaExceeded, StorageFull};
    matches!(e.kind(), StorageFull | QuotaExceeded)
}

/// The message of an I/O error: [`DISK_FULL`] for a full disk, else the error and what to check.
pub fn describe_io(e: &std::io::Error) -> String {
    if is_disk_full(e) {
        DISK_FULL.to_string()
    } else {
        format!("{e}; check that the path is readable (and its folder writable when writing)")
    }
}

impl DataError {
    /// An I/O error at `path`; a missing file becomes [`DataError::NotFound`].
    pub fn io(path: impl AsRef<Path>, cause: std::io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        if cause.kind() == std::io::ErrorKind::NotFound {
            DataError::NotFound { path }
        } else {
            DataError::Io { path, cause }
        }
    }

    /// Whether this is a write that failed because the disk is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, DataError::Io { cause, .. } if is_disk_full(cause))
    }

    /// A malformed file at `path`.
    pub fn format(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    /// A bad setting.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        DataError::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The file or folder this error names, when it names one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataError::NotFound { path }
            | DataError::Io { path, .. }
            | DataError::EmptyFile { path }
            | DataError::NoTextFiles { path }
            | DataError::InvalidUtf8 { path, .. }
            | DataError::CorpusTooSmall { path, .. }
            | DataError::VocabTooLarge { path, .. }
            | DataError::MissingPackages { path, .. }
            | DataError::Format { path, .. }
            | DataError::Json { path, .. }
            | DataError::Tokenizer { path, .. }
            | DataError::CursorMismatch { path, .. } => Some(path),
            DataError::Config { .. } | DataError::Command { .. } => None,
        }
    }
}

/// Adds the path to an `std::io::Result`.
pub(crate) trait IoContext<T> {
    /// Maps the error to [`DataError::io`] at `path`.
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| DataError::io(path, e))
    }
}
