//! Heads on top of the encoder: masked-LM (plain or Enhanced Mask Decoder) and sequence classification.

pub mod classify;
pub mod emd;
pub mod mlm;

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// Positions to decode, the same number per batch row (rows with fewer masked tokens are padded by the
/// caller, whose labels then ignore the padding).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskedPositions {
    /// `rows[b]` lists positions of row `b`.
    pub rows: Vec<Vec<usize>>,
}

impl MaskedPositions {
    /// Validates that all rows have the same, non-zero length.
    pub fn new(rows: Vec<Vec<usize>>) -> Result<Self, String> {
        let m = rows.first().map_or(0, Vec::len);
        if m == 0 || rows.iter().any(|r| r.len() != m) {
            return Err(
                "every batch row needs the same, non-zero number of masked positions".into(),
            );
        }
        Ok(Self { rows })
    }

    /// `[B, M]` as an integer tensor.
    pub fn tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2, Int> {
        let (b, m) = (self.rows.len(), self.rows[0].len());
        let flat: Vec<i64> = self.rows.iter().flatten().map(|&p| p as i64).collect();
        Tensor::from_data(TensorData::new(flat, [b, m]), device)
    }
}

/// Rows `positions` `[B, M]` of `hidden` `[B, N, D]`, giving `[B, M, D]`.
pub fn gather_rows<B: Backend>(hidden: Tensor<B, 3>, positions: Tensor<B, 2, Int>) -> Tensor<B, 3> {
    let [b, _, d] = hidden.dims();
    let m = positions.dims()[1];
    hidden.gather(1, positions.reshape([b, m, 1]).expand([b, m, d]))
}
