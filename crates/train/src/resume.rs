//! Deciding how a run starts in a folder: fresh, resumed from its current checkpoint, or already done.
//! A folder whose run used another spec, or whose run failed, is refused with the reason.

use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::error::{IoContext, Result, TrainError};
use crate::summary::SUMMARY_FILE;

/// How a run starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// From step 0 (an empty folder, or a run killed before its first checkpoint).
    Fresh,
    /// From the checkpoint folder `dir` at `step`.
    Resume {
        /// Steps done at the checkpoint.
        step: u64,
        /// The checkpoint folder.
        dir: PathBuf,
    },
    /// The run in the folder already completed.
    Done,
}

/// Whether a failed run's summary says it stopped resumably (see [`crate::summary::Failure::resumable`]).
fn resumable(summary: &serde_json::Value) -> bool {
    summary["failure"]["resumable"].as_bool() == Some(true)
}

fn status_of(run_dir: &Path) -> Result<Option<(String, serde_json::Value)>> {
    let path = run_dir.join(SUMMARY_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let value: serde_json::Value = crate::fsutil::read_json(&path)?;
    let status = value["status"].as_str().unwrap_or_default().to_string();
    Ok(Some((status, value)))
}

/// Decides how the run with resolved spec text `spec_text` starts in `run_dir`; `spec_file` is the spec's
/// file name, `differing` lists the keys in which a saved spec text differs from this run's.
pub fn decide(
    run_dir: &Path,
    spec_file: &str,
    differing: impl Fn(&str) -> Result<Vec<String>>,
) -> Result<Start> {
    let refuse = |saved_at: &Path, keys: Vec<String>| {
        TrainError::run_folder(
            run_dir,
            format!(
                "it holds a run started with a different spec ({}); the keys that differ: {}. Start again \
                 with the original spec, or use another --out folder",
                saved_at.display(),
                keys.join(", ")
            ),
        )
    };
    match checkpoint::latest_good(run_dir)? {
        Some((manifest, dir)) => {
            let saved = dir.join(spec_file);
            let text = std::fs::read_to_string(&saved).at(&saved)?;
            let keys = differing(&text)?;
            if !keys.is_empty() {
                return Err(refuse(&saved, keys));
            }
            match status_of(run_dir)? {
                Some((status, value)) if status == "failed" && !resumable(&value) => {
                    Err(TrainError::run_folder(
                        run_dir,
                        format!(
                            "its run failed at step {} ({}); it would fail the same way again. Its last good \
                         checkpoint is {}; start a new run in another --out folder",
                            value["failure"]["step"],
                            value["failure"]["reason"]
                                .as_str()
                                .unwrap_or("unknown reason"),
                            dir.display()
                        ),
                    ))
                }
                Some((status, _)) if status == "completed" => Ok(Start::Done),
                _ => Ok(Start::Resume {
                    step: manifest.step,
                    dir,
                }),
            }
        }
        None => {
            if let Some((status, value)) = status_of(run_dir)?
                && status == "failed"
                && !resumable(&value)
            {
                return Err(TrainError::run_folder(
                    run_dir,
                    format!(
                        "its run failed at step {} ({}) before its first checkpoint; start a new run in \
                         another --out folder",
                        value["failure"]["step"],
                        value["failure"]["reason"]
                            .as_str()
                            .unwrap_or("unknown reason"),
                    ),
                ));
            }
            let saved = run_dir.join(spec_file);
            if saved.is_file() {
                let text = std::fs::read_to_string(&saved).at(&saved)?;
                let keys = differing(&text)?;
                if !keys.is_empty() {
                    return Err(refuse(&saved, keys));
                }
            }
            Ok(Start::Fresh)
        }
    }
}
