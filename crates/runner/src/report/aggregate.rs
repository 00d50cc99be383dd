//! Aggregation over seeds with polars: a frame with one row per run (variant, grid point, seed, status and
//! every metric), grouped by (variant, grid point) for n, mean, sample std (ddof 1), min and max of each metric;
//! then the 95% CI half-width ([`super::stats`]) and the comparison with the baseline variant at the same grid
//! point ([`super::compare`]: delta, the test used, raw and Holm-adjusted p-value). Written in long format as
//! `summary.csv` and `summary.parquet`.

use std::path::Path;

use anyhow::Context;
use polars::prelude::{
    Column, CsvWriter, DataFrame, DataType, IntoLazy, ParquetCompression, ParquetWriter,
    PolarsResult, SerWriter, SortMultipleOptions, col,
};

use super::collect::{Experiment, RunData};
use super::compare::{self, Test};
use super::metrics::{Metric, metrics};
use super::stats::{self, Moments};

/// The frame with one row per run: variant, point, seed, status, variant_idx, point_idx, then one nullable
/// float column per metric.
pub fn runs_frame(exp: &Experiment, metrics: &[Metric]) -> PolarsResult<DataFrame> {
    let rank =
        |list: &[String], x: &str| list.iter().position(|y| y == x).unwrap_or(list.len()) as u32;
    let runs = &exp.runs;
    let mut cols = vec![
        Column::new(
            "variant".into(),
            runs.iter()
                .map(|r| r.record.variant.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "point".into(),
            runs.iter().map(|r| r.point.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "seed".into(),
            runs.iter().map(|r| r.record.seed).collect::<Vec<_>>(),
        ),
        Column::new(
            "status".into(),
            runs.iter().map(state_name).collect::<Vec<_>>(),
        ),
        Column::new(
            "variant_idx".into(),
            runs.iter()
                .map(|r| rank(&exp.variants, &r.record.variant))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "point_idx".into(),
            runs.iter()
                .map(|r| rank(&exp.points, &r.point))
                .collect::<Vec<_>>(),
        ),
    ];
    for m in metrics {
        let values: Vec<Option<f64>> = runs.iter().map(|r| m.value(r)).collect();
        cols.push(Column::new(m.key.as_str().into(), values));
    }
    DataFrame::new(runs.len(), cols)
}

fn state_name(run: &RunData) -> String {
    serde_json::to_value(run.record.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One row of the summary: a metric of one (variant, grid point) over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// The variant.
    pub variant: String,
    /// The grid point label (empty without a grid).
    pub point: String,
    /// The metric's key.
    pub metric: String,
    /// Mean, sample std and count over seeds.
    pub moments: Moments,
    /// Half-width of the 95% confidence interval of the mean.
    pub ci95: Option<f64>,
    /// Smallest value over seeds.
    pub min: f64,
    /// Largest value over seeds.
    pub max: f64,
    /// Difference to the baseline at the same grid point: the mean of the per-seed differences when paired,
    /// else the difference of the means (0 for the baseline itself).
    pub delta: Option<f64>,
    /// The test against the baseline: paired t when every seed has a baseline value, else Welch (absent for
    /// the baseline itself and when the baseline has no value).
    pub test: Option<Test>,
    /// Two-sided p-value of `test` (absent when there is no test or it is undefined).
    pub p_value: Option<f64>,
    /// `p_value` Holm-adjusted over the variants compared with the baseline at this grid point and metric.
    pub p_adj: Option<f64>,
}

/// The aggregated results.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The baseline variant.
    pub baseline: String,
    /// Every metric, in order.
    pub metrics: Vec<Metric>,
    /// Rows with at least one value, ordered by variant, grid point and metric.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// The row of (variant, point, metric).
    pub fn get(&self, variant: &str, point: &str, metric: &str) -> Option<&SummaryRow> {
        self.rows
            .iter()
            .find(|r| r.variant == variant && r.point == point && r.metric == metric)
    }

    /// The metric called `key`.
    pub fn metric(&self, key: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.key == key)
    }
}

/// Aggregates the runs of `exp` over seeds.
pub fn summarise(exp: &Experiment) -> anyhow::Result<Summary> {
    let metrics = metrics(exp);
    let frame = runs_frame(exp, &metrics).context("cannot build the per-run table")?;
    let part = |key: &str, what: &str| format!("{key}#{what}");
    let mut aggs = Vec::with_capacity(metrics.len() * 5);
    for m in &metrics {
        let c = || col(m.key.as_str());
        aggs.push(c().count().alias(part(&m.key, "n")));
        aggs.push(c().mean().alias(part(&m.key, "mean")));
        aggs.push(c().std(1).alias(part(&m.key, "std")));
        aggs.push(c().min().alias(part(&m.key, "min")));
        aggs.push(c().max().alias(part(&m.key, "max")));
    }
    let grouped = frame
        .lazy()
        .group_by([col("variant_idx"), col("point_idx")])
        .agg(aggs)
        .sort(["variant_idx", "point_idx"], SortMultipleOptions::default())
        .collect()
        .context("the polars aggregation failed")?;

    let ids = |name: &str| -> anyhow::Result<Vec<u32>> {
        let c = grouped.column(name)?.cast(&DataType::UInt32)?;
        let c = c.u32()?;
        Ok((0..c.len()).map(|i| c.get(i).unwrap_or(0)).collect())
    };
    let floats = |name: &str| -> anyhow::Result<Vec<Option<f64>>> {
        let c = grouped.column(name)?.cast(&DataType::Float64)?;
        let c = c.f64()?;
        Ok((0..c.len())
            .map(|i| c.get(i).filter(|x| x.is_finite()))
            .collect())
    };
    let (variant_idx, point_idx) = (ids("variant_idx")?, ids("point_idx")?);
    let name_at = |list: &[String], i: u32| list.get(i as usize).cloned().unwrap_or_default();

    type Parts = (
        Vec<u32>,
        Vec<Option<f64>>,
        Vec<Option<f64>>,
        Vec<Option<f64>>,
        Vec<Option<f64>>,
    );
    let columns: Vec<Parts> = metrics
        .iter()
        .map(|m| {
            Ok((
                ids(&part(&m.key, "n"))?,
                floats(&part(&m.key, "mean"))?,
                floats(&part(&m.key, "std"))?,
                floats(&part(&m.key, "min"))?,
                floats(&part(&m.key, "max"))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut rows = Vec::new();
    for (g, (&vi, &pi)) in variant_idx.iter().zip(&point_idx).enumerate() {
        for (m, (n, mean, std, min, max)) in metrics.iter().zip(&columns) {
            let (n, Some(mean)) = (n[g], mean[g]) else {
                continue;
            };
            if n == 0 {
                continue;
            }
            let moments = Moments {
                n,
                mean,
                std: std[g].filter(|_| n >= 2),
            };
            rows.push(SummaryRow {
                variant: name_at(&exp.variants, vi),
                point: name_at(&exp.points, pi),
                metric: m.key.clone(),
                moments,
                ci95: stats::ci95_half_width(&moments),
                min: min[g].unwrap_or(mean),
                max: max[g].unwrap_or(mean),
                delta: None,
                test: None,
                p_value: None,
                p_adj: None,
            });
        }
    }

    let baseline = exp.info.baseline.clone();
    compare::compare(exp, &metrics, &baseline, &mut rows);
    Ok(Summary {
        baseline,
        metrics,
        rows,
    })
}

/// The summary in long format: variant, point, metric, n, mean, std, ci95, delta, test (`paired_t`, `welch`
/// or empty), p_value, p_adj, min, max.
pub fn summary_frame(summary: &Summary) -> PolarsResult<DataFrame> {
    let rows = &summary.rows;
    let text = |f: fn(&SummaryRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&SummaryRow) -> Option<f64>| rows.iter().map(f).collect::<Vec<_>>();
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("variant".into(), text(|r| &r.variant)),
            Column::new("point".into(), text(|r| &r.point)),
            Column::new("metric".into(), text(|r| &r.metric)),
            Column::new(
                "n".into(),
                rows.iter().map(|r| r.moments.n).collect::<Vec<_>>(),
            ),
            Column::new("mean".into(), num(|r| Some(r.moments.mean))),
            Column::new("std".into(), num(|r| r.moments.std)),
            Column::new("ci95".into(), num(|r| r.ci95)),
            Column::new("delta".into(), num(|r| r.delta)),
            Column::new(
                "test".into(),
                text(|r| r.test.map(Test::name).unwrap_or_default()),
            ),
            Column::new("p_value".into(), num(|r| r.p_value)),
            Column::new("p_adj".into(), num(|r| r.p_adj)),
            Column::new("min".into(), num(|r| Some(r.min))),
            Column::new("max".into(), num(|r| Some(r.max))),
        ],
    )
}

/// Writes the summary as CSV to `path` atomically (empty cells for undefined values).
pub fn write_csv(summary: &Summary, path: &Path) -> anyhow::Result<()> {
    let mut df = summary_frame(summary)?;
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .finish(&mut df)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(ablate_data::write_bytes(path, &buf)?)
}

/// Writes the summary as Parquet (uncompressed) to `path` atomically.
pub fn write_parquet(summary: &Summary, path: &Path) -> anyhow::Result<()> {
    let mut df = summary_frame(summary)?;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_compression(ParquetCompression::Uncompressed)
        .finish(&mut df)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(ablate_data::write_bytes(path, &buf)?)
}
