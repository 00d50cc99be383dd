//! ablate-model: embeddings, one attention core, the position schemes of the DeBERTa ablation, the encoder,
//! the heads (MLM with plain or Enhanced Mask Decoder, sequence classification), presets, and HF DeBERTa-v2
//! checkpoint import. Generic over any burn `Backend`.

pub mod attention;
pub mod config;
pub mod dropout;
pub mod embeddings;
pub mod encoder;
pub mod error;
pub mod fused;
pub mod heads;
pub mod hf;
pub mod layer;
pub mod norm;
pub mod position;
pub mod presets;
pub mod rows;

pub use config::{HiddenAct, MlmDecoder, ModelConfig};
pub use encoder::{EncoderInput, EncoderOutput, Model};
pub use error::{CheckpointError, ConfigError};
pub use heads::MaskedPositions;
pub use heads::classify::ClassifierModel;
pub use heads::mlm::{MlmModel, MlmOutput};
pub use position::PositionScheme;
pub use presets::Preset;
