//! Classifier scoring: accuracy and macro-F1 of a fine-tuned classifier on a list of task examples, in
//! inference mode (no dropout); fine-tuning scores its valid and test splits with it.

use ablate_data::TextTokenizer;
use ablate_data::tasks::{TaskExample, encode_examples};
use ablate_model::ClassifierModel;
use burn::tensor::backend::Backend;

use crate::batch::class_tensors;
use crate::error::Result;
use crate::summary::ClassScores;

/// Accuracy and macro-F1 (the unweighted mean over classes of 2·TP / (2·TP + FP + FN), 0 for a class with
/// no example and no prediction) of `predicted` against `gold`.
pub fn class_scores(predicted: &[usize], gold: &[usize], classes: usize) -> ClassScores {
    let (mut tp, mut fp, mut fneg) = (
        vec![0u64; classes],
        vec![0u64; classes],
        vec![0u64; classes],
    );
    let mut correct = 0u64;
    for (&p, &g) in predicted.iter().zip(gold) {
        if p == g {
            correct += 1;
            tp[g] += 1;
        } else {
            fp[p] += 1;
            fneg[g] += 1;
        }
    }
    let f1: f64 = (0..classes)
        .map(|c| {
            let denom = 2 * tp[c] + fp[c] + fneg[c];
            if denom == 0 {
                0.0
            } else {
                2.0 * tp[c] as f64 / denom as f64
            }
        })
        .sum::<f64>()
        / classes.max(1) as f64;
    ClassScores {
        accuracy: correct as f64 / gold.len().max(1) as f64,
        macro_f1: f1,
        examples: gold.len() as u64,
    }
}

/// How examples are turned into model inputs.
#[derive(Debug, Clone, Copy)]
pub struct InputSettings<'a> {
    /// The run's tokenizer.
    pub tokenizer: &'a TextTokenizer,
    /// Longest row.
    pub max_len: usize,
    /// Whether segment ids are passed (the model has token types).
    pub token_types: bool,
}

/// Scores `clf` on `examples`, `batch_size` at a time.
pub fn evaluate_classifier<B: Backend>(
    clf: &ClassifierModel<B>,
    examples: &[TaskExample],
    classes: usize,
    settings: InputSettings<'_>,
    batch_size: usize,
    device: &B::Device,
) -> Result<ClassScores> {
    let (mut predicted, mut gold) = (Vec::new(), Vec::new());
    for chunk in examples.chunks(batch_size.max(1)) {
        let batch = encode_examples(settings.tokenizer, chunk, settings.max_len)?;
        let t = class_tensors::<B>(&batch, settings.token_types, device);
        let logits = clf.forward(&t.input);
        let [b, _] = logits.dims();
        let pred = logits.argmax(1).reshape([b]).into_data();
        predicted.extend(pred.iter::<i64>().map(|p| p as usize));
        gold.extend(t.label_values);
    }
    Ok(class_scores(&predicted, &gold, classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_by_hand() {
        // gold 0 0 1 1, predicted 0 1 1 1: class 0 F1 = 2/3, class 1 F1 = 4/5
        let s = class_scores(&[0, 1, 1, 1], &[0, 0, 1, 1], 2);
        assert!((s.accuracy - 0.75).abs() < 1e-12);
        assert!((s.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
        // always predicting one class of two balanced ones: accuracy 0.5, macro-F1 1/3
        let s = class_scores(&[1, 1, 1, 1], &[0, 0, 1, 1], 2);
        assert!((s.macro_f1 - (0.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    }
}
