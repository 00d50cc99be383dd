//! Checkpoints: one folder `ckpt-<step>` per checkpoint holding the model (`model.mpk`), the optimiser
//! state (`optimizer.mpk`), the loop state (`state.json`: step, data cursor, seeds, counters), the resolved
//! spec, a copy of `metrics.csv` as of that step, and the size and hash of each of those files
//! (`checksums.json`, [`crate::checksum`]); and a small manifest `checkpoint.json` naming the current folder
//! and the previous one, which is kept.
//!
//! Writing is atomic at every moment: the folder is filled under a temporary name, synced, renamed, and
//! only then does the manifest (itself written by temp-file-and-rename) point at it; folders older than the
//! previous one are removed last. A kill at any point leaves the manifest naming a complete checkpoint.
//! Every load checks the checksums ([`latest`]); a resume whose current checkpoint is damaged falls back to
//! the previous one ([`latest_good`]).

use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{IoContext, Result, TrainError};
use crate::fsutil::{read_json, sync_dir, write_atomic, write_json};
use crate::metrics::METRICS_FILE;

/// Name of the manifest in a run folder.
pub const MANIFEST_FILE: &str = "checkpoint.json";
/// Name of the loop state in a checkpoint folder.
pub const STATE_FILE: &str = "state.json";
const MODEL: &str = "model";
const OPTIMIZER: &str = "optimizer";
const FORMAT: u32 = 1;

/// `checkpoint.json`: which checkpoint folder is current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version.
    pub format: u32,
    /// Optimiser steps done at the checkpoint.
    pub step: u64,
    /// The folder, relative to the run folder.
    pub dir: String,
    /// The previous checkpoint folder, kept as a fallback (absent before the second checkpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

type Rec = NamedMpkFileRecorder<FullPrecisionSettings>;

fn rec_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::checkpoint(path, e.to_string())
}

/// Everything a checkpoint holds besides the model and the optimiser.
pub struct Extras<'a, S: Serialize> {
    /// The loop state.
    pub state: &'a S,
    /// File name and text of the resolved spec.
    pub spec: (&'a str, &'a str),
}

/// Writes the checkpoint of `step` into `run_dir` and makes it current.
pub fn save<B, M, O, S>(
    run_dir: &Path,
    step: u64,
    model: &M,
    optim: &O,
    extras: Extras<'_, S>,
) -> Result<PathBuf>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
    S: Serialize,
{
    let name = format!("ckpt-{step:08}");
    let tmp = run_dir.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).at(&tmp)?;
    }
    if let Err(e) = fill::<B, M, O, S>(&tmp, run_dir, model, optim, extras) {
        // Leave nothing half-written behind (on a full disk it would keep the disk full).
        let _ = std::fs::remove_dir_all(&tmp);
        // Model and optimiser state: about three f32 copies of the parameters.
        let needed = model.num_params() as u64 * 12;
        return Err(match crate::fsutil::full_disk_note(run_dir, needed) {
            Some(note) => {
                // burn's record writer tells a full disk as a MessagePack error, worth quoting; a cause
                // already told as a full disk would only repeat the note.
                let cause = match e.is_disk_full() {
                    true => String::new(),
                    false => format!(". The write failed with: {e}"),
                };
                TrainError::DiskFull {
                    path: run_dir.to_path_buf(),
                    message: format!("checkpoint: {note}{cause}"),
                }
            }
            None => e,
        });
    }
    let previous = previous_good(run_dir, &name);

    let dest = run_dir.join(&name);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).at(&dest)?;
    }
    std::fs::rename(&tmp, &dest).at(&dest)?;
    sync_dir(run_dir);
    write_json(
        &run_dir.join(MANIFEST_FILE),
        &Manifest {
            format: FORMAT,
            step,
            dir: name.clone(),
            previous: previous.clone(),
        },
    )?;
    for entry in std::fs::read_dir(run_dir).at(run_dir)? {
        let entry = entry.at(run_dir)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let stale = (file_name.starts_with("ckpt-") || file_name.starts_with(".ckpt-"))
            && file_name != name
            && Some(&file_name) != previous.as_ref();
        if stale && entry.path().is_dir() {
            std::fs::remove_dir_all(entry.path()).at(entry.path())?;
        }
    }
    Ok(dest)
}

/// Writes every file of a checkpoint into the folder `tmp` and syncs them.
fn fill<B, M, O, S>(
    tmp: &Path,
    run_dir: &Path,
    model: &M,
    optim: &O,
    extras: Extras<'_, S>,
) -> Result<()>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
    S: Serialize,
{
    std::fs::create_dir_all(tmp).at(tmp)?;
    let rec = Rec::new();
    Recorder::<B>::record(&rec, model.clone().into_record(), tmp.join(MODEL))
        .map_err(|e| rec_err(tmp, e))?;
    Recorder::<B>::record(&rec, optim.to_record(), tmp.join(OPTIMIZER))
        .map_err(|e| rec_err(tmp, e))?;
    for file in [MODEL, OPTIMIZER] {
        crate::checksum::canonicalise_mpk(&tmp.join(format!("{file}.mpk")))?;
    }
    write_json(&tmp.join(STATE_FILE), extras.state)?;
    write_atomic(&tmp.join(extras.spec.0), extras.spec.1.as_bytes())?;
    let metrics = run_dir.join(METRICS_FILE);
    if metrics.is_file() {
        std::fs::copy(&metrics, tmp.join(METRICS_FILE)).at(&metrics)?;
    }
    crate::checksum::write(tmp)?;
    for entry in std::fs::read_dir(tmp).at(tmp)? {
        let path = entry.at(tmp)?.path();
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .at(&path)?;
    }
    sync_dir(tmp);
    Ok(())
}

/// The checkpoint to keep as the fallback when `current` becomes current: the manifest's current folder if
/// it is intact, else its own fallback if that still is.
fn previous_good(run_dir: &Path, current: &str) -> Option<String> {
    let manifest: Manifest = read_json(&run_dir.join(MANIFEST_FILE)).ok()?;
    [Some(manifest.dir), manifest.previous]
        .into_iter()
        .flatten()
        .find(|d| d != current && check(&run_dir.join(d)).is_ok())
}

/// A checkpoint folder is complete and its files match their checksums.
fn check(dir: &Path) -> Result<()> {
    if !dir.join(STATE_FILE).is_file() {
        return Err(TrainError::checkpoint(
            dir,
            format!("{MANIFEST_FILE} names this folder but it holds no {STATE_FILE}"),
        ));
    }
    crate::checksum::verify(dir)
}

/// The current checkpoint of `run_dir`, if it has one, checked against its checksums: a damaged one is an
/// error naming the damaged file.
pub fn latest(run_dir: &Path) -> Result<Option<(Manifest, PathBuf)>> {
    let path = run_dir.join(MANIFEST_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let manifest: Manifest = read_json(&path)?;
    let dir = run_dir.join(&manifest.dir);
    check(&dir)?;
    Ok(Some((manifest, dir)))
}

/// Like [`latest`], but when the current checkpoint is damaged, warns (naming the damage) and returns the
/// previous one if it is intact: what a resume starts from.
pub fn latest_good(run_dir: &Path) -> Result<Option<(Manifest, PathBuf)>> {
    let err = match latest(run_dir) {
        Ok(found) => return Ok(found),
        Err(e) => e,
    };
    let manifest: Option<Manifest> = read_json(&run_dir.join(MANIFEST_FILE)).ok();
    let Some(prev) = manifest.and_then(|m| m.previous) else {
        return Err(err);
    };
    let dir = run_dir.join(&prev);
    let state: Option<serde_json::Value> = read_json(&dir.join(STATE_FILE)).ok();
    let step = state.as_ref().and_then(|s| s["step"].as_u64());
    match (check(&dir), step) {
        (Ok(()), Some(step)) => {
            tracing::warn!(
                "{err}; resuming from the previous checkpoint {}",
                dir.display()
            );
            Ok(Some((
                Manifest {
                    format: FORMAT,
                    step,
                    dir: prev,
                    previous: None,
                },
                dir,
            )))
        }
        _ => Err(err),
    }
}

/// Reads the record `file` of the checkpoint in `dir` (`what` names it in errors). burn's record reader panics
/// on some damaged fields (an unreadable parameter id: `expect("Invalid id.")`); that panic is caught and
/// reported as the file's error, like any other damage it finds.
fn load_record<B: Backend, R: burn::record::Record<B>>(
    dir: &Path,
    file: &str,
    what: &str,
    device: &B::Device,
) -> Result<R> {
    let path = dir.join(file);
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Recorder::<B>::load(&Rec::new(), path.clone(), device)
    }));
    match loaded {
        Ok(record) => record.map_err(|e| rec_err(dir, format!("cannot load the {what}: {e}"))),
        Err(_) => Err(rec_err(
            dir,
            format!(
                "cannot load the {what}: {file}.mpk is damaged (the record reader gave up on a field)"
            ),
        )),
    }
}

/// Loads the model weights of the checkpoint in `dir` into `model`.
pub fn load_model<B: Backend, M: Module<B>>(model: M, dir: &Path, device: &B::Device) -> Result<M> {
    let record = load_record::<B, M::Record>(dir, MODEL, "model", device)?;
    Ok(model.load_record(record))
}

/// Loads the optimiser state of the checkpoint in `dir` into `optim`.
pub fn load_optimizer<B, M, O>(optim: O, dir: &Path, device: &B::Device) -> Result<O>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let record = load_record::<B, O::Record>(dir, OPTIMIZER, "optimiser state", device)?;
    Ok(optim.load_record(record))
}

/// Reads the loop state of the checkpoint in `dir`.
pub fn load_state<S: DeserializeOwned>(dir: &Path) -> Result<S> {
    read_json(&dir.join(STATE_FILE))
}

/// Puts the checkpoint's copy of `metrics.csv` back into the run folder, dropping rows written after it.
pub fn restore_metrics(run_dir: &Path, dir: &Path) -> Result<()> {
    let saved = dir.join(METRICS_FILE);
    let target = run_dir.join(METRICS_FILE);
    if saved.is_file() {
        crate::fsutil::copy_atomic(&saved, &target)
    } else {
        write_atomic(&target, b"")
    }
}
