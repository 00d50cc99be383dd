//! The statistics over seeds: the 95% confidence half-width of a mean (Student's t) and Welch's two-sided
//! t-test between two variants. Every function answers `None` where the quantity is undefined (fewer than two
//! values on a side, zero variance on both sides), never panics and never returns NaN.

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

    #[test]
    fn undefined_tests_are_none() {
        assert_eq!(welch_p_value(&m(&[1.0]), &m(&[1.0, 2.0])), None);
        assert_eq!(welch_p_value(&m(&[1.0, 1.0]), &m(&[2.0, 2.0])), None);
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
