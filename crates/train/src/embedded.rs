//! The classifier's forward pass split at the embedding output, so that SiFT can normalise and perturb
//! the embeddings between the embedding block and the encoder.
//!
//! [`embedding_output`] + [`encode_from`] + [`classify_hidden`] compute exactly what
//! `ClassifierModel::forward` computes (a test checks it); they are written here, from the model's public
//! parts, because the model crate's forward passes do not expose the point in between.

use ablate_model::embeddings::{Embeddings, InputPositions};
use ablate_model::position::Positions;
use ablate_model::position::absolute::sinusoid_table;
use ablate_model::{ClassifierModel, EncoderInput, Model};
use burn::tensor::{Int, Tensor, backend::Backend};

/// Word, position and token-type embeddings summed and LayerNormed: the embedding block up to (not
/// including) the padding mask and dropout. `[B, N, hidden]`.
pub fn embedding_output<B: Backend>(emb: &Embeddings<B>, input: &EncoderInput<B>) -> Tensor<B, 3> {
    let [b, n] = input.input_ids.dims();
    let device = input.input_ids.device();
    let mut x = emb.word_embeddings.forward(input.input_ids.clone());
    let hidden = x.dims()[2];
    match (emb.input_positions, &emb.position_embeddings) {
        (InputPositions::Learned, Some(table)) => {
            let ids = Tensor::<B, 1, Int>::arange(0..n as i64, &device).reshape([1, n]);
            x = x + table.forward(ids);
        }
        (InputPositions::Sinusoidal, _) => {
            x = x + sinusoid_table::<B>(0..n as i64, hidden, &device).unsqueeze::<3>();
        }
        _ => {}
    }
    if let Some(types) = &emb.token_type_embeddings {
        let ids = input
            .token_type_ids
            .clone()
            .unwrap_or_else(|| Tensor::zeros([b, n], &device));
        x = x + types.forward(ids);
    }
    emb.layer_norm.forward(x)
}

/// The rest of the model from an embedding output: padding mask, embedding dropout, then every encoder
/// layer. Returns the last hidden state `[B, N, hidden]`.
pub fn encode_from<B: Backend>(
    model: &Model<B>,
    embedded: Tensor<B, 3>,
    input: &EncoderInput<B>,
) -> Tensor<B, 3> {
    let device = embedded.device();
    let n = embedded.dims()[1];
    let x = embedded * input.attention_mask.clone().unsqueeze_dim::<3>(2);
    let mut hidden = model.embeddings.dropout.forward(x);
    let inputs = model.position_inputs(&Positions::square(n), &device);
    let mask_bias = input.mask_bias();
    for layer in &model.encoder.layer {
        hidden = layer
            .forward(
                &model.config.position,
                hidden.clone(),
                hidden,
                mask_bias.clone(),
                &inputs,
                false,
            )
            .hidden;
    }
    hidden
}

/// The classifier's head on a last hidden state: pooler on the first token, dropout, linear. `[B, labels]`.
pub fn classify_hidden<B: Backend>(clf: &ClassifierModel<B>, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
    let [b, _, d] = hidden.dims();
    let first = hidden.narrow(1, 0, 1).reshape([b, d]);
    let pooled = clf
        .pooler
        .act
        .forward(clf.pooler.dense.forward(clf.pooler.dropout.forward(first)));
    clf.classifier.forward(clf.dropout.forward(pooled))
}

/// The classifier's logits `[B, labels]`; with `normalised` (SiFT on) the embedding output passes through
/// a non-affine LayerNorm first, otherwise this is `ClassifierModel::forward`.
pub fn classifier_logits<B: Backend>(
    clf: &ClassifierModel<B>,
    input: &EncoderInput<B>,
    normalised: bool,
) -> Tensor<B, 2> {
    if !normalised {
        return clf.forward(input);
    }
    let embedded = crate::sift::normalise(embedding_output(&clf.model.embeddings, input));
    classify_hidden(clf, encode_from(&clf.model, embedded, input))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ablate_model::{ModelConfig, Preset};
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn split_forward_equals_the_classifier_forward() {
        let device = Default::default();
        for preset in [Preset::Deberta, Preset::Bert, Preset::DebertaAp] {
            let cfg = ModelConfig {
                vocab_size: 50,
                hidden_size: 16,
                num_hidden_layers: 2,
                num_attention_heads: 2,
                intermediate_size: 32,
                max_position_embeddings: 16,
                type_vocab_size: 2,
                ..preset.config()
            };
            let model = Model::<Flex>::new(&cfg, &device).unwrap();
            let clf = ClassifierModel::new(model, 3, &device);
            let ids = TensorData::new(vec![1i64, 7, 9, 2, 0, 1, 5, 6, 2, 3], [2, 5]);
            let mask = TensorData::new(
                vec![1.0f32, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                [2, 5],
            );
            let types = TensorData::new(vec![0i64, 0, 0, 1, 0, 0, 0, 1, 1, 1], [2, 5]);
            let input = EncoderInput {
                input_ids: Tensor::from_data(ids, &device),
                attention_mask: Tensor::from_data(mask, &device),
                token_type_ids: Some(Tensor::from_data(types, &device)),
            };
            let expected = clf.forward(&input).into_data().to_vec::<f32>().unwrap();
            let embedded = embedding_output(&clf.model.embeddings, &input);
            let hidden = encode_from(&clf.model, embedded, &input);
            let got = classify_hidden(&clf, hidden)
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            for (a, b) in got.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-6, "{preset:?}: {got:?} vs {expected:?}");
            }
        }
    }
}
