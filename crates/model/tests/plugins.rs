//! The position plugins (ALiBi, RoPE, T5, FIRE) against explicit per-(i, j) loops written from their papers'
//! equations, through the attention core's scores so that where each term sits relative to the scale is
//! pinned; shift invariance of every scheme that acts inside attention; gradients reaching every parameter;
//! and a model of every scheme kind (enumerated by an exhaustive match) whose output depends on positions,
//! the no-position control excepted.

use ablate_model::position::relative::Positions;
use ablate_model::position::{
    AlibiConfig, DisentangledConfig, FireConfig, FireNormaliser, PositionScheme, RopeConfig,
    SharedPosition, ShawConfig, T5Config,
};
use ablate_model::{EncoderInput, MaskedPositions, MlmModel, Model, ModelConfig};
use burn::module::Module;
use burn::tensor::{Distribution, Int, Tensor, TensorData};

mod common;
use common::{AD, B, GradCheck, Randomise, vals};

const N: usize = 7;
const HEADS: usize = 2;
const D: usize = 4;

fn tiny(position: PositionScheme) -> ModelConfig {
    ModelConfig {
        vocab_size: 31,
        hidden_size: HEADS * D,
        num_hidden_layers: 1,
        num_attention_heads: HEADS,
        intermediate_size: 16,
        hidden_dropout_prob: 0.0,
        attention_probs_dropout_prob: 0.0,
        max_position_embeddings: 32,
        position,
        ..ModelConfig::default()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

/// A model with random parameters, random `q`, `k` (`[1, H, N, d]`, as plain vectors) and the core's scores
/// `[1, H, N, N]` before the mask.
fn scores_of(cfg: &ModelConfig) -> (Model<B>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let dev = Default::default();
    let model = Model::<B>::new(cfg, &dev)
        .unwrap()
        .map(&mut Randomise::default());
    let q = Tensor::<B, 4>::random([1, HEADS, N, D], Distribution::Normal(0.0, 1.0), &dev);
    let k = Tensor::<B, 4>::random([1, HEADS, N, D], Distribution::Normal(0.0, 1.0), &dev);
    let inputs = model.position_inputs(&Positions::square(N), &dev);
    let attn = &model.encoder.layer[0].attention.self_attn;
    let scores = vals(attn.scores(q.clone(), k.clone(), &inputs));
    (model, vals(q), vals(k), scores)
}

/// Row `i` of head `h` of a `[1, H, N, d]` tensor.
fn row(t: &[f32], h: usize, i: usize) -> &[f32] {
    &t[(h * N + i) * D..(h * N + i + 1) * D]
}

/// `want[h][i][j] = q_i . k_j / sqrt(d) + extra(h, i, j)`: the content score and a term after the scale.
fn content_plus(q: &[f32], k: &[f32], extra: impl Fn(usize, usize, usize) -> f32) -> Vec<f32> {
    let mut want = Vec::new();
    for h in 0..HEADS {
        for i in 0..N {
            for j in 0..N {
                want.push(dot(row(q, h, i), row(k, h, j)) / (D as f32).sqrt() + extra(h, i, j));
            }
        }
    }
    want
}

#[test]
fn alibi_scores_equal_the_paper_after_the_scale() {
    let (_, q, k, got) = scores_of(&tiny(PositionScheme::Alibi(AlibiConfig::default())));
    // two heads, a power of two: m_h = 2^(-8h/2) = 1/16, 1/256 (worked by hand)
    let slopes = [1.0 / 16.0, 1.0 / 256.0];
    let want = content_plus(&q, &k, |h, i, j| -slopes[h] * (i as f32 - j as f32).abs());
    assert_close(&got, &want, "alibi");
}

#[test]
fn rope_scores_equal_rotated_dot_products() {
    let base = 500.0;
    let (_, q, k, got) = scores_of(&tiny(PositionScheme::Rope(RopeConfig { base })));
    // x'_t = x_t cos(p th_t) - x_{t+d/2} sin(p th_t); x'_{t+d/2} = x_{t+d/2} cos(p th_t) + x_t sin(p th_t)
    let rotate = |x: &[f32], p: usize| -> Vec<f32> {
        let half = D / 2;
        let mut out = vec![0f32; D];
        for t in 0..half {
            let angle = p as f64 * base.powf(-2.0 * t as f64 / D as f64);
            let (c, s) = (angle.cos() as f32, angle.sin() as f32);
            out[t] = x[t] * c - x[t + half] * s;
            out[t + half] = x[t + half] * c + x[t] * s;
        }
        out
    };
    let mut want = Vec::new();
    for h in 0..HEADS {
        for i in 0..N {
            for j in 0..N {
                let (qi, kj) = (rotate(row(&q, h, i), i), rotate(row(&k, h, j), j));
                want.push(dot(&qi, &kj) / (D as f32).sqrt());
            }
        }
    }
    assert_close(&got, &want, "rope");
}

#[test]
fn t5_scores_add_the_bucket_bias_after_the_scale() {
    let cfg = T5Config {
        num_buckets: 8,
        max_distance: 16,
    };
    let (model, q, k, got) = scores_of(&tiny(PositionScheme::T5(cfg)));
    let Some(SharedPosition::T5(t5)) = &model.encoder.rel else {
        unreachable!()
    };
    let table = vals(t5.rel_bias_table.val()); // [8 buckets][2 heads]
    // HF transformers 5.24 `T5Attention._relative_position_bucket(r, bidirectional=True, num_buckets=8,
    // max_distance=16)` for r = j - i in -6..=6, printed once with Python
    const HF: [usize; 13] = [3, 2, 2, 2, 2, 1, 0, 5, 6, 6, 6, 6, 7];
    let bucket = |i: usize, j: usize| HF[(j as i64 - i as i64 + 6) as usize];
    let want = content_plus(&q, &k, |h, i, j| table[bucket(i, j) * HEADS + h]);
    assert_close(&got, &want, "t5");
}

/// `x` `[d_in]` times a burn `Linear` (weight `[d_in, d_out]`, row-major) plus its bias.
fn linear(x: &[f32], lin: &burn::nn::Linear<B>) -> Vec<f32> {
    let w = vals(lin.weight.val());
    let d_out = w.len() / x.len();
    let b = lin.bias.as_ref().map(|b| vals(b.val()));
    (0..d_out)
        .map(|o| {
            let s: f32 = x
                .iter()
                .enumerate()
                .map(|(i, v)| v * w[i * d_out + o])
                .sum();
            s + b.as_ref().map_or(0.0, |b| b[o])
        })
        .collect()
}

#[test]
fn fire_scores_equal_the_mlp_of_the_normalised_log_distance() {
    for direction in [true, false] {
        for normaliser in [FireNormaliser::Row, FireNormaliser::Query] {
            // a threshold inside the row, so that max(L, p) takes both sides
            let cfg = FireConfig {
                mlp_width: 5,
                init_c: 0.3,
                init_threshold: 4.0,
                direction,
                normaliser,
            };
            let what = format!("fire {cfg:?}");
            let (model, q, k, got) = scores_of(&tiny(PositionScheme::Fire(cfg)));
            let Some(SharedPosition::Fire(f)) = &model.encoder.rel else {
                unreachable!()
            };
            let c = 0.3 * vals(f.log_c.val())[0].exp();
            let threshold = 4.0 * vals(f.log_threshold.val())[0].exp();
            let psi = |x: f32| (c * x + 1.0).ln();
            let bias = |h: usize, i: usize, j: usize| {
                let p = match normaliser {
                    FireNormaliser::Row => N as f32,
                    FireNormaliser::Query => i as f32,
                };
                let x = psi((i as f32 - j as f32).abs()) / (psi(threshold.max(p)) + 1e-6);
                let mut input = vec![x];
                if direction {
                    input.push((i as f32 - j as f32).signum() * (i != j) as u8 as f32);
                }
                let hidden: Vec<f32> = linear(&input, &f.mlp_in)
                    .into_iter()
                    .map(|v| v.max(0.0))
                    .collect();
                linear(&hidden, &f.mlp_out)[h]
            };
            let want = content_plus(&q, &k, bias);
            assert_close(&got, &want, &what);
        }
    }
}

/// Each scheme's scores of the token pair at (i + s, j + s) in a row equal those at (i, j) in the window of
/// the row that starts at s (no absolute positions at the input; FIRE's threshold above both lengths).
#[test]
fn every_relative_scheme_is_shift_invariant() {
    let dev = Default::default();
    for position in PositionScheme::every_kind() {
        if !position.is_relative() {
            continue;
        }
        let position = match position {
            PositionScheme::Deberta(d) => PositionScheme::Deberta(DisentangledConfig {
                max_relative_positions: 4,
                ..d
            }),
            PositionScheme::Shaw(s) => PositionScheme::Shaw(ShawConfig {
                max_relative_position: 3,
                ..s
            }),
            other => other,
        };
        let name = position.name();
        let cfg = tiny(position);
        let model = Model::<B>::new(&cfg, &dev)
            .unwrap()
            .map(&mut Randomise::default());
        let attn = &model.encoder.layer[0].attention.self_attn;
        let ids: Vec<i64> = (0..12).map(|i| (i * 7 % 29 + 1) as i64).collect();
        let (shift, window) = (3, 6);
        let scores = |tokens: &[i64]| {
            let n = tokens.len();
            let t = Tensor::<B, 2, Int>::from_data(TensorData::new(tokens.to_vec(), [1, n]), &dev);
            let x = model
                .embeddings
                .forward(t, None, Tensor::ones([1, n], &dev));
            let split = |lin: &burn::nn::Linear<B>| {
                lin.forward(x.clone())
                    .reshape([1, n, HEADS, D])
                    .swap_dims(1, 2)
            };
            let inputs = model.position_inputs(&Positions::square(n), &dev);
            attn.scores(split(&attn.query_proj), split(&attn.key_proj), &inputs)
        };
        let full = scores(&ids);
        let part = vals(scores(&ids[shift..shift + window]));
        let s = shift..shift + window;
        let full = vals(full.slice([0..1, 0..HEADS, s.clone(), s]));
        let max = full
            .iter()
            .zip(&part)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let scale = full.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(
            max < 1e-5 * (1.0 + scale),
            "{name}: changed under a shift by {max}"
        );
    }
}

/// Fails to compile when a scheme is added: give it an arm, and add it to `PositionScheme::every_kind`
/// (the test below then checks that the list and the arms agree).
fn kind_index(s: &PositionScheme) -> usize {
    match s {
        PositionScheme::Absolute(_) => 0,
        PositionScheme::Shaw(_) => 1,
        PositionScheme::Xl(_) => 2,
        PositionScheme::Deberta(_) => 3,
        PositionScheme::Alibi(_) => 4,
        PositionScheme::Rope(_) => 5,
        PositionScheme::T5(_) => 6,
        PositionScheme::Fire(_) => 7,
        PositionScheme::Nope => 8,
    }
}

/// The number of arms of [`kind_index`].
const KINDS: usize = 9;

/// A model of every scheme kind: permuting the tokens permutes the output exactly when the model has no
/// position information (nope), and changes it otherwise.
#[test]
fn every_scheme_kind_builds_and_its_positions_change_the_output() {
    let kinds = PositionScheme::every_kind();
    let mut seen: Vec<usize> = kinds.iter().map(kind_index).collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..KINDS).collect::<Vec<_>>(),
        "every_kind lists each kind once"
    );

    let dev = Default::default();
    let perm = [3usize, 0, 7, 1, 11, 5, 9, 2, 10, 4, 6, 8];
    let ids: Vec<i64> = (0..12).map(|i| (i * 7 % 29 + 1) as i64).collect();
    let permuted: Vec<i64> = perm.iter().map(|&p| ids[p]).collect();
    for position in kinds {
        let name = position.name();
        let cfg = ModelConfig {
            hidden_size: 16,
            num_hidden_layers: 2,
            intermediate_size: 32,
            ..tiny(position.clone())
        };
        let model = Model::<B>::new(&cfg, &dev)
            .unwrap()
            .map(&mut Randomise::default());
        let run = |tokens: &[i64]| {
            let t = Tensor::<B, 2, Int>::from_data(TensorData::new(tokens.to_vec(), [1, 12]), &dev);
            vals(
                model
                    .forward(&EncoderInput::unmasked(t), false)
                    .last_hidden_state,
            )
        };
        let (a, b) = (run(&ids), run(&permuted));
        // b's row r is the token a had at perm[r]
        let max = (0..12)
            .flat_map(|r| (0..16).map(move |c| (r, c)))
            .map(|(r, c)| (b[r * 16 + c] - a[perm[r] * 16 + c]).abs())
            .fold(0f32, f32::max);
        if matches!(position, PositionScheme::Nope) {
            assert!(
                max < 1e-5,
                "{name}: the no-position model saw positions ({max})"
            );
        } else {
            // FIRE's normalised distances are small at 12 tokens (threshold L = 512), so its effect is the
            // weakest; it is still two orders above the no-position model's rounding
            assert!(
                max > 1e-4,
                "{name}: positions do not change the output ({max})"
            );
        }
    }
}

#[test]
fn gradients_reach_every_parameter_of_the_new_schemes() {
    let dev = Default::default();
    let fire = |direction, normaliser| {
        PositionScheme::Fire(FireConfig {
            direction,
            normaliser,
            ..FireConfig::default()
        })
    };
    for position in [
        PositionScheme::Alibi(AlibiConfig::default()),
        PositionScheme::Rope(RopeConfig::default()),
        PositionScheme::T5(T5Config::default()),
        fire(true, FireNormaliser::Row),
        fire(false, FireNormaliser::Query),
    ] {
        let name = format!("{position:?}");
        let cfg = ModelConfig {
            vocab_size: 40,
            ..tiny(position)
        };
        let model = MlmModel::<AD>::new(&cfg, &dev).unwrap();
        let ids = Tensor::<AD, 2, Int>::random([2, 12], Distribution::Uniform(1.0, 39.0), &dev);
        let masked = MaskedPositions::new(vec![vec![1, 5, 9], vec![0, 2, 11]]).unwrap();
        let out = model.forward(&EncoderInput::unmasked(ids), &masked, false);
        let targets =
            Tensor::<AD, 1, Int>::from_data(TensorData::new(vec![3i64, 4, 5, 6, 7, 8], [6]), &dev);
        let loss = burn::nn::loss::CrossEntropyLossConfig::new()
            .init(&dev)
            .forward(out.logits.reshape([6, 40]), targets);
        let mut check = GradCheck::new(loss.backward());
        model.visit(&mut check);
        // FIRE's output bias adds one constant per head to every score of a row, which the softmax cancels:
        // its gradient is zero by construction (only rounding noise is left), so it is not asked for
        let missing: Vec<&String> = check
            .missing
            .iter()
            .filter(|m| !m.ends_with("Fire.mlp_out.bias"))
            .collect();
        assert!(missing.is_empty(), "{name}: no gradient for {:?}", missing);
        assert!(check.total > 10, "{name}: only {} parameters", check.total);
    }
}

/// The core's forward pass feeds the softmax exactly the scores of [`SelfAttention::scores`] (plus the
/// mask), for every scheme kind: the hooks are called once, in one order.
#[test]
fn the_forward_pass_softmaxes_the_scores() {
    let dev = Default::default();
    for position in PositionScheme::every_kind() {
        let name = position.name();
        let model = Model::<B>::new(&tiny(position), &dev)
            .unwrap()
            .map(&mut Randomise::default());
        let attn = &model.encoder.layer[0].attention.self_attn;
        let x = Tensor::<B, 3>::random([2, N, HEADS * D], Distribution::Normal(0.0, 1.0), &dev);
        let inputs = model.position_inputs(&Positions::square(N), &dev);
        let mask = Tensor::<B, 4>::zeros([2, HEADS, N, N], &dev);
        let (_, probs) = attn.forward(x.clone(), x.clone(), mask, &inputs, true);
        let split = |lin: &burn::nn::Linear<B>| {
            lin.forward(x.clone())
                .reshape([2, N, HEADS, D])
                .swap_dims(1, 2)
        };
        let scores = attn.scores(split(&attn.query_proj), split(&attn.key_proj), &inputs);
        let want = vals(burn::tensor::activation::softmax(scores, 3));
        assert_close(&vals(probs.unwrap()), &want, name);
    }
}
