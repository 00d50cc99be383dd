//! HF DeBERTa-v2/v3 checkpoints: `config.json` to [`crate::ModelConfig`], weights into [`crate::Model`].

pub mod config;
pub mod load;

pub use config::model_config_from_hf;
pub use load::load_checkpoint;
