//! The report's file names and its atomic writes (a temporary file in the target's folder, given mode 0644,
//! then renamed into place), so an interrupted report never leaves half a file.

use std::path::Path;

use anyhow::Context;

/// The aggregated metrics, CSV.
pub const SUMMARY_CSV: &str = "summary.csv";
/// The aggregated metrics, Parquet.
pub const SUMMARY_PARQUET: &str = "summary.parquet";
/// The report.
pub const REPORT_MD: &str = "report.md";
/// Folder of the charts.
pub const CHARTS: &str = "charts";

/// A temporary file in `path`'s folder whose name ends with `suffix`, to be filled then [`persist`]ed.
pub fn temp_for(path: &Path, suffix: &str) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = folder_of(path);
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".report-")
        .suffix(suffix)
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

/// Gives `tmp` mode 0644 and renames it to `path`.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> anyhow::Result<()> {
    crate::output::make_readable(tmp.as_file(), path)?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically (mode 0644), creating the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::output::write_atomic(path, |w| {
        w.write_all(bytes)
            .with_context(|| format!("cannot write {}", path.display()))
    })
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
