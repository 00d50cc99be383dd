//! The crate's error type: each variant names the key, file or run folder at fault and says what to do.

use std::path::PathBuf;

/// Everything that can stop a training, fine-tuning or evaluation command.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A run-spec key has a bad value or conflicts with another key.
    #[error("spec key `{key}`: {message}")]
    Spec {
        /// The dotted key (`optimiser.lr`).
        key: String,
        /// What is wrong and which values are allowed.
        message: String,
    },
    /// A spec file could not be parsed (unknown key, wrong type, unknown variant, bad TOML).
    #[error("{path}: {message}")]
    SpecFile {
        /// The spec file.
        path: PathBuf,
        /// The parser's message, naming the key and the allowed keys or values.
        message: String,
    },
    /// A file or folder could not be read or written (a full disk says so and what to do).
    #[error("{path}: {}", io_message(cause))]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause (part of the message, so not repeated as a source).
        cause: std::io::Error,
    },
    /// The data side failed (corpus, tokenizer, shards, batches, task sets).
    #[error(transparent)]
    Data(#[from] ablate_data::DataError),
    /// The model config was rejected.
    #[error(transparent)]
    Model(#[from] ablate_model::ConfigError),
    /// A checkpoint is missing, incomplete or unreadable.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The disk holding `path` filled up while the lab wrote there; the message says what to do.
    #[error("{path}: {message}")]
    DiskFull {
        /// The file or folder being written.
        path: PathBuf,
        /// The free space, the space needed, and what to do.
        message: String,
    },
    /// A run folder holds a run that cannot be continued with this command.
    #[error("run folder {path}: {message}")]
    RunFolder {
        /// The run folder.
        path: PathBuf,
        /// Why, and what to do instead.
        message: String,
    },
    /// A command-line input is missing or invalid.
    #[error("{what}: {message}")]
    Input {
        /// The argument or file.
        what: String,
        /// What is wrong.
        message: String,
    },
}

fn io_message(cause: &std::io::Error) -> String {
    if ablate_data::is_disk_full(cause) {
        ablate_data::DISK_FULL.to_string()
    } else {
        cause.to_string()
    }
}

impl TrainError {
    /// Whether the command failed because the disk is full (the same command resumes once space is free).
    pub fn is_disk_full(&self) -> bool {
        match self {
            TrainError::DiskFull { .. } => true,
            TrainError::Io { cause, .. } => ablate_data::is_disk_full(cause),
            TrainError::Data(e) => e.is_disk_full(),
            _ => false,
        }
    }

    /// A [`TrainError::Spec`] for `key`.
    pub fn spec(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Spec {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A [`TrainError::Input`] for `what`.
    pub fn input(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Input {
            what: what.into(),
            message: message.into(),
        }
    }

    /// A [`TrainError::RunFolder`] for `path`.
    pub fn run_folder(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::RunFolder {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A [`TrainError::Checkpoint`] for `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Checkpoint {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Adds the path to an `std::io::Result`.
pub(crate) trait IoContext<T> {
    /// Names `path` in the error.
    fn at(self, path: impl Into<PathBuf>) -> Result<T, TrainError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, TrainError> {
        self.map_err(|cause| TrainError::Io {
            path: path.into(),
            cause,
        })
    }
}

/// The crate's result type.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
