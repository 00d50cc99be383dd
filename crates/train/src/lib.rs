//! `ablate-train`: the run spec, the pre-training and fine-tuning loops, SiFT, evaluation, checkpoints with
//! exact resume, and the metrics files of a run folder.
//!
//! * [`RunSpec`] describes a pre-training run; [`pretrain`] runs it into a run folder, resuming from the
//!   folder's checkpoint when there is one.
//! * [`FinetuneSpec`] describes a classification fine-tuning of a pre-trained run on one of the data
//!   crate's task sets, optionally with SiFT; [`finetune`] runs it.
//! * [`eval_text`] scores a pre-trained run's MLM on any text file, at one or several row lengths.
//!
//! Every function is generic over the burn backend; training needs an autodiff backend.

pub mod batch;
pub mod checkpoint;
pub mod checksum;
pub mod classifier_eval;
pub mod clip;
pub mod decay;
pub mod device;
pub mod error;
pub mod finetune;
pub mod finetune_spec;
pub mod fsutil;
pub mod lock;
pub mod loss;
pub mod metrics;
pub mod mlm_eval;
pub mod optimiser;
pub mod pretrain;
pub mod progress;
pub mod resume;
pub mod rng;
pub mod run_dir;
pub mod schedule;
pub mod sift;
pub mod spec;
pub mod summary;
pub mod task_data;
pub mod tensorboard;
pub mod text_eval;
pub mod tracker;
pub mod unigram;

pub use device::DeviceSpec;
pub use error::{Result, TrainError};
pub use finetune::{FinetuneState, finetune};
pub use finetune_spec::{FINETUNE_SPEC_FILE, FinetuneSpec, FinetuneTask};
pub use mlm_eval::{EVAL_SEED, MlmScores, evaluate_mlm};
pub use optimiser::OptimiserSpec;
pub use pretrain::{PretrainState, TrainOptions, pretrain};
pub use progress::ProgressMode;
pub use run_dir::{PretrainedRun, SPEC_FILE, prepare_data};
pub use schedule::{Decay, LrSchedule};
pub use sift::SiftSpec;
pub use spec::{DataSection, ModelSpec, RunSpec};
pub use summary::{ClassScores, FinetuneSummary, PretrainSummary, RunStatus};
pub use text_eval::{
    EvalText, LengthScores, TextEvalOptions, TextEvalReport, check_text_eval, eval_text,
};
