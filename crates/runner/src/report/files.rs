//! The report's file names. Every report file is written through the workspace's atomic writer
//! ([`ablate_data::write_bytes`], [`ablate_data::AtomicFile`]: a temporary file in the target's folder, given
//! mode 0644, then renamed into place), so an interrupted report never leaves half a file.

/// The aggregated metrics, CSV.
pub const SUMMARY_CSV: &str = "summary.csv";
/// The aggregated metrics, Parquet.
pub const SUMMARY_PARQUET: &str = "summary.parquet";
/// The report.
pub const REPORT_MD: &str = "report.md";
/// Folder of the charts.
pub const CHARTS: &str = "charts";
