//! The fused linear layer (`act(x w + b)`, identity or exact GELU) against burn's decomposed form: values and
//! the gradients of `x`, `w` and `b` at 1e-5 (f32) on odd shapes (one row, widths that are not a multiple of
//! the SIMD width, a non-contiguous input, a size that takes the threaded gemm), and a finite-difference
//! check of every gradient computed by hand in f64.

use ablate_model::fused::{Act, FusedOps, reference};
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};

type AD = Autodiff<Flex>;

/// `[rows, d_in, d_out]`; the last takes gemm's threaded path (over 192^3 multiply-adds).
const SHAPES: [[usize; 3]; 5] = [
    [1, 7, 5],
    [3, 13, 17],
    [65, 33, 9],
    [2, 1, 3],
    [300, 200, 250],
];

fn vals<const D: usize, B: burn::tensor::backend::Backend>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

/// Deterministic values in about [-scale, scale].
fn fill(n: usize, salt: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let h = (i.wrapping_mul(2_654_435_761).wrapping_add(salt * 97_531)) % 10_007;
            (h as f32 / 10_007.0 * 2.0 - 1.0) * scale
        })
        .collect()
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

fn tensor<B: burn::tensor::backend::Backend, const D: usize>(
    v: Vec<f32>,
    shape: [usize; D],
) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

#[test]
fn linear_values_and_gradients_match_the_reference() {
    for act in [Act::Identity, Act::Gelu] {
        for (s, [rows, d_in, d_out]) in SHAPES.into_iter().enumerate() {
            let what = format!("{act:?} [{rows}, {d_in}] x [{d_in}, {d_out}]");
            // x is built transposed, so the kernel also meets a non-contiguous input
            let xt = fill(rows * d_in, s, 2.0);
            let w = fill(d_in * d_out, s + 10, 0.3);
            let b = fill(d_out, s + 20, 0.5);
            let dy = fill(rows * d_out, s + 30, 1.0);
            // plain flex forward
            let x = tensor::<Flex, 2>(xt.clone(), [d_in, rows]).transpose();
            close(
                &vals(Flex::fused_linear(
                    x.clone(),
                    tensor(w.clone(), [d_in, d_out]),
                    tensor(b.clone(), [d_out]),
                    act,
                )),
                &vals(reference::linear(
                    x,
                    tensor(w.clone(), [d_in, d_out]),
                    tensor(b.clone(), [d_out]),
                    act,
                )),
                &format!("{what} forward"),
            );
            let run = |fused: bool| {
                let x = tensor::<AD, 2>(xt.clone(), [d_in, rows]).require_grad();
                let wa = tensor::<AD, 2>(w.clone(), [d_in, d_out]).require_grad();
                let ba = tensor::<AD, 1>(b.clone(), [d_out]).require_grad();
                let xin = x.clone().transpose();
                let y = if fused {
                    AD::fused_linear(xin, wa.clone(), ba.clone(), act)
                } else {
                    reference::linear(xin, wa.clone(), ba.clone(), act)
                };
                let grads = (y.clone() * tensor::<AD, 2>(dy.clone(), [rows, d_out]))
                    .sum()
                    .backward();
                [
                    vals(y.inner()),
                    vals(x.grad(&grads).unwrap()),
                    vals(wa.grad(&grads).unwrap()),
                    vals(ba.grad(&grads).unwrap()),
                ]
            };
            let (f, r) = (run(true), run(false));
            for (i, name) in ["y", "dx", "dw", "db"].iter().enumerate() {
                close(&f[i], &r[i], &format!("{what} {name}"));
            }
        }
    }
}

/// `sum(c * gelu(x w + b))` in f64 by hand.
fn objective(x: &[f64], w: &[f64], b: &[f64], c: &[f64], [rows, d_in, d_out]: [usize; 3]) -> f64 {
    let gelu = |z: f64| 0.5 * z * (1.0 + libm::erf(z / std::f64::consts::SQRT_2));
    let mut total = 0.0;
    for r in 0..rows {
        for o in 0..d_out {
            let z = b[o]
                + (0..d_in)
                    .map(|i| x[r * d_in + i] * w[i * d_out + o])
                    .sum::<f64>();
            total += c[r * d_out + o] * gelu(z);
        }
    }
    total
}

#[test]
fn gelu_linear_gradients_match_finite_differences() {
    let dims @ [rows, d_in, d_out] = [3, 4, 5];
    let to64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
    let (x, w, b, c) = (
        to64(fill(rows * d_in, 1, 1.5)),
        to64(fill(d_in * d_out, 2, 0.8)),
        to64(fill(d_out, 3, 0.5)),
        to64(fill(rows * d_out, 4, 1.0)),
    );
    let as32 = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
    let xa = tensor::<AD, 2>(as32(&x), [rows, d_in]).require_grad();
    let wa = tensor::<AD, 2>(as32(&w), [d_in, d_out]).require_grad();
    let ba = tensor::<AD, 1>(as32(&b), [d_out]).require_grad();
    let y = AD::fused_linear(xa.clone(), wa.clone(), ba.clone(), Act::Gelu);
    let grads = (y * tensor::<AD, 2>(as32(&c), [rows, d_out]))
        .sum()
        .backward();
    let got = [
        vals(xa.grad(&grads).unwrap()),
        vals(wa.grad(&grads).unwrap()),
        vals(ba.grad(&grads).unwrap()),
    ];
    let h = 1e-6;
    for (which, name) in ["x", "w", "b"].iter().enumerate() {
        for (k, g) in got[which].iter().enumerate() {
            let (mut up, mut down) = (
                [x.clone(), w.clone(), b.clone()],
                [x.clone(), w.clone(), b.clone()],
            );
            up[which][k] += h;
            down[which][k] -= h;
            let f = |p: &[Vec<f64>; 3]| objective(&p[0], &p[1], &p[2], &c, dims);
            let want = (f(&up) - f(&down)) / (2.0 * h);
            assert!(
                (*g as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                "d{name}[{k}]: {g} vs finite difference {want}"
            );
        }
    }
}

#[test]
fn gelu_is_the_exact_erf_form_within_1e_6() {
    let z: Vec<f32> = (0..801).map(|i| -8.0 + i as f32 * 0.02).collect();
    let n = z.len();
    let y = vals(Flex::fused_linear(
        tensor(z.clone(), [n, 1]),
        tensor(vec![1.0], [1, 1]),
        tensor(vec![0.0], [1]),
        Act::Gelu,
    ));
    for (zi, yi) in z.iter().zip(&y) {
        let z64 = f64::from(*zi);
        let want = 0.5 * z64 * (1.0 + libm::erf(z64 / std::f64::consts::SQRT_2));
        assert!(
            (f64::from(*yi) - want).abs() < 1e-6,
            "gelu({zi}) = {yi}, exact {want}"
        );
    }
}
