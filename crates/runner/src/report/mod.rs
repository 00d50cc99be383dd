//! `ablate report DIR`: reads every run folder of an experiment folder (the layout of
//! [`crate::experiment::record`]) and writes, into that folder, the aggregated results and a readable report:
//!
//! * `summary.csv` and `summary.parquet`: one row per (variant, grid point, metric) with n, mean, std, 95% CI
//!   half-width, delta to the baseline, the test used (paired t over matched seeds, else Welch) and its raw and
//!   Holm-adjusted p-values ([`aggregate`], [`compare`], over the [`metrics`]);
//! * `charts/*.png` and `charts/*.svg`: validation loss curves, final metrics, length extrapolation, attention
//!   maps and throughput ([`charts`]);
//! * `report.md`: the ablation table, the charts, the failed or missing runs, and how it was produced
//!   ([`markdown`]).
//!
//! Everything is rebuilt from the files alone, so a report can be redone at any time (the same inputs give the
//! same files). Runs that failed, are still pending, or lack an evaluation are reported, never fatal; a run file
//! that cannot be read gives a warning naming it (in the log and in `report.md`).

pub mod aggregate;
mod appendix;
mod captions;
pub mod charts;
pub mod collect;
pub mod compare;
pub mod files;
pub mod markdown;
pub mod metrics;
pub mod stats;
mod unigram;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The files written by [`write_report`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFiles {
    /// `DIR/summary.csv`.
    pub summary_csv: PathBuf,
    /// `DIR/summary.parquet`.
    pub summary_parquet: PathBuf,
    /// `DIR/report.md`.
    pub report_md: PathBuf,
    /// Every chart written under `DIR/charts/` (PNG and SVG).
    pub charts: Vec<PathBuf>,
    /// Problems met while reading the run folders (unreadable files), also listed in `report.md`.
    pub warnings: Vec<String>,
}

impl ReportFiles {
    /// Every path written, in a stable order.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = vec![
            self.summary_csv.as_path(),
            self.summary_parquet.as_path(),
            self.report_md.as_path(),
        ];
        out.extend(self.charts.iter().map(PathBuf::as_path));
        out
    }
}

/// Reads every run folder of the experiment folder `dir` and writes summary.csv, summary.parquet,
/// report.md and charts/*.png + charts/*.svg into `dir`. Returns the paths written.
pub fn write_report(dir: &Path) -> anyhow::Result<ReportFiles> {
    let experiment = collect::collect(dir)?;
    for w in &experiment.warnings {
        tracing::warn!("{w}");
    }
    let summary = aggregate::summarise(&experiment)
        .with_context(|| format!("cannot aggregate the runs of {}", dir.display()))?;

    let summary_csv = dir.join(files::SUMMARY_CSV);
    let summary_parquet = dir.join(files::SUMMARY_PARQUET);
    aggregate::write_csv(&summary, &summary_csv)?;
    aggregate::write_parquet(&summary, &summary_parquet)?;

    let charts = charts::draw_all(&experiment, &summary, &dir.join(files::CHARTS))?;

    let report_md = dir.join(files::REPORT_MD);
    let text = markdown::render(&experiment, &summary, &charts);
    ablate_data::write_bytes(&report_md, text.as_bytes())?;

    Ok(ReportFiles {
        summary_csv,
        summary_parquet,
        report_md,
        charts: charts.iter().flat_map(|c| c.files.clone()).collect(),
        warnings: experiment.warnings.clone(),
    })
}

/// The report file names inside an experiment folder.
pub use files::{CHARTS, REPORT_MD, SUMMARY_CSV, SUMMARY_PARQUET};
