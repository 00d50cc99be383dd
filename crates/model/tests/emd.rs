//! The Enhanced Mask Decoder against an independent reference written from the official code's equations
//! with explicit loops over plain vectors: query = absolute position embedding + H_{L-1} for EVERY position,
//! keys/values = H_{L-1}, the last layer applied `passes` times (c2p + p2c, relative index delta(i, j) of the
//! query's own position), then the masked rows picked out. The model decodes only the masked rows, with
//! per-row query positions; both must agree, for 1 and 2 passes, with a padded key and with rows shorter
//! and longer than the relative span.

use ablate_model::heads::emd::decode_passes;
use ablate_model::position::{DisentangledConfig, LayerPosition, PositionScheme, SharedPosition};
use ablate_model::{EncoderInput, HiddenAct, MaskedPositions, MlmDecoder, Model, ModelConfig};
use burn::module::Module;
use burn::tensor::{Distribution, Tensor, TensorData};

mod common;
use common::{B, Randomise, vals};

const N: usize = 6;
const D: usize = 8;
const HEADS: usize = 2;

/// `x` `[rows][d_in]` times a burn `Linear` (weight `[d_in, d_out]`, row-major) plus its bias.
fn linear(x: &[Vec<f32>], lin: &burn::nn::Linear<B>) -> Vec<Vec<f32>> {
    let w = vals(lin.weight.val());
    let d_in = x[0].len();
    let d_out = w.len() / d_in;
    let b = lin.bias.as_ref().map(|b| vals(b.val()));
    x.iter()
        .map(|row| {
            (0..d_out)
                .map(|o| {
                    let s: f32 = (0..d_in).map(|i| row[i] * w[i * d_out + o]).sum();
                    s + b.as_ref().map_or(0.0, |b| b[o])
                })
                .collect()
        })
        .collect()
}

fn layer_norm(x: &[Vec<f32>], ln: &ablate_model::norm::LayerNorm<B>, eps: f64) -> Vec<Vec<f32>> {
    let g = vals(ln.gamma.val());
    let b = ln.beta.as_ref().map(|b| vals(b.val()));
    x.iter()
        .map(|row| {
            let n = row.len() as f64;
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            row.iter()
                .enumerate()
                .map(|(i, &v)| {
                    let y = ((v as f64 - mean) / (var + eps).sqrt()) as f32 * g[i];
                    y + b.as_ref().map_or(0.0, |b| b[i])
                })
                .collect()
        })
        .collect()
}

/// erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

fn gelu(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + erf(x / 2f64.sqrt()))) as f32
}

fn add(a: &[Vec<f32>], b: &[Vec<f32>]) -> Vec<Vec<f32>> {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u + v).collect())
        .collect()
}

/// One pass of the last layer: queries `q_rows` at absolute positions `0..N`, keys/values `kv`,
/// `attended[j]` false for padded keys.
fn layer_reference(
    model: &Model<B>,
    cfg: &ModelConfig,
    q_rows: &[Vec<f32>],
    kv: &[Vec<f32>],
    attended: &[bool],
) -> Vec<Vec<f32>> {
    let layer = model.encoder.layer.last().unwrap();
    let attn = &layer.attention.self_attn;
    let PositionScheme::Deberta(dc) = &cfg.position else {
        unreachable!()
    };
    let Some(SharedPosition::Deberta(rel)) = &model.encoder.rel else {
        unreachable!()
    };
    let Some(LayerPosition::Deberta(terms)) = &attn.rel else {
        unreachable!()
    };
    let table = vals(rel.rel_embeddings.weight.val());
    let table: Vec<Vec<f32>> = table.chunks(D).map(<[f32]>::to_vec).collect();
    let kr = linear(&table, terms.pos_key_proj.as_ref().unwrap());
    let qr = linear(&table, terms.pos_query_proj.as_ref().unwrap());
    let (q, k, v) = (
        linear(q_rows, &attn.query_proj),
        linear(kv, &attn.key_proj),
        linear(kv, &attn.value_proj),
    );
    let span = dc.max_relative_positions as i64;
    let delta = |i: usize, j: usize| (i as i64 - j as i64 + span).clamp(0, 2 * span - 1) as usize;
    let dh = D / HEADS;
    let scale = ((dh * 3) as f32).sqrt();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let mut context = vec![vec![0f32; D]; N];
    for h in 0..HEADS {
        let hs = h * dh..(h + 1) * dh;
        for i in 0..N {
            let scores: Vec<f32> = (0..N)
                .map(|j| {
                    let c2c = dot(&q[i][hs.clone()], &k[j][hs.clone()]);
                    let c2p = dot(&q[i][hs.clone()], &kr[delta(i, j)][hs.clone()]);
                    let p2c = dot(&k[j][hs.clone()], &qr[delta(i, j)][hs.clone()]);
                    if attended[j] {
                        (c2c + c2p + p2c) / scale
                    } else {
                        f32::NEG_INFINITY
                    }
                })
                .collect();
            let max = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f32 = e.iter().sum();
            for (j, ej) in e.iter().enumerate() {
                for c in hs.clone() {
                    context[i][c] += ej / total * v[j][c];
                }
            }
        }
    }
    let eps = cfg.layer_norm_eps;
    let a = layer_norm(
        &add(&linear(&context, &layer.attention.output.dense), q_rows),
        &layer.attention.output.layer_norm,
        eps,
    );
    let inner: Vec<Vec<f32>> = linear(&a, &layer.intermediate.dense)
        .into_iter()
        .map(|r| r.into_iter().map(gelu).collect())
        .collect();
    layer_norm(
        &add(&linear(&inner, &layer.output.dense), &a),
        &layer.output.layer_norm,
        eps,
    )
}

fn emd_case(span: usize, passes: usize) {
    let dev = Default::default();
    let cfg = ModelConfig {
        vocab_size: 23,
        hidden_size: D,
        num_hidden_layers: 2,
        num_attention_heads: HEADS,
        intermediate_size: 16,
        hidden_act: HiddenAct::Gelu,
        hidden_dropout_prob: 0.0,
        attention_probs_dropout_prob: 0.0,
        max_position_embeddings: 16,
        position: PositionScheme::Deberta(DisentangledConfig {
            max_relative_positions: span,
            ..DisentangledConfig::default()
        }),
        decoder: MlmDecoder::Emd,
        ..ModelConfig::default()
    };
    let model = Model::<B>::new(&cfg, &dev)
        .unwrap()
        .map(&mut Randomise::default());
    // Two rows; the second has its last key padded.
    let penultimate = Tensor::<B, 3>::random([2, N, D], Distribution::Normal(0.0, 1.0), &dev);
    let mask: Vec<f32> = (0..2 * N)
        .map(|p| if p == 2 * N - 1 { 0.0 } else { 1.0 })
        .collect();
    let input = EncoderInput {
        input_ids: Tensor::zeros([2, N], &dev),
        attention_mask: Tensor::from_data(TensorData::new(mask.clone(), [2, N]), &dev),
        token_type_ids: None,
    };
    let masked = MaskedPositions::new(vec![vec![1, 4, 5], vec![0, 2, 3]]).unwrap();
    let got = vals(decode_passes(
        &model,
        penultimate.clone(),
        &input,
        &masked,
        passes,
    ));

    let h = vals(penultimate);
    let z = vals(
        model
            .embeddings
            .position_embeddings
            .as_ref()
            .unwrap()
            .weight
            .val(),
    );
    let mut want = Vec::new();
    for (b, rows) in masked.rows.iter().enumerate() {
        let hb: Vec<Vec<f32>> = (0..N)
            .map(|i| h[(b * N + i) * D..(b * N + i + 1) * D].to_vec())
            .collect();
        let zb: Vec<Vec<f32>> = (0..N).map(|i| z[i * D..(i + 1) * D].to_vec()).collect();
        let attended: Vec<bool> = (0..N).map(|j| mask[b * N + j] > 0.5).collect();
        let mut query = add(&zb, &hb);
        for _ in 0..passes {
            query = layer_reference(&model, &cfg, &query, &hb, &attended);
        }
        for &r in rows {
            want.extend_from_slice(&query[r]);
        }
    }
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "span {span}, {passes} passes, element {i}: {g} vs {w}"
        );
    }
}

#[test]
fn emd_matches_the_full_sequence_reference_for_one_and_two_passes() {
    for passes in [1, 2] {
        emd_case(8, passes); // rows within the span: the band path
        emd_case(3, passes); // rows beyond the span: clipped distances, the gather path
    }
}
