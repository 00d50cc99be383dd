//! HF checkpoints: DeBERTa-v2/v3 and BERT `config.json` to [`crate::ModelConfig`], weights into
//! [`crate::Model`], and the reverse, a lab MLM model exported as an HF DeBERTa-v2 or BERT folder.

pub mod config;
pub mod export;
pub mod export_config;
pub mod load;
pub mod torch_file;

pub use config::{model_config_and_arch, model_config_from_hf};
pub use export::{EMD_WARNING, ExportError, HfArch, HfConfig, export_model, hf_config};
pub use load::load_checkpoint;
