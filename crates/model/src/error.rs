//! Errors of the model crate: bad configs and bad checkpoints, each naming the key, file or tensor.

use std::path::PathBuf;

/// A config value that is out of range or conflicts with another.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("model config key `{key}`: {message}")]
pub struct ConfigError {
    /// The offending key, dotted (`position.max_relative_positions`).
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    /// Builds an error for `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Why an HF checkpoint could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `config.json` is not valid JSON or has a value of the wrong type.
    #[error("{path}: {message}")]
    BadConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The config asks for something the lab's model does not implement.
    #[error("{path}: key `{key}`: {message}")]
    Unsupported {
        /// The config file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is unsupported.
        message: String,
    },
    /// The config maps to an invalid model config.
    #[error("{path}: {source}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The validation error.
        source: ConfigError,
    },
    /// No weights file was found in the checkpoint folder.
    #[error(
        "{dir}: no model.safetensors or pytorch_model.bin; an HF checkpoint folder holds config.json and one of them"
    )]
    NoWeights {
        /// The checkpoint folder.
        dir: PathBuf,
    },
    /// Tensors the model needs are absent from the weights file.
    #[error("{path}: missing tensor(s) {}", names.join(", "))]
    MissingTensors {
        /// The weights file.
        path: PathBuf,
        /// HF names of the missing tensors.
        names: Vec<String>,
    },
    /// A tensor has the wrong shape or type, or could not be decoded.
    #[error("{path}: {message}")]
    BadTensor {
        /// The weights file.
        path: PathBuf,
        /// Names the tensor and what is wrong.
        message: String,
    },
}
