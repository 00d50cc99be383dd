//! The fused operations against their decomposed reference: forward values and the gradient of every input
//! at 1e-5 (f32), on odd shapes (one row, widths that are not a multiple of the SIMD width, more rows than
//! one parallel block), with masked keys; a finite-difference check of the fused LayerNorm's
//! gradient; and a check that the flex backends really take the kernel path.

use ablate_model::fused::{FusedOps, Path, path_of, reference};
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor, TensorData};

type AD = Autodiff<Flex>;

const SHAPES: [[usize; 2]; 5] = [[1, 7], [3, 13], [65, 33], [130, 256], [2, 1]];

fn vals<const D: usize, B: burn::tensor::backend::Backend>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{what}[{i}]: fused {g} vs reference {w}"
        );
    }
}

/// The backend's random generator is one per process: a test that seeds it and then draws must not have
/// another test's draws in between, so the tests of this file take turns.
fn rng_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn the_flex_backends_take_the_kernel_path() {
    let _turn = rng_turn();
    assert_eq!(path_of::<Flex>(), Path::Flex);
    assert_eq!(path_of::<AD>(), Path::FlexAutodiff);
    assert_eq!(path_of::<Autodiff<AD>>(), Path::Reference);
}

#[test]
fn layer_norm_values_and_gradients_match_the_reference() {
    let _turn = rng_turn();
    let dev = Default::default();
    for [rows, d] in SHAPES {
        let x = Tensor::<Flex, 2>::random([rows, d], Distribution::Normal(0.5, 2.0), &dev);
        let g = Tensor::<Flex, 1>::random([d], Distribution::Normal(1.0, 0.5), &dev);
        let b = Tensor::<Flex, 1>::random([d], Distribution::Normal(0.0, 0.5), &dev);
        let w = Tensor::<Flex, 2>::random([rows, d], Distribution::Normal(0.0, 1.0), &dev);
        let eps = 1e-7;
        // plain flex forward
        let what = format!("[{rows}, {d}]");
        close(
            &vals(Flex::fused_layer_norm(x.clone(), g.clone(), b.clone(), eps)),
            &vals(reference::layer_norm(x.clone(), g.clone(), b.clone(), eps)),
            &format!("{what} forward"),
        );
        // autodiff: values and gradients of x, gamma, beta
        let run = |fused: bool| {
            let xa = Tensor::<AD, 2>::from_inner(x.clone()).require_grad();
            let ga = Tensor::<AD, 1>::from_inner(g.clone()).require_grad();
            let ba = Tensor::<AD, 1>::from_inner(b.clone()).require_grad();
            let y = if fused {
                AD::fused_layer_norm(xa.clone(), ga.clone(), ba.clone(), eps)
            } else {
                reference::layer_norm(xa.clone(), ga.clone(), ba.clone(), eps)
            };
            let grads = (y.clone() * Tensor::from_inner(w.clone())).sum().backward();
            [
                vals(y.inner()),
                vals(xa.grad(&grads).unwrap()),
                vals(ga.grad(&grads).unwrap()),
                vals(ba.grad(&grads).unwrap()),
            ]
        };
        let (f, r) = (run(true), run(false));
        for (i, name) in ["y", "dx", "dgamma", "dbeta"].iter().enumerate() {
            close(&f[i], &r[i], &format!("{what} {name}"));
        }
    }
}

#[test]
fn layer_norm_gradient_matches_finite_differences() {
    let _turn = rng_turn();
    let dev = Default::default();
    let (rows, d) = (3, 5);
    let x: Vec<f64> = (0..rows * d)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.3)
        .collect();
    let g: Vec<f32> = (0..d).map(|i| 0.5 + i as f32 * 0.25).collect();
    let w: Vec<f32> = (0..rows * d)
        .map(|i| ((i * 13 % 7) as f32 - 3.0) * 0.5)
        .collect();
    let objective = |x: &[f64]| -> f64 {
        // the same objective in f64 by hand: sum(w * LN(x))
        let mut total = 0.0;
        for r in 0..rows {
            let row = &x[r * d..(r + 1) * d];
            let mean = row.iter().sum::<f64>() / d as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            for i in 0..d {
                let y = (row[i] - mean) / (var + 1e-7).sqrt() * g[i] as f64;
                total += y * w[r * d + i] as f64;
            }
        }
        total
    };
    let xa = Tensor::<AD, 2>::from_data(
        TensorData::new(x.iter().map(|&v| v as f32).collect::<Vec<_>>(), [rows, d]),
        &dev,
    )
    .require_grad();
    let ga = Tensor::<AD, 1>::from_data(TensorData::new(g.clone(), [d]), &dev);
    let ba = Tensor::<AD, 1>::zeros([d], &dev);
    let wa = Tensor::<AD, 2>::from_data(TensorData::new(w.clone(), [rows, d]), &dev);
    let grads = (AD::fused_layer_norm(xa.clone(), ga, ba, 1e-7) * wa)
        .sum()
        .backward();
    let dx = vals(xa.grad(&grads).unwrap());
    for (k, got) in dx.iter().enumerate() {
        let h = 1e-5;
        let (mut up, mut down) = (x.clone(), x.clone());
        up[k] += h;
        down[k] -= h;
        let want = (objective(&up) - objective(&down)) / (2.0 * h);
        assert!(
            (*got as f64 - want).abs() <= 1e-3 * (1.0 + want.abs()),
            "dx[{k}]: {got} vs finite difference {want}"
        );
    }
}

/// Dropout output of `x` after seeding the backend with `seed`, in a rayon pool of `threads` threads.
fn dropout_in_pool(x: &Tensor<Flex, 2>, seed: u64, threads: usize) -> Vec<f32> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        <AD as burn::tensor::backend::Backend>::seed(&Default::default(), seed);
        vals(AD::fused_dropout(Tensor::<AD, 2>::from_inner(x.clone()), 0.1).inner())
    })
}

#[test]
fn dropout_masks_are_seeded_thread_independent_and_reused_by_the_backward() {
    let _turn = rng_turn();
    let dev = Default::default();
    let (rows, d) = (300, 257);
    let x = Tensor::<Flex, 2>::random([rows, d], Distribution::Uniform(0.5, 1.5), &dev);
    let one = dropout_in_pool(&x, 7, 1);
    assert_eq!(
        one,
        dropout_in_pool(&x, 7, 2),
        "the mask depends on the thread count"
    );
    assert_ne!(
        one,
        dropout_in_pool(&x, 8, 1),
        "the seed does not change the mask"
    );
    // keep rate within 4 sigma of 0.9; kept values scaled by 1 / 0.9
    let xs = vals(x.clone());
    let n = (rows * d) as f64;
    let kept = one.iter().filter(|&&v| v != 0.0).count() as f64;
    assert!(
        (kept - 0.9 * n).abs() < 4.0 * (n * 0.9 * 0.1).sqrt(),
        "kept {kept} of {n}"
    );
    for (y, x) in one.iter().zip(&xs) {
        assert!(*y == 0.0 || (y - x / 0.9).abs() < 1e-6);
    }
    // the backward applies the forward's mask
    <AD as burn::tensor::backend::Backend>::seed(&dev, 9);
    let xa = Tensor::<AD, 2>::from_inner(x.clone()).require_grad();
    let y = AD::fused_dropout(xa.clone(), 0.1);
    let w = Tensor::<Flex, 2>::random([rows, d], Distribution::Normal(0.0, 1.0), &dev);
    let grads = (y.clone() * Tensor::from_inner(w.clone())).sum().backward();
    let (ys, ws, dx) = (vals(y.inner()), vals(w), vals(xa.grad(&grads).unwrap()));
    for i in 0..ys.len() {
        let want = if ys[i] == 0.0 { 0.0 } else { ws[i] / 0.9 };
        assert!(
            (dx[i] - want).abs() < 1e-6,
            "element {i}: {} vs {want}",
            dx[i]
        );
    }
}

#[test]
fn attention_probabilities_match_the_reference_with_dropout_off() {
    let _turn = rng_turn();
    let dev = Default::default();
    for [rows, d] in SHAPES {
        let s = Tensor::<Flex, 2>::random([rows, d], Distribution::Normal(0.0, 3.0), &dev);
        let mut a = Tensor::<Flex, 2>::random([rows, d], Distribution::Normal(0.0, 1.0), &dev);
        if d > 2 {
            a = a.slice_assign([0..rows, 1..2], Tensor::full([rows, 1], -1e30, &dev));
        }
        let w = Tensor::<Flex, 2>::random([rows, d], Distribution::Normal(0.0, 1.0), &dev);
        let what = format!("[{rows}, {d}]");
        let inv = 1.0 / 24f64.sqrt();
        close(
            &vals(Flex::fused_attention_probs(s.clone(), a.clone(), inv, 0.0)),
            &vals(reference::attention_probs(s.clone(), a.clone(), inv, 0.0)),
            &format!("{what} forward"),
        );
        let run = |fused: bool| {
            let sa = Tensor::<AD, 2>::from_inner(s.clone()).require_grad();
            let aa = Tensor::<AD, 2>::from_inner(a.clone()).require_grad();
            let y = if fused {
                AD::fused_attention_probs(sa.clone(), aa.clone(), inv, 0.0)
            } else {
                reference::attention_probs(sa.clone(), aa.clone(), inv, 0.0)
            };
            let grads = (y.clone() * Tensor::from_inner(w.clone())).sum().backward();
            [
                vals(y.inner()),
                vals(sa.grad(&grads).unwrap()),
                vals(aa.grad(&grads).unwrap()),
            ]
        };
        let (f, r) = (run(true), run(false));
        for (i, name) in ["p", "d_scores", "d_additive"].iter().enumerate() {
            close(&f[i], &r[i], &format!("{what} {name}"));
        }
    }
}

#[test]
fn attention_dropout_backward_uses_the_forward_mask() {
    let _turn = rng_turn();
    let dev = Default::default();
    let (rows, d) = (96, 40);
    let s = Tensor::<Flex, 2>::random([rows, d], Distribution::Normal(0.0, 1.0), &dev);
    let a = Tensor::<Flex, 2>::zeros([rows, d], &dev);
    <AD as burn::tensor::backend::Backend>::seed(&dev, 3);
    let sa = Tensor::<AD, 2>::from_inner(s.clone()).require_grad();
    let y = AD::fused_attention_probs(sa.clone(), Tensor::from_inner(a.clone()), 1.0, 0.2);
    let w = Tensor::<Flex, 2>::random([rows, d], Distribution::Normal(0.0, 1.0), &dev);
    let grads = (y.clone() * Tensor::from_inner(w.clone())).sum().backward();
    let got = vals(sa.grad(&grads).unwrap());
    // the same gradient by hand: p = softmax(s); mask m from y; g = w * m / 0.8; ds = p (g - sum(g p))
    let (p, ys, ws) = (vals(reference::softmax(s)), vals(y.inner()), vals(w));
    let dropped = ys.iter().filter(|&&v| v == 0.0).count() as f64 / ys.len() as f64;
    assert!((dropped - 0.2).abs() < 0.05, "dropped share {dropped}");
    for r in 0..rows {
        let row = r * d..(r + 1) * d;
        let g: Vec<f32> = row
            .clone()
            .map(|i| if ys[i] == 0.0 { 0.0 } else { ws[i] / 0.8 })
            .collect();
        let dot: f32 = row.clone().zip(&g).map(|(i, gi)| p[i] * gi).sum();
        for (k, i) in row.enumerate() {
            let want = p[i] * (g[k] - dot);
            assert!(
                (got[i] - want).abs() < 1e-5,
                "[{r}, {k}]: {} vs {want}",
                got[i]
            );
        }
    }
}

/// The small model of the whole-step comparison, dropout off.
fn step_config(preset: ablate_model::Preset) -> ablate_model::ModelConfig {
    ablate_model::ModelConfig {
        vocab_size: 50,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 24,
        max_position_embeddings: 16,
        hidden_dropout_prob: 0.0,
        attention_probs_dropout_prob: 0.0,
        ..preset.config()
    }
}

fn training_step<B2>(preset: ablate_model::Preset, weights: &[u8]) -> (f32, Vec<Vec<f32>>)
where
    B2: burn::tensor::backend::AutodiffBackend,
{
    use ablate_model::{EncoderInput, MaskedPositions, MlmModel};
    use burn::module::{Module, ModuleVisitor, Param};
    struct Collect<'a, B3: burn::tensor::backend::AutodiffBackend>(
        &'a <B3 as burn::tensor::backend::AutodiffBackend>::Gradients,
        Vec<Vec<f32>>,
    );
    impl<B3: burn::tensor::backend::AutodiffBackend> ModuleVisitor<B3> for Collect<'_, B3> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B3, D>>) {
            if let Some(g) = p.val().grad(self.0) {
                self.1
                    .push(g.into_data().convert::<f32>().to_vec().unwrap());
            }
        }
    }
    use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
    let dev = Default::default();
    let cfg = step_config(preset);
    // the same weights on both backends: `weights` are one model's record bytes
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let record = recorder.load(weights.to_vec(), &dev).unwrap();
    let model = MlmModel::<B2>::new(&cfg, &dev).unwrap().load_record(record);
    let ids: Vec<i64> = (0..22).map(|i| (i * 7 % 49 + 1) as i64).collect();
    let input = EncoderInput::unmasked(Tensor::from_data(TensorData::new(ids, [2, 11]), &dev));
    let masked = MaskedPositions::new(vec![vec![1, 4, 9], vec![0, 3, 10]]).unwrap();
    let logits = model.forward(&input, &masked, false).logits;
    let n = logits.shape().num_elements();
    let w: Vec<f32> = (0..n).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
    let w = Tensor::<B2, 3>::from_data(TensorData::new(w, logits.shape()), &dev);
    let loss = (logits * w).sum();
    let value = vals(loss.clone().inner())[0];
    let grads = loss.backward();
    let mut c = Collect::<B2>(&grads, Vec::new());
    model.visit(&mut c);
    (value, c.1)
}

#[test]
fn a_whole_training_step_fused_equals_the_decomposed_one() {
    let _turn = rng_turn();
    use burn::backend::autodiff::checkpoint::strategy::BalancedCheckpointing;
    type Plain = Autodiff<Flex, BalancedCheckpointing>; // not the kernel path: the reference ops
    assert_eq!(path_of::<Plain>(), Path::Reference);
    for preset in [
        ablate_model::Preset::Bert,
        ablate_model::Preset::DebertaNoEmd,
        ablate_model::Preset::Deberta,
    ] {
        use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
        let cfg = step_config(preset);
        let model = ablate_model::MlmModel::<Flex>::new(&cfg, &Default::default()).unwrap();
        let weights = BinBytesRecorder::<FullPrecisionSettings>::default()
            .record(burn::module::Module::into_record(model), ())
            .unwrap();
        let (loss_f, grads_f) = training_step::<AD>(preset, &weights);
        let (loss_r, grads_r) = training_step::<Plain>(preset, &weights);
        assert!(
            (loss_f - loss_r).abs() <= 1e-4 * (1.0 + loss_r.abs()),
            "{preset:?}: {loss_f} vs {loss_r}"
        );
        assert_eq!(
            grads_f.len(),
            grads_r.len(),
            "{preset:?}: parameters with a gradient"
        );
        for (i, (f, r)) in grads_f.iter().zip(&grads_r).enumerate() {
            for (a, b) in f.iter().zip(r) {
                assert!(
                    (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                    "{preset:?} parameter {i}: {a} vs {b}"
                );
            }
        }
    }
}
