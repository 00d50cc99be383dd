//! The fast path of a relative-position gather: when every query sits at `0..n` and no distance is
//! clipped or bucketed, the table row of the pair `(r, c)` is `a ± (r - c)`, a band. The term is then a
//! skewed slice of `X · table_window^T` (flatten, shift each row by one, reshape), so the gather over
//! `[B, H, N, N]` and its scatter-add backward become two copies, and only the `n_rows + n_cols - 1`
//! table rows the band touches are multiplied.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// The table rows, in the order the skewed slice expects, when `values` (`[n_rows, n_cols]`, row-major)
/// is a band `a + s (r - c)` with `s = ±1`; `None` otherwise (then the caller gathers).
///
/// With these rows as the window `W`, `term[r][c] = (X · W^T)[r][n_rows - 1 - r + c]`.
pub fn band_rows(values: &[i64], n_rows: usize, n_cols: usize) -> Option<Vec<i64>> {
    if n_rows < 2 || n_cols < 2 || values.len() != n_rows * n_cols {
        return None;
    }
    let a = values[0];
    let s = a - values[1];
    if s != 1 && s != -1 {
        return None;
    }
    let fits = (0..n_rows).all(|r| {
        let row = &values[r * n_cols..(r + 1) * n_cols];
        row.iter()
            .enumerate()
            .all(|(c, &v)| v == a + s * (r as i64 - c as i64))
    });
    if !fits {
        return None;
    }
    let width = (n_rows + n_cols - 1) as i64;
    Some(if s == -1 {
        // term[r][c] = X[a - r + c]: window from a - (n_rows - 1), ascending.
        let lo = a - (n_rows as i64 - 1);
        (lo..lo + width).collect()
    } else {
        // term[r][c] = X[a + r - c]: the same window read backwards.
        let hi = a + n_rows as i64 - 1;
        (0..width).map(|m| hi - m).collect()
    })
}

/// The window rows as an index tensor for `select`.
pub fn rows_tensor<B: Backend>(rows: Vec<i64>, device: &B::Device) -> Tensor<B, 1, Int> {
    let n = rows.len();
    Tensor::from_data(TensorData::new(rows, [n]), device)
}

/// `scores` `[B, H, n_rows, n_rows + n_cols - 1]` (queries against the window) to the term
/// `[B, H, n_rows, n_cols]`, element `[r][c]` read from column `n_rows - 1 - r + c`.
pub fn skew<B: Backend>(scores: Tensor<B, 4>, n_rows: usize, n_cols: usize) -> Tensor<B, 4> {
    let [b, h, r, w] = scores.dims();
    debug_assert_eq!((r, w), (n_rows, n_rows + n_cols - 1));
    // Row r of the result starts r * (w - 1) elements after flat position n_rows - 1, that is at column
    // n_rows - 1 - r of row r: reading rows of width w - 1 shifts each row one column left.
    scores
        .reshape([b, h, n_rows * w])
        .narrow(2, n_rows - 1, n_rows * (w - 1))
        .reshape([b, h, n_rows, w - 1])
        .narrow(3, 0, n_cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    type B = burn::backend::Flex;

    fn grid(n_rows: usize, n_cols: usize, f: impl Fn(i64, i64) -> i64) -> Vec<i64> {
        (0..n_rows as i64)
            .flat_map(|r| (0..n_cols as i64).map(move |c| (r, c)))
            .map(|(r, c)| f(r, c))
            .collect()
    }

    #[test]
    fn bands_are_found_and_others_are_not() {
        let down = grid(3, 4, |r, c| 5 + r - c);
        assert_eq!(band_rows(&down, 3, 4), Some(vec![7, 6, 5, 4, 3, 2]));
        let up = grid(3, 4, |r, c| 5 - r + c);
        assert_eq!(band_rows(&up, 3, 4), Some(vec![3, 4, 5, 6, 7, 8]));
        let clipped = grid(3, 4, |r, c| (5 + r - c).min(6));
        assert_eq!(band_rows(&clipped, 3, 4), None);
        let steep = grid(3, 4, |r, c| 10 + 2 * (r - c));
        assert_eq!(band_rows(&steep, 3, 4), None);
        assert_eq!(band_rows(&[3], 1, 1), None);
    }

    /// The skewed slice against a plain gather, values and gradients, for both band directions and
    /// for more rows than columns and the reverse.
    #[test]
    fn skew_equals_gather_forward_and_backward() {
        type A = burn::backend::Autodiff<B>;
        let dev = Default::default();
        for (n_rows, n_cols, s) in [(5usize, 5usize, 1i64), (5, 5, -1), (3, 6, 1), (6, 3, -1)] {
            let table_rows = 16usize;
            let a = 7i64;
            let values = grid(n_rows, n_cols, |r, c| a + s * (r - c));
            let rows = band_rows(&values, n_rows, n_cols).expect("a band");
            let x = Tensor::<A, 4>::random([2, 3, n_rows, 4], Distribution::Default, &dev)
                .require_grad();
            let table = Tensor::<A, 4>::random([1, 3, table_rows, 4], Distribution::Default, &dev)
                .require_grad();

            let full = x.clone().matmul(table.clone().swap_dims(2, 3));
            let index = Tensor::<A, 4, Int>::from_data(
                TensorData::new(values.clone(), [1, 1, n_rows, n_cols]),
                &dev,
            )
            .expand([2, 3, n_rows, n_cols]);
            let want = full.gather(3, index);

            let window = table.clone().select(2, rows_tensor::<A>(rows, &dev));
            let got = skew(x.clone().matmul(window.swap_dims(2, 3)), n_rows, n_cols);
            got.clone()
                .into_data()
                .assert_approx_eq::<f32>(&want.clone().into_data(), Default::default());

            let w = Tensor::<A, 4>::random([2, 3, n_rows, n_cols], Distribution::Default, &dev);
            let g_want = (want * w.clone()).sum().backward();
            let g_got = (got * w).sum().backward();
            for t in [&x, &table] {
                let (gw, gg) = (t.grad(&g_want).unwrap(), t.grad(&g_got).unwrap());
                gg.into_data()
                    .assert_approx_eq::<f32>(&gw.into_data(), Default::default());
            }
        }
    }
}
