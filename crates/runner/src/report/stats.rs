//! The statistics over seeds: the 95% confidence half-width of a mean (Student's t), the two-sided paired t-test
//! on per-seed differences, Welch's two-sided t-test between two variants, and the Holm-Bonferroni adjustment
//! of a family of p-values. Every function answers `None` where the quantity is undefined (fewer than two
//! values on a side, zero variance), never panics and never returns NaN.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean, sample standard deviation (ddof 1) and count of a group of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// Values in the group.
    pub n: u32,
    /// Their mean.
    pub mean: f64,
    /// Their sample standard deviation; `None` when `n < 2`.
    pub std: Option<f64>,
}

/// Half-width of the 95% confidence interval of the mean: `t(0.975, n - 1) * std / sqrt(n)`.
pub fn ci95_half_width(m: &Moments) -> Option<f64> {
    let std = m.std?;
    if m.n < 2 || !std.is_finite() {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, f64::from(m.n - 1)).ok()?;
    finite(t.inverse_cdf(0.975) * std / f64::from(m.n).sqrt())
}

/// Two-sided p-value of Welch's unequal-variance t-test of `a.mean == b.mean`.
pub fn welch_p_value(a: &Moments, b: &Moments) -> Option<f64> {
    let (sa, sb) = (a.std?, b.std?);
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let (na, nb) = (f64::from(a.n), f64::from(b.n));
    let (va, vb) = (sa * sa / na, sb * sb / nb);
    let se2 = va + vb;
    if !se2.is_finite() || se2 <= 0.0 {
        return None;
    }
    let t = (a.mean - b.mean) / se2.sqrt();
    let df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    finite((2.0 * dist.sf(t.abs())).min(1.0))
}

/// Two-sided p-value of the paired t-test of `mean(d) == 0` on the per-seed differences `d` (variant minus
/// baseline, one per matched seed): `t = mean(d) / (std(d) / sqrt(n))` with `n - 1` degrees of freedom.
///
/// `None` with fewer than two differences, a non-finite one, or no spread: when every difference is the same
/// (to f64 rounding, `std(d) <= 1e-12 * |mean(d)|`) `t` is not finite and the test is undefined.
pub fn paired_t_p_value(diffs: &[f64]) -> Option<f64> {
    if diffs.len() < 2 || diffs.iter().any(|d| !d.is_finite()) {
        return None;
    }
    let m = moments(diffs)?;
    let std = m.std?;
    if !std.is_finite() || std <= 1e-12 * m.mean.abs() || std <= 0.0 {
        return None;
    }
    let t = m.mean / (std / f64::from(m.n).sqrt());
    let dist = StudentsT::new(0.0, 1.0, f64::from(m.n - 1)).ok()?;
    finite((2.0 * dist.sf(t.abs())).min(1.0))
}

/// Holm-Bonferroni adjusted p-values of one family of tests, in the order given. The `m` defined p-values are
/// sorted ascending; the i-th smallest (from 1) becomes `min(1, max over j <= i of (m - j + 1) * p_(j))`.
/// `None` entries (undefined tests) stay `None` and do not count in `m`.
pub fn holm(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut order: Vec<(usize, f64)> = p
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|x| x.is_finite()).map(|x| (i, x)))
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    let m = order.len();
    let mut out = vec![None; p.len()];
    let mut running = 0.0f64;
    for (rank, (i, x)) in order.into_iter().enumerate() {
        running = running.max(((m - rank) as f64 * x).min(1.0));
        out[i] = Some(running);
    }
    out
}

/// Mean, sample std (ddof 1) and count of `values`, computed directly (for the chart curves).
pub fn moments(values: &[f64]) -> Option<Moments> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() >= 2)
        .then(|| (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt());
    Some(Moments {
        n: values.len() as u32,
        mean,
        std,
    })
}

/// The median of `values` (mean of the two middle values for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(values: &[f64]) -> Moments {
        moments(values).unwrap()
    }

    #[test]
    fn ci95_matches_the_t_table() {
        // t(0.975, 2) = 4.302652729911275 (standard table value); std of 1, 2, 3 is 1.
        let ci = ci95_half_width(&m(&[1.0, 2.0, 3.0])).unwrap();
        assert!(
            (ci - 4.302_652_729_911_275 / 3f64.sqrt()).abs() < 1e-9,
            "{ci}"
        );
        assert_eq!(ci95_half_width(&m(&[1.0])), None);
    }

    #[test]
    fn welch_matches_the_closed_form_for_four_degrees_of_freedom() {
        // Equal variances, n = 3 on both sides: Welch's df is exactly 4, whose t CDF has a closed form.
        let (a, b) = (m(&[1.0, 2.0, 3.0]), m(&[4.0, 5.0, 6.0]));
        let t: f64 = -3.0 / (2.0f64 / 3.0).sqrt();
        let x = t.abs();
        let cdf = 0.5
            + 0.375 * x / (1.0 + x * x / 4.0).sqrt() * (1.0 - x * x / (12.0 * (1.0 + x * x / 4.0)));
        let expected = 2.0 * (1.0 - cdf);
        let p = welch_p_value(&a, &b).unwrap();
        assert!((p - expected).abs() < 1e-9, "{p} vs {expected}");
        assert!((p - 0.021_311_641_128_756_7).abs() < 1e-6, "{p}");
        assert_eq!(welch_p_value(&b, &a), Some(p));
    }

    /// The closed-form two-sided p-value of Student's t with 2 degrees of freedom: `1 - |t| / sqrt(2 + t^2)`.
    fn p_df2(t: f64) -> f64 {
        1.0 - t.abs() / (2.0 + t * t).sqrt()
    }

    #[test]
    fn paired_t_matches_the_textbook_values() {
        // Differences 1, 2, 3: mean 2, std 1, t = 2 / (1 / sqrt 3) = 3.4641, df = 2, p = 0.0742
        // (the value of scipy.stats.ttest_rel and of a t table).
        let p = paired_t_p_value(&[1.0, 2.0, 3.0]).unwrap();
        let t = 2.0 * 3f64.sqrt();
        assert!((p - p_df2(t)).abs() < 1e-12, "{p} vs {}", p_df2(t));
        assert!((p - 0.074_179_900_2).abs() < 1e-9, "{p}");
        // The sign of the differences does not matter (two-sided).
        assert_eq!(paired_t_p_value(&[-1.0, -2.0, -3.0]), Some(p));
        // df = 1 is the Cauchy distribution: differences 1, 3 give t = 2, p = 1 - (2 / pi) atan 2.
        let p1 = paired_t_p_value(&[1.0, 3.0]).unwrap();
        let expected = 1.0 - 2.0 / std::f64::consts::PI * 2f64.atan();
        assert!((p1 - expected).abs() < 1e-12, "{p1} vs {expected}");
        assert!((p1 - 0.295_167_235_3).abs() < 1e-9, "{p1}");
    }

    #[test]
    fn paired_t_matches_the_closed_form_for_four_degrees_of_freedom() {
        // Differences 1..5: mean 3, std sqrt(2.5), t = 3 / sqrt(0.5) = 4.2426, df = 4.
        let p = paired_t_p_value(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let x = 3.0 / 0.5f64.sqrt();
        let cdf = 0.5
            + 0.375 * x / (1.0 + x * x / 4.0).sqrt() * (1.0 - x * x / (12.0 * (1.0 + x * x / 4.0)));
        assert!((p - 2.0 * (1.0 - cdf)).abs() < 1e-9, "{p}");
    }

    #[test]
    fn undefined_paired_tests_are_none() {
        assert_eq!(paired_t_p_value(&[]), None);
        assert_eq!(paired_t_p_value(&[1.0]), None);
        assert_eq!(paired_t_p_value(&[0.0, 0.0, 0.0]), None);
        assert_eq!(paired_t_p_value(&[0.5, 0.5]), None);
        assert_eq!(paired_t_p_value(&[1.0, f64::NAN, 2.0]), None);
        assert_eq!(paired_t_p_value(&[1.0, f64::INFINITY]), None);
        // The same difference up to f64 rounding is no spread either.
        let diffs = [0.38 - 0.32, 0.40 - 0.34, 0.36 - 0.30];
        assert_eq!(paired_t_p_value(&diffs), None, "{diffs:?}");
    }

    #[test]
    fn holm_matches_the_hand_computation() {
        let adj = holm(&[Some(0.01), Some(0.04), Some(0.03)]);
        // Sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04).
        let expected = [0.03, 0.06, 0.06];
        for (a, e) in adj.iter().zip(expected) {
            assert!((a.unwrap() - e).abs() < 1e-12, "{adj:?}");
        }
        // Undefined tests do not count: m = 2 here.
        let adj = holm(&[Some(0.04), None, Some(0.01)]);
        assert_eq!(adj[1], None);
        assert!((adj[0].unwrap() - 0.04).abs() < 1e-12 && (adj[2].unwrap() - 0.02).abs() < 1e-12);
        // Capped at 1, monotone in the raw order.
        assert_eq!(holm(&[Some(0.7), Some(0.6)]), vec![Some(1.0), Some(1.0)]);
        assert_eq!(holm(&[Some(0.2)]), vec![Some(0.2)]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn undefined_tests_are_none() {
        assert_eq!(welch_p_value(&m(&[1.0]), &m(&[1.0, 2.0])), None);
        assert_eq!(welch_p_value(&m(&[1.0, 1.0]), &m(&[2.0, 2.0])), None);
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
