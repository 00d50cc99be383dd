//! MLM scoring: loss, accuracy and perplexity over the masked positions of a stream of batches, with the
//! model in inference mode (no dropout). Pre-training's periodic valid-split evaluation and
//! [`crate::text_eval`] both score through [`evaluate_mlm`].

use ablate_data::MlmBatch;
use ablate_model::MlmModel;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::batch::mlm_tensors;
use crate::error::{Result, TrainError};
use crate::loss::{masked_correct, masked_nll_sum, scalar};

/// The fixed seed of evaluation masks, the same for every run so that runs with different seeds are scored
/// on identical masked positions.
pub const EVAL_SEED: u64 = 0x0000_E7A1_5EED;

/// MLM scores over a set of batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlmScores {
    /// Mean negative log-likelihood per masked token (nats).
    pub loss: f64,
    /// Share of masked tokens predicted exactly (arg-max).
    pub accuracy: f64,
    /// exp(loss).
    pub ppl: f64,
    /// Masked tokens scored.
    pub masked_tokens: u64,
    /// Rows scored.
    pub rows: u64,
}

/// Scores `model` on `batches`.
pub fn evaluate_mlm<B: Backend>(
    model: &MlmModel<B>,
    batches: impl IntoIterator<Item = ablate_data::Result<MlmBatch>>,
    device: &B::Device,
) -> Result<MlmScores> {
    let (mut nll, mut correct, mut masked, mut rows) = (0.0, 0.0, 0u64, 0u64);
    for batch in batches {
        let batch = batch?;
        rows += batch.batch_size as u64;
        let Some(t) = mlm_tensors::<B>(&batch, device) else {
            continue;
        };
        let logits = model.forward(&t.input, &t.masked, false).logits;
        correct += masked_correct(&logits, &t.targets, &t.weights);
        nll += scalar(masked_nll_sum(logits, t.targets, t.weights));
        masked += t.num_masked as u64;
    }
    if masked == 0 {
        return Err(TrainError::input(
            "evaluation",
            "no masked token to score; the text is too short for the masking rate",
        ));
    }
    let loss = nll / masked as f64;
    Ok(MlmScores {
        loss,
        accuracy: correct / masked as f64,
        ppl: loss.exp(),
        masked_tokens: masked,
        rows,
    })
}
