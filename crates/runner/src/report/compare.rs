//! The comparison of each variant with the baseline, per grid point and metric. Variants share seeds, so a
//! variant's values are paired with the baseline's by seed: when every seed of the variant has exactly one
//! baseline value (and there are at least two pairs), the delta is the mean of the per-seed differences and the
//! p-value that of the two-sided paired t-test on them ([`stats::paired_t_p_value`], df = pairs - 1);
//! otherwise the delta is the difference of the means and the p-value Welch's ([`stats::welch_p_value`]).
//! The p-values of the variants compared at one (grid point, metric) form a family and are Holm-adjusted
//! together ([`stats::holm`]).

use std::collections::BTreeMap;

use super::aggregate::SummaryRow;
use super::collect::Experiment;
use super::metrics::Metric;
use super::stats::{self, Moments};

/// The significance test of a comparison with the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Test {
    /// Two-sided paired t-test on the per-seed differences (every seed of the variant matched).
    PairedT,
    /// Welch's two-sided unequal-variance t-test (the seeds do not all match).
    Welch,
}

impl Test {
    /// The name written in the `test` column of `summary.csv`: `paired_t` or `welch`.
    pub fn name(self) -> &'static str {
        match self {
            Test::PairedT => "paired_t",
            Test::Welch => "welch",
        }
    }
}

/// `(seed, value)` of a metric over the runs of one (variant, point), in run order.
fn seed_values(exp: &Experiment, metric: &Metric, variant: &str, point: &str) -> Vec<(u64, f64)> {
    exp.runs_of(variant, point)
        .filter_map(|r| metric.value(r).map(|v| (r.record.seed, v)))
        .collect()
}

/// The per-seed differences `variant - baseline` when every seed of `variant` occurs once in it and once in
/// `baseline` and there are at least two; `None` otherwise (baseline seeds the variant lacks are left out).
pub fn paired_differences(variant: &[(u64, f64)], baseline: &[(u64, f64)]) -> Option<Vec<f64>> {
    if variant.len() < 2 {
        return None;
    }
    let mut diffs = Vec::with_capacity(variant.len());
    for (i, &(seed, x)) in variant.iter().enumerate() {
        if variant[..i].iter().any(|&(s, _)| s == seed) {
            return None;
        }
        let mut matches = baseline.iter().filter(|&&(s, _)| s == seed);
        let (Some(&(_, y)), None) = (matches.next(), matches.next()) else {
            return None;
        };
        diffs.push(x - y);
    }
    Some(diffs)
}

/// Fills `delta`, `test`, `p_value` and `p_adj` of `rows` against the rows of the variant `baseline` at the
/// same grid point and metric. The baseline's own rows get a delta of 0 and no test; rows whose baseline has no
/// value get nothing.
pub fn compare(exp: &Experiment, metrics: &[Metric], baseline: &str, rows: &mut [SummaryRow]) {
    let bases: Vec<Option<Moments>> = rows
        .iter()
        .map(|r| {
            rows.iter()
                .find(|b| b.variant == baseline && b.point == r.point && b.metric == r.metric)
                .map(|b| b.moments)
        })
        .collect();
    let mut families: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, (row, base)) in rows.iter_mut().zip(bases).enumerate() {
        let Some(base) = base else { continue };
        if row.variant == baseline {
            row.delta = Some(0.0);
            continue;
        }
        let Some(metric) = metrics.iter().find(|m| m.key == row.metric) else {
            continue;
        };
        let ours = seed_values(exp, metric, &row.variant, &row.point);
        let theirs = seed_values(exp, metric, baseline, &row.point);
        if let Some(diffs) = paired_differences(&ours, &theirs) {
            row.delta = stats::moments(&diffs).map(|m| m.mean);
            row.p_value = stats::paired_t_p_value(&diffs);
            row.test = Some(Test::PairedT);
        } else {
            row.delta = Some(row.moments.mean - base.mean);
            row.p_value = stats::welch_p_value(&row.moments, &base);
            row.test = Some(Test::Welch);
        }
        families
            .entry((row.point.clone(), row.metric.clone()))
            .or_default()
            .push(i);
    }
    for members in families.values() {
        let raw: Vec<Option<f64>> = members.iter().map(|&i| rows[i].p_value).collect();
        for (&i, adj) in members.iter().zip(stats::holm(&raw)) {
            rows[i].p_adj = adj;
        }
    }
}

/// Sizes of the Holm families of `rows`: for each (grid point, metric) with at least one p-value, how many
/// variants were compared with the baseline there (the `m` of the adjustment).
pub fn family_sizes(rows: &[SummaryRow]) -> Vec<usize> {
    let mut sizes: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.p_value.is_some()) {
        *sizes
            .entry((r.point.as_str(), r.metric.as_str()))
            .or_default() += 1;
    }
    sizes.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_only_when_every_variant_seed_has_one_baseline_value() {
        let base = [(1, 0.30), (2, 0.32), (3, 0.34)];
        let diffs = paired_differences(&[(2, 0.40), (1, 0.35)], &base).unwrap();
        assert!((diffs[0] - 0.08).abs() < 1e-12 && (diffs[1] - 0.05).abs() < 1e-12);
        // Seed 4 has no baseline value: no pairing (Welch then).
        assert_eq!(paired_differences(&[(1, 0.3), (4, 0.3)], &base), None);
        // One pair is too few; a seed twice is ambiguous.
        assert_eq!(paired_differences(&[(1, 0.3)], &base), None);
        assert_eq!(paired_differences(&[(1, 0.3), (1, 0.4)], &base), None);
        assert_eq!(
            paired_differences(&[(1, 0.3), (2, 0.4)], &[(1, 0.1), (1, 0.2), (2, 0.3)]),
            None
        );
        assert_eq!(Test::PairedT.name(), "paired_t");
        assert_eq!(Test::Welch.name(), "welch");
    }
}
