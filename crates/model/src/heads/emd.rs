//! The Enhanced Mask Decoder in the official code's form: the encoder's own last layer run twice, with
//! query = absolute position embeddings + H_{L-1} at the masked positions and keys/values = H_{L-1}; the second
//! pass takes the first pass's output as its query. Absolute positions enter only here, right before the
//! MLM head, and only masked positions are decoded.

use burn::tensor::{Tensor, backend::Backend};

use super::{MaskedPositions, gather_rows};
use crate::encoder::{EncoderInput, KeysValues, Model, run_layers};
use crate::position::{Positions, QueryPositions};

/// Number of passes through the shared last layer.
pub const EMD_PASSES: usize = 2;

/// Decodes `masked` positions from `penultimate` (H_{L-1}, `[B, N, D]`); returns `[B, M, D]`.
pub fn decode<B: Backend>(
    model: &Model<B>,
    penultimate: Tensor<B, 3>,
    input: &EncoderInput<B>,
    masked: &MaskedPositions,
) -> Tensor<B, 3> {
    decode_passes(model, penultimate, input, masked, EMD_PASSES)
}

/// [`decode`] with `passes` passes through the last layer instead of [`EMD_PASSES`].
pub fn decode_passes<B: Backend>(
    model: &Model<B>,
    penultimate: Tensor<B, 3>,
    input: &EncoderInput<B>,
    masked: &MaskedPositions,
    passes: usize,
) -> Tensor<B, 3> {
    let device = penultimate.device();
    let n = penultimate.dims()[1];
    let positions = masked.tensor::<B>(&device);
    let z = model
        .embeddings
        .absolute_at(positions.clone())
        .expect("EMD models always hold a position table");
    let query = z + gather_rows(penultimate.clone(), positions);
    let inputs = model.position_inputs(
        &Positions {
            query: QueryPositions::PerRow(masked.rows.clone()),
            key_len: n,
        },
        &device,
    );
    let last = model
        .encoder
        .layer
        .last()
        .expect("a model has at least one layer");
    let mask_bias = input.full_mask_bias(model.config.num_attention_heads, query.dims()[1]);
    run_layers(
        std::iter::repeat_n(last, passes),
        query,
        KeysValues::Fixed(penultimate),
        &mask_bias,
        &inputs,
        false,
    )
    .last_hidden_state
}
