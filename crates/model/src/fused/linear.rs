//! The fused linear layer on the flex CPU backend: `act(x w + b)` as one operation, forward and backward.
//!
//! Forward: one gemm straight into the output buffer, then one parallel pass that adds the bias and applies
//! the activation in place (keeping the pre-activation for GELU's backward). Backward: one parallel pass for
//! `g = dy * act'(z)` and the bias gradient, then two gemms that read `w` and `x` transposed through their
//! strides (`dx = g w^T`, `dw = x^T g`), so no transposed copy is ever made. Under burn's decomposed form
//! the same layer is a matmul, a broadcast add and an activation, each a tracked node with its own passes,
//! and the backward matmuls copy their transposed operands first.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Shape, TensorMetadata};
use burn_flex::FlexTensor;
use rayon::iter::{IndexedParallelIterator, ParallelIterator};
use rayon::slice::{ParallelSlice, ParallelSliceMut};

use super::flex::{FlexAutodiff, f32_tensor};

/// Rows handed to one rayon task by the element-wise passes.
const BLOCK: usize = 64;

/// Below this many multiply-adds a gemm runs on the calling thread (burn-flex's threshold).
const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// The activation applied after the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// None: `x w + b`.
    Identity,
    /// Exact GELU, `z Φ(z)` with the error function (HF `gelu`).
    Gelu,
}

/// A row-major matrix operand: its elements and (row stride, column stride).
#[derive(Clone, Copy)]
struct Operand<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

/// `dst [m, n] (row-major, contiguous) = lhs [m, k] rhs [k, n]`.
fn gemm(m: usize, n: usize, k: usize, dst: &mut [f32], lhs: Operand, rhs: Operand) {
    let last =
        |o: Operand, rows: usize, cols: usize| (rows.max(1) - 1) * o.rs + (cols.max(1) - 1) * o.cs;
    assert!(dst.len() >= m * n, "gemm: output too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        dst[..m * n].fill(0.0);
        return;
    }
    assert!(last(lhs, m, k) < lhs.data.len(), "gemm: lhs out of bounds");
    assert!(last(rhs, k, n) < rhs.data.len(), "gemm: rhs out of bounds");
    let parallelism = if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_THRESHOLD {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every index the kernel reads is below the bounds asserted above (the largest is the last
    // element of each operand), `dst` holds `m * n` elements, and the operands do not alias `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// `1 / sqrt(2 pi)`.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

fn gelu(z: f32) -> f32 {
    0.5 * z * (1.0 + libm::erff(z * FRAC_1_SQRT_2))
}

fn gelu_grad(z: f32) -> f32 {
    0.5 * (1.0 + libm::erff(z * FRAC_1_SQRT_2)) + z * FRAC_1_SQRT_2PI * (-0.5 * z * z).exp()
}

/// In place over rows of `y`: `z = y + b`, then `y = act(z)`; `z` kept in `pre` for GELU.
fn bias_act_forward(y: &mut [f32], bias: &[f32], act: Act, pre: Option<&mut [f32]>) {
    let d = bias.len();
    match (act, pre) {
        (Act::Gelu, Some(pre)) => y
            .par_chunks_mut(BLOCK * d)
            .zip(pre.par_chunks_mut(BLOCK * d))
            .for_each(|(y, pre)| {
                for (yr, pr) in y.chunks_mut(d).zip(pre.chunks_mut(d)) {
                    for i in 0..d {
                        let z = yr[i] + bias[i];
                        pr[i] = z;
                        yr[i] = gelu(z);
                    }
                }
            }),
        _ => y.par_chunks_mut(BLOCK * d).for_each(|y| {
            for yr in y.chunks_mut(d) {
                for i in 0..d {
                    yr[i] += bias[i];
                }
            }
        }),
    }
}

/// `g = dy * act'(pre)` (in place over a copy of `dy`) and the bias gradient `sum_rows(g)`, the row blocks
/// added in a fixed order so the sum does not depend on the thread count.
fn bias_act_backward(g: &mut [f32], pre: Option<&[f32]>, d: usize) -> Vec<f32> {
    let partials: Vec<Vec<f32>> = match pre {
        Some(pre) => g
            .par_chunks_mut(BLOCK * d)
            .zip(pre.par_chunks(BLOCK * d))
            .map(|(g, pre)| {
                let mut db = vec![0f32; d];
                for (gr, pr) in g.chunks_mut(d).zip(pre.chunks(d)) {
                    for i in 0..d {
                        gr[i] *= gelu_grad(pr[i]);
                        db[i] += gr[i];
                    }
                }
                db
            })
            .collect(),
        None => g
            .par_chunks(BLOCK * d)
            .map(|g| {
                let mut db = vec![0f32; d];
                for gr in g.chunks(d) {
                    for i in 0..d {
                        db[i] += gr[i];
                    }
                }
                db
            })
            .collect(),
    };
    let mut db = vec![0f32; d];
    for p in partials {
        for i in 0..d {
            db[i] += p[i];
        }
    }
    db
}

/// `(rows, d_in, d_out)` of `x` `[rows, d_in]`, `w` `[d_in, d_out]`, `b` `[d_out]`, all `f32`; `None`
/// otherwise.
fn dims(x: &FlexTensor, w: &FlexTensor, b: &FlexTensor) -> Option<(usize, usize, usize)> {
    let (xs, ws, bs) = (x.shape(), w.shape(), b.shape());
    let f32s = [x.dtype(), w.dtype(), b.dtype()]
        .iter()
        .all(|t| *t == DType::F32);
    let ranks = xs.num_dims() == 2 && ws.num_dims() == 2 && bs.num_dims() == 1;
    if !f32s || !ranks || xs[1] != ws[0] || ws[1] != bs[0] {
        return None;
    }
    Some((xs[0], ws[0], ws[1]))
}

/// Forward on flex tensors: `(y, pre)` with `pre` the pre-activation (GELU only), or `None` for shapes or
/// dtypes the kernel does not take. `x` and `w` come back contiguous for the backward.
pub fn forward(
    x: &FlexTensor,
    w: &FlexTensor,
    b: &FlexTensor,
    act: Act,
) -> Option<(FlexTensor, Option<FlexTensor>, FlexTensor, FlexTensor)> {
    let (rows, d_in, d_out) = dims(x, w, b)?;
    let (x, w, b) = (x.to_contiguous(), w.to_contiguous(), b.to_contiguous());
    let mut y = f32_tensor(Shape::new([rows, d_out]));
    gemm(
        rows,
        d_out,
        d_in,
        y.storage_mut::<f32>(),
        Operand {
            data: x.storage::<f32>(),
            rs: d_in,
            cs: 1,
        },
        Operand {
            data: w.storage::<f32>(),
            rs: d_out,
            cs: 1,
        },
    );
    let mut pre = (act == Act::Gelu).then(|| f32_tensor(Shape::new([rows, d_out])));
    bias_act_forward(
        y.storage_mut::<f32>(),
        b.storage::<f32>(),
        act,
        pre.as_mut().map(|p| p.storage_mut::<f32>()),
    );
    Some((y, pre, x, w))
}

#[derive(Debug)]
struct LinearBackward;

impl Backward<Flex, 3> for LinearBackward {
    /// `x`, `w` (contiguous) and the pre-activation (GELU only).
    type State = (FlexTensor, FlexTensor, Option<FlexTensor>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let (x, w, pre) = ops.state;
        let (rows, d_in) = (x.shape()[0], x.shape()[1]);
        let d_out = w.shape()[1];
        let mut g = grads.consume::<Flex>(&ops.node).to_contiguous();
        let db = bias_act_backward(
            g.storage_mut::<f32>(),
            pre.as_ref().map(|p| p.storage::<f32>()),
            d_out,
        );
        let g_op = Operand {
            data: g.storage::<f32>(),
            rs: d_out,
            cs: 1,
        };
        if let Some(node) = node_x {
            let mut dx = f32_tensor(Shape::new([rows, d_in]));
            // w^T [d_out, d_in]: row stride 1, column stride d_out
            let wt = Operand {
                data: w.storage::<f32>(),
                rs: 1,
                cs: d_out,
            };
            gemm(rows, d_in, d_out, dx.storage_mut::<f32>(), g_op, wt);
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_w {
            let mut dw = f32_tensor(Shape::new([d_in, d_out]));
            // x^T [d_in, rows]: row stride 1, column stride d_in
            let xt = Operand {
                data: x.storage::<f32>(),
                rs: 1,
                cs: d_in,
            };
            gemm(d_in, d_out, rows, dw.storage_mut::<f32>(), xt, g_op);
            grads.register::<Flex>(node.id, dw);
        }
        if let Some(node) = node_b {
            let n = db.len();
            let db = FlexTensor::from_data(burn::tensor::TensorData::new(db, [n]));
            grads.register::<Flex>(node.id, db);
        }
    }
}

/// The layer as one autodiff node, or `None` when the kernel does not apply.
pub fn autodiff(
    x: FloatTensor<FlexAutodiff>,
    w: FloatTensor<FlexAutodiff>,
    b: FloatTensor<FlexAutodiff>,
    act: Act,
) -> Option<FloatTensor<FlexAutodiff>> {
    let (y, pre, xc, wc) = forward(&x.primitive, &w.primitive, &b.primitive, act)?;
    let nodes = [x.node.clone(), w.node.clone(), b.node.clone()];
    Some(
        match LinearBackward
            .prepare::<NoCheckpointing>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((xc, wc, pre), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_reads_transposed_operands_through_strides() {
        // a [2, 3], b [3, 2]; a^T b^T via strides equals (b a)^T
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0f32, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut ab = [0f32; 4];
        gemm(
            2,
            2,
            3,
            &mut ab,
            Operand {
                data: &a,
                rs: 3,
                cs: 1,
            },
            Operand {
                data: &b,
                rs: 2,
                cs: 1,
            },
        );
        assert_eq!(ab, [58.0, 64.0, 139.0, 154.0]);
        // a^T [3, 2] times a [2, 3] = [3, 3]
        let mut ata = [0f32; 9];
        gemm(
            3,
            3,
            2,
            &mut ata,
            Operand {
                data: &a,
                rs: 1,
                cs: 3,
            },
            Operand {
                data: &a,
                rs: 3,
                cs: 1,
            },
        );
        assert_eq!(ata, [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
    }

    #[test]
    fn gelu_grad_matches_a_central_difference() {
        for z in [-4.0f32, -1.3, -0.2, 0.0, 0.7, 2.5] {
            let h = 1e-2f64;
            let f = |v: f64| 0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2));
            let numeric = (f(z as f64 + h) - f(z as f64 - h)) / (2.0 * h);
            assert!((gelu_grad(z) as f64 - numeric).abs() < 1e-4, "z {z}");
        }
    }
}
