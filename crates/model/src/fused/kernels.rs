//! The fused CPU kernels on plain `f32` slices: each a single pass over contiguous rows, parallel over row
//! blocks with rayon, with loops simple enough for the compiler to vectorise. Row results never depend on
//! how rows are split between threads (per-row sums are sequential in a row; the cross-row sums of the
//! LayerNorm parameter gradients add fixed blocks in a fixed order), so the numbers are the same for any
//! thread count.

use rayon::iter::{IndexedParallelIterator, ParallelIterator};
use rayon::slice::{ParallelSlice, ParallelSliceMut};

/// Rows handed to one rayon task.
const BLOCK: usize = 64;

/// LayerNorm forward over rows of width `d`: `y = (x - mean) * rstd * gamma + beta`, with `xhat` and the
/// per-row `rstd = 1 / sqrt(var + eps)` (biased variance) kept for the backward.
#[allow(clippy::too_many_arguments)]
pub fn layer_norm_forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    d: usize,
    eps: f32,
    y: &mut [f32],
    xhat: &mut [f32],
    rstd: &mut [f32],
) {
    y.par_chunks_mut(BLOCK * d)
        .zip(xhat.par_chunks_mut(BLOCK * d))
        .zip(rstd.par_chunks_mut(BLOCK))
        .zip(x.par_chunks(BLOCK * d))
        .for_each(|(((y, xh), rs), x)| {
            for (r, ((yr, xhr), xr)) in y
                .chunks_mut(d)
                .zip(xh.chunks_mut(d))
                .zip(x.chunks(d))
                .enumerate()
            {
                let mean = xr.iter().sum::<f32>() / d as f32;
                let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
                let s = 1.0 / (var + eps).sqrt();
                rs[r] = s;
                for i in 0..d {
                    let h = (xr[i] - mean) * s;
                    xhr[i] = h;
                    yr[i] = h * gamma[i] + beta[i];
                }
            }
        });
}

/// LayerNorm backward: `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))` with `g = dy * gamma`, and the
/// parameter gradients `dgamma = sum_rows(dy * xhat)`, `dbeta = sum_rows(dy)`.
pub fn layer_norm_backward(
    dy: &[f32],
    xhat: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    d: usize,
    dx: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(BLOCK * d)
        .zip(dy.par_chunks(BLOCK * d))
        .zip(xhat.par_chunks(BLOCK * d))
        .zip(rstd.par_chunks(BLOCK))
        .map(|(((dx, dy), xh), rs)| {
            let (mut dg, mut db) = (vec![0f32; d], vec![0f32; d]);
            for (r, ((dxr, dyr), xhr)) in dx
                .chunks_mut(d)
                .zip(dy.chunks(d))
                .zip(xh.chunks(d))
                .enumerate()
            {
                let (mut mg, mut mgx) = (0f32, 0f32);
                for i in 0..d {
                    let g = dyr[i] * gamma[i];
                    mg += g;
                    mgx += g * xhr[i];
                    dg[i] += dyr[i] * xhr[i];
                    db[i] += dyr[i];
                }
                let (mg, mgx) = (mg / d as f32, mgx / d as f32);
                let s = rs[r];
                for i in 0..d {
                    dxr[i] = s * (dyr[i] * gamma[i] - mg - xhr[i] * mgx);
                }
            }
            (dg, db)
        })
        .collect();
    let (mut dg, mut db) = (vec![0f32; d], vec![0f32; d]);
    for (g, b) in partials {
        for i in 0..d {
            dg[i] += g[i];
            db[i] += b[i];
        }
    }
    (dg, db)
}

/// Attention probabilities over rows of width `d`: `p = softmax(scores * inv_scale + additive)` (row maximum
/// subtracted) into `p`, and `y = p` with dropout (`mask::kept(key, element, threshold)`, kept values times
/// `drop_scale`) into `y` when `y` is given.
#[allow(clippy::too_many_arguments)]
pub fn attention_probs_forward(
    scores: &[f32],
    additive: &[f32],
    inv_scale: f32,
    d: usize,
    p: &mut [f32],
    dropout: Option<(&mut [f32], u64, u64, f32)>,
) {
    p.par_chunks_mut(BLOCK * d)
        .zip(scores.par_chunks(BLOCK * d))
        .zip(additive.par_chunks(BLOCK * d))
        .for_each(|((p, s), a)| {
            for ((pr, sr), ar) in p.chunks_mut(d).zip(s.chunks(d)).zip(a.chunks(d)) {
                let mut max = f32::NEG_INFINITY;
                for i in 0..d {
                    let v = sr[i] * inv_scale + ar[i];
                    pr[i] = v;
                    max = max.max(v);
                }
                let mut sum = 0f32;
                for v in pr.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                let inv = 1.0 / sum;
                for v in pr.iter_mut() {
                    *v *= inv;
                }
            }
        });
    if let Some((y, key, threshold, drop_scale)) = dropout {
        crate::fused::mask::apply(p, key, threshold, drop_scale, y);
    }
}

/// Backward of [`attention_probs_forward`]: from `dy` and the saved `p`, `ds = p * (g - sum(g * p))` with
/// `g = dy` through the dropout mask (when `dropout` is given); returns `ds` in `d_additive` and
/// `ds * inv_scale` in `d_scores`.
pub fn attention_probs_backward(
    dy: &[f32],
    p: &[f32],
    inv_scale: f32,
    d: usize,
    dropout: Option<(u64, u64, f32)>,
    d_scores: &mut [f32],
    d_additive: &mut [f32],
) {
    let rows_per = BLOCK * d;
    d_scores
        .par_chunks_mut(rows_per)
        .zip(d_additive.par_chunks_mut(rows_per))
        .zip(p.par_chunks(rows_per))
        .zip(dy.par_chunks(rows_per))
        .enumerate()
        .for_each(|(c, (((dsc, dad), p), dy))| {
            let base = c * rows_per;
            for (r, (((dsr, dar), pr), dyr)) in dsc
                .chunks_mut(d)
                .zip(dad.chunks_mut(d))
                .zip(p.chunks(d))
                .zip(dy.chunks(d))
                .enumerate()
            {
                // g (the gradient at p) goes into dar first
                match dropout {
                    Some((key, threshold, scale)) => {
                        let first = base + r * d;
                        for i in 0..d {
                            let keep = crate::fused::mask::kept(key, first + i, threshold);
                            dar[i] = if keep { dyr[i] * scale } else { 0.0 };
                        }
                    }
                    None => dar.copy_from_slice(dyr),
                }
                let dot: f32 = pr.iter().zip(dar.iter()).map(|(a, b)| a * b).sum();
                for i in 0..d {
                    let ds = pr[i] * (dar[i] - dot);
                    dar[i] = ds;
                    dsr[i] = ds * inv_scale;
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_rows_by_hand() {
        // one row [1, 2, 3, 6]: mean 3, var (4 + 1 + 0 + 9) / 4 = 3.5
        let (x, g, b) = (
            [1f32, 2.0, 3.0, 6.0],
            [1f32, 2.0, 1.0, 1.0],
            [0f32, 0.0, 1.0, 0.0],
        );
        let (mut y, mut xh, mut rs) = ([0f32; 4], [0f32; 4], [0f32; 1]);
        layer_norm_forward(&x, &g, &b, 4, 0.0, &mut y, &mut xh, &mut rs);
        let s = 1.0 / 3.5f32.sqrt();
        assert!((rs[0] - s).abs() < 1e-6);
        let want = [-2.0 * s, -2.0 * s, 1.0, 3.0 * s];
        for (a, w) in y.iter().zip(want) {
            assert!((a - w).abs() < 1e-6, "{y:?}");
        }
    }

    #[test]
    fn attention_probabilities_by_hand() {
        // scale 1, nothing added: a plain softmax of each row, the row maximum subtracted
        let mut y = [0f32; 3];
        attention_probs_forward(&[0.0, 2f32.ln(), 1000.0], &[0.0; 3], 1.0, 3, &mut y, None);
        assert!((y[2] - 1.0).abs() < 1e-6 && y[0] < 1e-30);
        attention_probs_forward(&[0.0, 2f32.ln(), 0.0], &[0.0; 3], 1.0, 3, &mut y, None);
        for (a, w) in y.iter().zip([0.25f32, 0.5, 0.25]) {
            assert!((a - w).abs() < 1e-6, "{y:?}");
        }
        // scores halved and a masked key: softmax([0, ln 4 / 2, -inf]) = [1/3, 2/3, 0]
        attention_probs_forward(
            &[0.0, 4f32.ln(), 5.0],
            &[0.0, 0.0, -1e30],
            0.5,
            3,
            &mut y,
            None,
        );
        for (a, w) in y.iter().zip([1.0f32 / 3.0, 2.0 / 3.0, 0.0]) {
            assert!((a - w).abs() < 1e-6, "{y:?}");
        }
    }
}
