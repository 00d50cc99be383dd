//! Turning the data crate's plain batches into tensors: encoder inputs, the masked positions the MLM head
//! decodes (padded to the same count per row), their targets and a 0/1 weight that ignores the padding.

use ablate_data::MlmBatch;
use ablate_data::tasks::ClassBatch;
use ablate_model::{EncoderInput, MaskedPositions};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// An MLM batch on a device.
#[derive(Debug, Clone)]
pub struct MlmTensors<B: Backend> {
    /// Ids and attention mask.
    pub input: EncoderInput<B>,
    /// Positions to decode, `M` per row (rows with fewer masked tokens padded with position 0).
    pub masked: MaskedPositions,
    /// `[B, M]` original ids at the masked positions (0 at padding).
    pub targets: Tensor<B, 2, Int>,
    /// `[B, M]`: 1 at real masked positions, 0 at padding.
    pub weights: Tensor<B, 2>,
    /// Real masked positions in the batch.
    pub num_masked: usize,
    /// Real (non-padding) tokens in the batch.
    pub num_tokens: usize,
}

fn int_tensor<B: Backend, const D: usize>(
    values: Vec<i64>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D, Int> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn float_tensor<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn encoder_input<B: Backend>(
    ids: &[u32],
    mask: &[bool],
    types: Option<&[u32]>,
    shape: [usize; 2],
    device: &B::Device,
) -> EncoderInput<B> {
    EncoderInput {
        input_ids: int_tensor(ids.iter().map(|&i| i as i64).collect(), shape, device),
        attention_mask: float_tensor(
            mask.iter().map(|&m| f32::from(u8::from(m))).collect(),
            shape,
            device,
        ),
        token_type_ids: types
            .map(|t| int_tensor(t.iter().map(|&i| i as i64).collect(), shape, device)),
    }
}

/// The tensors of `batch`, or `None` when no position of the batch is masked.
pub fn mlm_tensors<B: Backend>(batch: &MlmBatch, device: &B::Device) -> Option<MlmTensors<B>> {
    let (b, n) = (batch.batch_size, batch.seq_len);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); b];
    for &flat in &batch.masked_positions {
        let flat = flat as usize;
        rows[flat / n].push(flat % n);
    }
    let m = rows.iter().map(Vec::len).max().unwrap_or(0);
    if m == 0 {
        return None;
    }
    let mut targets = Vec::with_capacity(b * m);
    let mut weights = Vec::with_capacity(b * m);
    for (r, row) in rows.iter_mut().enumerate() {
        for &p in row.iter() {
            targets.push(batch.labels[r * n + p]);
            weights.push(1.0);
        }
        for _ in row.len()..m {
            targets.push(0);
            weights.push(0.0);
        }
        row.resize(m, 0);
    }
    let masked = MaskedPositions::new(rows).expect("every row padded to m >= 1 positions");
    Some(MlmTensors {
        input: encoder_input(
            &batch.input_ids,
            &batch.attention_mask,
            None,
            [b, n],
            device,
        ),
        masked,
        targets: int_tensor(targets, [b, m], device),
        weights: float_tensor(weights, [b, m], device),
        num_masked: batch.num_masked(),
        num_tokens: batch.attention_mask.iter().filter(|&&x| x).count(),
    })
}

/// A classification batch on a device.
#[derive(Debug, Clone)]
pub struct ClassTensors<B: Backend> {
    /// Ids, attention mask and segment ids.
    pub input: EncoderInput<B>,
    /// `[B]` class per row.
    pub labels: Tensor<B, 1, Int>,
    /// The same classes on the host.
    pub label_values: Vec<usize>,
    /// Real (non-padding) tokens in the batch.
    pub num_tokens: usize,
}

/// The tensors of `batch`; segment ids are passed only when the model has token types.
pub fn class_tensors<B: Backend>(
    batch: &ClassBatch,
    with_token_types: bool,
    device: &B::Device,
) -> ClassTensors<B> {
    let shape = [batch.batch_size, batch.seq_len];
    let types = with_token_types.then_some(batch.token_type_ids.as_slice());
    ClassTensors {
        input: encoder_input(
            &batch.input_ids,
            &batch.attention_mask,
            types,
            shape,
            device,
        ),
        labels: int_tensor(batch.labels.clone(), [batch.batch_size], device),
        label_values: batch.labels.iter().map(|&l| l as usize).collect(),
        num_tokens: batch.attention_mask.iter().filter(|&&x| x).count(),
    }
}
