//! Equation tests: each scheme's score terms computed by explicit loops over (i, j) equal the vectorised
//! ones; forward + backward reaches every parameter; relative-only models are shift-invariant in c2p/p2c;
//! the gathers' gradients agree with finite differences.

use ablate_model::position::relative::Positions;
use ablate_model::position::{
    DisentangledConfig, LayerPosition, P2cIndex, PosAttType, PositionInputs, PositionScheme,
    SharedPosition, ShawConfig, XlConfig,
};
use ablate_model::{EncoderInput, MaskedPositions, MlmModel, Model, ModelConfig, Preset};
use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor, TensorData};

mod common;
use common::{AD, B, GradCheck, vals};

const N: usize = 7;

fn tiny(position: PositionScheme) -> ModelConfig {
    ModelConfig {
        vocab_size: 31,
        hidden_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 16,
        hidden_dropout_prob: 0.0,
        attention_probs_dropout_prob: 0.0,
        max_position_embeddings: 32,
        position,
        ..ModelConfig::default()
    }
}

/// q and k `[1, H, N, d]` with random values, and the layer's vectorised terms.
fn setup(cfg: &ModelConfig) -> (Model<B>, Tensor<B, 4>, Tensor<B, 4>, PositionInputs<B>) {
    let dev = Default::default();
    let model = Model::<B>::new(cfg, &dev).unwrap();
    let shape = [1, cfg.num_attention_heads, N, cfg.head_size()];
    let q = Tensor::random(shape, Distribution::Normal(0.0, 1.0), &dev);
    let k = Tensor::random(shape, Distribution::Normal(0.0, 1.0), &dev);
    let inputs = model.position_inputs(&Positions::square(N), &dev);
    (model, q, k, inputs)
}

fn at(v: &[f32], h: usize, i: usize, d: usize, n: usize, dh: usize) -> &[f32] {
    let s = ((h * n) + i) * dh;
    let _ = d;
    &v[s..s + dh]
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

/// Table `[R, H*d]` projected by `lin`, as `[R][H][d]` values.
fn project(lin: &burn::nn::Linear<B>, table: Tensor<B, 2>) -> Vec<f32> {
    vals(lin.forward(table))
}

/// HF `make_log_bucket_position(r, bucket_size = 8, max_position = 16)` for |r| <= 6, worked by hand:
/// mid = 4, |r| <= 4 kept; |r| = 5: ceil(ln(5/4) / ln(15/4) * 3) + 4 = ceil(0.506) + 4 = 5; |r| = 6:
/// ceil(ln(6/4) / ln(15/4) * 3) + 4 = ceil(0.920) + 4 = 5.
fn hf_bucket_8_16(r: i64) -> i64 {
    const TABLE: [i64; 13] = [-5, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 5];
    assert!((-6..=6).contains(&r), "hand table covers |r| <= 6 only");
    TABLE[(r + 6) as usize]
}

fn deberta_case(cfg_d: DisentangledConfig) {
    let cfg = tiny(PositionScheme::Deberta(cfg_d.clone()));
    let (model, q, k, inputs) = setup(&cfg);
    let attn = &model.encoder.layer[0].attention.self_attn;
    let got = vals(attn.hooks(&inputs).score_terms(&q, &k).unwrap());
    let table = match &model.encoder.rel {
        Some(SharedPosition::Deberta(t)) => t.table(),
        _ => unreachable!(),
    };
    let Some(LayerPosition::Deberta(terms)) = &attn.rel else {
        unreachable!()
    };
    let key_lin = terms.pos_key_proj.as_ref().unwrap_or(&attn.key_proj);
    let query_lin = terms.pos_query_proj.as_ref().unwrap_or(&attn.query_proj);
    let kr = project(key_lin, table.clone());
    let qr = project(query_lin, table);
    let (h_n, dh) = (cfg.num_attention_heads, cfg.head_size());
    let (qv, kv) = (vals(q), vals(k));
    let span = cfg_d.att_span() as i64;
    // delta by the equations: (bucketed) i - j, shifted by the span, clamped to [0, 2 span).
    let delta = |i: i64, j: i64| {
        let r = if cfg_d.position_buckets > 0 {
            hf_bucket_8_16(i - j)
        } else {
            i - j
        };
        (r + span).clamp(0, 2 * span - 1) as usize
    };
    let band = match &inputs {
        PositionInputs::Deberta(x) => x.c2p_band.is_some(),
        _ => unreachable!(),
    };
    let plain_band = cfg_d.position_buckets == 0 && cfg_d.max_relative_positions >= N;
    assert_eq!(band, plain_band, "band path taken for {cfg_d:?}");
    let row =
        |t: &[f32], r: usize, h: usize| t[(r * h_n + h) * dh..(r * h_n + h + 1) * dh].to_vec();
    let mut want = vec![0f32; h_n * N * N];
    for h in 0..h_n {
        for i in 0..N {
            for j in 0..N {
                let (qi, kj) = (at(&qv, h, i, 0, N, dh), at(&kv, h, j, 0, N, dh));
                let (ii, jj) = (i as i64, j as i64);
                let mut s = 0.0;
                if cfg_d.has(PosAttType::C2p) {
                    s += dot(qi, &row(&kr, delta(ii, jj), h));
                }
                if cfg_d.has(PosAttType::P2c) {
                    let d = match cfg_d.p2c_index {
                        P2cIndex::Code => delta(ii, jj),
                        P2cIndex::Paper => delta(jj, ii),
                    };
                    s += dot(kj, &row(&qr, d, h));
                }
                if cfg_d.has(PosAttType::P2p) {
                    let d = delta(ii, jj);
                    s += dot(&row(&qr, d, h), &row(&kr, d, h));
                }
                want[(h * N + i) * N + j] = s;
            }
        }
    }
    assert_close(&got, &want, &format!("{cfg_d:?}"));
}

#[test]
fn deberta_terms_equal_explicit_loops() {
    use PosAttType::*;
    let base = DisentangledConfig {
        max_relative_positions: 3,
        ..DisentangledConfig::default()
    };
    for terms in [vec![C2p, P2c], vec![C2p], vec![P2c], vec![C2p, P2c, P2p]] {
        deberta_case(DisentangledConfig {
            pos_att_type: terms,
            ..base.clone()
        });
    }
    deberta_case(DisentangledConfig {
        p2c_index: P2cIndex::Paper,
        ..base.clone()
    });
    deberta_case(DisentangledConfig {
        share_att_key: true,
        norm_rel_ebd: true,
        ..base.clone()
    });
    deberta_case(DisentangledConfig {
        max_relative_positions: 16,
        position_buckets: 8,
        pos_att_type: vec![C2p, P2c, P2p],
        ..base.clone()
    });
    // Rows within the span: the band fast path (every shipped experiment takes it).
    let band = DisentangledConfig {
        max_relative_positions: N + 1,
        ..base
    };
    for terms in [vec![C2p, P2c], vec![C2p], vec![P2c], vec![C2p, P2c, P2p]] {
        deberta_case(DisentangledConfig {
            pos_att_type: terms,
            ..band.clone()
        });
    }
    deberta_case(DisentangledConfig {
        p2c_index: P2cIndex::Paper,
        ..band.clone()
    });
    deberta_case(DisentangledConfig {
        share_att_key: true,
        norm_rel_ebd: true,
        max_relative_positions: N,
        ..band
    });
}

#[test]
fn shaw_terms_equal_explicit_loops() {
    // Clipped (k < N: the whole table) and unclipped (k > N: only the rows N tokens reach).
    for k_clip in [2, 3 * N] {
        shaw_terms_at_clip(k_clip);
    }
}

fn shaw_terms_at_clip(k_clip: usize) {
    let cfg = tiny(PositionScheme::Shaw(ShawConfig {
        max_relative_position: k_clip,
        value_term: true,
    }));
    let (model, q, k, inputs) = setup(&cfg);
    let attn = &model.encoder.layer[0].attention.self_attn;
    let got = vals(attn.hooks(&inputs).score_terms(&q, &k).unwrap());
    let Some(LayerPosition::Shaw(t)) = &attn.rel else {
        unreachable!()
    };
    let ak = vals(t.rel_key.val());
    let av = vals(t.rel_value.as_ref().unwrap().val());
    let (h_n, dh) = (cfg.num_attention_heads, cfg.head_size());
    let qv = vals(q);
    let kc = k_clip as i64;
    let idx = |i: usize, j: usize| ((j as i64 - i as i64).clamp(-kc, kc) + kc) as usize;
    let mut want = vec![0f32; h_n * N * N];
    for h in 0..h_n {
        for i in 0..N {
            for j in 0..N {
                want[(h * N + i) * N + j] = dot(
                    at(&qv, h, i, 0, N, dh),
                    &ak[idx(i, j) * dh..(idx(i, j) + 1) * dh],
                );
            }
        }
    }
    assert_close(&got, &want, "shaw key term");

    // Value term: sum_j p_ij aV[idx(i, j)] for arbitrary probabilities.
    let dev = Default::default();
    let probs = Tensor::<B, 4>::random([1, h_n, N, N], Distribution::Uniform(0.0, 1.0), &dev);
    let PositionInputs::Shaw(index) = &inputs else {
        unreachable!()
    };
    let got = vals(t.value_term(&probs, index).unwrap());
    let pv = vals(probs);
    let mut want = vec![0f32; h_n * N * dh];
    for h in 0..h_n {
        for i in 0..N {
            for j in 0..N {
                for d in 0..dh {
                    want[(h * N + i) * dh + d] += pv[(h * N + i) * N + j] * av[idx(i, j) * dh + d];
                }
            }
        }
    }
    assert_close(&got, &want, "shaw value term");
}

#[test]
fn xl_terms_equal_explicit_loops() {
    let cfg = tiny(PositionScheme::Xl(XlConfig { clamp_len: None }));
    let (mut model, q, k, _) = setup(&cfg);
    let dev = Default::default();
    // Non-zero u and v so their terms count.
    if let Some(SharedPosition::Xl(s)) = &mut model.encoder.rel {
        s.r_w_bias =
            Param::from_tensor(Tensor::random([2, 4], Distribution::Normal(0.0, 1.0), &dev));
        s.r_r_bias =
            Param::from_tensor(Tensor::random([2, 4], Distribution::Normal(0.0, 1.0), &dev));
    }
    let inputs = model.position_inputs(&Positions::square(N), &dev);
    let attn = &model.encoder.layer[0].attention.self_attn;
    let got = vals(attn.hooks(&inputs).score_terms(&q, &k).unwrap());
    let Some(LayerPosition::Xl(t)) = &attn.rel else {
        unreachable!()
    };
    let Some(SharedPosition::Xl(s)) = &model.encoder.rel else {
        unreachable!()
    };
    let (u, v) = (vals(s.r_w_bias.val()), vals(s.r_r_bias.val()));
    let (h_n, dh) = (cfg.num_attention_heads, cfg.head_size());
    let (qv, kv) = (vals(q), vals(k));
    let mut want = vec![0f32; h_n * N * N];
    for i in 0..N {
        for j in 0..N {
            let r = i as i64 - j as i64;
            let sin = ablate_model::position::absolute::sinusoid_table::<B>(
                [r].into_iter(),
                cfg.hidden_size,
                &dev,
            );
            let wr = vals(t.r_net.forward(sin)); // [H*d]
            for h in 0..h_n {
                let (qi, kj) = (at(&qv, h, i, 0, N, dh), at(&kv, h, j, 0, N, dh));
                let qv_i: Vec<f32> = qi
                    .iter()
                    .zip(&v[h * dh..(h + 1) * dh])
                    .map(|(a, b)| a + b)
                    .collect();
                want[(h * N + i) * N + j] =
                    dot(&u[h * dh..(h + 1) * dh], kj) + dot(&qv_i, &wr[h * dh..(h + 1) * dh]);
            }
        }
    }
    assert_close(&got, &want, "xl terms");
}

#[test]
fn every_preset_trains_and_every_parameter_gets_a_gradient() {
    let dev = Default::default();
    for preset in Preset::ALL {
        let mut cfg = preset.config();
        cfg.vocab_size = 40;
        cfg.hidden_size = 16;
        cfg.num_hidden_layers = 2;
        cfg.num_attention_heads = 2;
        cfg.intermediate_size = 32;
        if let PositionScheme::Deberta(d) = &mut cfg.position {
            d.max_relative_positions = if d.position_buckets > 0 { 16 } else { 4 };
            if d.position_buckets > 0 {
                d.position_buckets = 6;
            }
        }
        if let PositionScheme::Shaw(s) = &mut cfg.position {
            s.max_relative_position = 3;
        }
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
        assert!(
            check.total > 10,
            "{preset:?}: only {} parameters",
            check.total
        );
        // FIRE's output bias adds one constant per head to every score of a row, which the softmax ignores:
        // its gradient is zero up to rounding (now and then exactly zero), so it cannot be required here.
        let missing: Vec<&String> = (check.missing.iter())
            .filter(|p| !p.ends_with(".Fire.mlp_out.bias"))
            .collect();
        assert!(
            missing.is_empty(),
            "{preset:?}: no gradient for {missing:?}"
        );
    }
}

/// c2p + p2c terms of the token pair at (i + s, j + s) in a sequence vs (i, j) in a shifted one.
#[test]
fn relative_terms_are_shift_invariant_and_absolute_inputs_are_not() {
    let dev = Default::default();
    for position_biased_input in [false, true] {
        let mut cfg = tiny(PositionScheme::Deberta(DisentangledConfig {
            max_relative_positions: 4,
            ..DisentangledConfig::default()
        }));
        cfg.position_biased_input = position_biased_input;
        let model = Model::<B>::new(&cfg, &dev).unwrap();
        let ids: Vec<i64> = (0..12).map(|i| (i * 7 % 29 + 1) as i64).collect();
        let shift = 3;
        let window = 6;
        let terms = |tokens: &[i64]| {
            let t = Tensor::<B, 2, Int>::from_data(
                TensorData::new(tokens.to_vec(), [1, tokens.len()]),
                &dev,
            );
            let x = model
                .embeddings
                .forward(t, None, Tensor::ones([1, tokens.len()], &dev));
            let attn = &model.encoder.layer[0].attention.self_attn;
            let split = |lin: &burn::nn::Linear<B>| {
                lin.forward(x.clone())
                    .reshape([1, tokens.len(), 2, 4])
                    .swap_dims(1, 2)
            };
            let (q, k) = (split(&attn.query_proj), split(&attn.key_proj));
            let inputs = model.position_inputs(&Positions::square(tokens.len()), &dev);
            attn.hooks(&inputs).score_terms(&q, &k).unwrap()
        };
        let full = terms(&ids);
        let shifted = terms(&ids[shift..shift + window]);
        let a = vals(full.slice([0..1, 0..2, shift..shift + window, shift..shift + window]));
        let b = vals(shifted);
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs()));
        if position_biased_input {
            assert!(
                max > 1e-2 * scale,
                "absolute positions should change the terms (max diff {max}, terms up to {scale})"
            );
        } else {
            assert!(
                max < 1e-5 * (1.0 + scale),
                "relative-only terms changed under a shift (max diff {max})"
            );
        }
    }
}

/// Gradient of sum(w * gather(c2p)) w.r.t. the relative table against central finite differences.
#[test]
fn gather_gradients_match_finite_differences() {
    let dev = Default::default();
    let cfg_d = DisentangledConfig {
        max_relative_positions: 3,
        pos_att_type: vec![PosAttType::C2p, PosAttType::P2c, PosAttType::P2p],
        ..DisentangledConfig::default()
    };
    let mut cfg = tiny(PositionScheme::Deberta(cfg_d));
    cfg.layer_norm_eps = 1e-5;
    let model_ad = Model::<AD>::new(&cfg, &dev).unwrap();
    let model_b: Model<B> = burn::module::AutodiffModule::valid(&model_ad);
    let shape = [1, 2, 5, 4];
    let q = Tensor::<B, 4>::random(shape, Distribution::Normal(0.0, 1.0), &dev);
    let k = Tensor::<B, 4>::random(shape, Distribution::Normal(0.0, 1.0), &dev);
    let w = Tensor::<B, 4>::random([1, 2, 5, 5], Distribution::Normal(0.0, 1.0), &dev);
    let table0 = match &model_b.encoder.rel {
        Some(SharedPosition::Deberta(t)) => t.rel_embeddings.weight.val(),
        _ => unreachable!(),
    };
    fn objective<BB: Backend>(
        model: &Model<BB>,
        table: Tensor<BB, 2>,
        q: Tensor<BB, 4>,
        k: Tensor<BB, 4>,
        w: Tensor<BB, 4>,
    ) -> Tensor<BB, 1> {
        let inputs = PositionInputs::Deberta(
            ablate_model::position::disentangled::DisentangledInputs::new(
                match &model.config.position {
                    PositionScheme::Deberta(c) => c,
                    _ => unreachable!(),
                },
                table,
                &Positions::square(5),
            ),
        );
        let attn = &model.encoder.layer[0].attention.self_attn;
        (attn.hooks(&inputs).score_terms(&q, &k).unwrap() * w).sum()
    }
    let table_ad = Tensor::<AD, 2>::from_inner(table0.clone()).require_grad();
    let loss = objective(
        &model_ad,
        table_ad.clone(),
        Tensor::from_inner(q.clone()),
        Tensor::from_inner(k.clone()),
        Tensor::from_inner(w.clone()),
    );
    let grads = loss.backward();
    let analytic = vals(table_ad.grad(&grads).unwrap());
    let base = vals(table0.clone());
    let dims = table0.dims();
    let eps = 1e-2f32;
    for idx in [0usize, 3, 9, 17, 30, 41] {
        let mut plus = base.clone();
        plus[idx] += eps;
        let mut minus = base.clone();
        minus[idx] -= eps;
        let f = |v: Vec<f32>| {
            let t = Tensor::<B, 2>::from_data(TensorData::new(v, dims), &dev);
            objective(&model_b, t, q.clone(), k.clone(), w.clone()).into_scalar()
        };
        let numeric = (f(plus) - f(minus)) / (2.0 * eps);
        assert!(
            (numeric - analytic[idx]).abs() <= 2e-2 * (1.0 + numeric.abs()),
            "table[{idx}]: finite difference {numeric} vs autodiff {}",
            analytic[idx]
        );
    }
}
