//! Small file helpers of the run folder: JSON files and copies written through the workspace's atomic
//! writer ([`ablate_data::write_bytes`]: a temporary file in the target's folder, synced, given mode 0644,
//! then renamed over the target), so a kill at any moment leaves either the old or the new file, never half
//! of one.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{IoContext, Result, TrainError};

/// Writes `bytes` to `path` atomically, creating the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(ablate_data::write_bytes(path, bytes)?)
}

/// Writes `value` as pretty JSON, with a final newline, to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| TrainError::input(path.display().to_string(), e.to_string()))?;
    write_atomic(path, format!("{text}\n").as_bytes())
}

/// Reads JSON from `path`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).at(path)?;
    serde_json::from_str(&text).map_err(|e| {
        TrainError::input(
            path.display().to_string(),
            format!("not the expected JSON: {e}"),
        )
    })
}

/// Copies `from` to `to` atomically.
pub fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).at(from)?;
    write_atomic(to, &bytes)
}

/// Flushes a folder's entries (renames) to disk; best effort.
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// When the file system holding `dir` has less than `needed` bytes (and at least 1 MiB) free, a sentence saying
/// the disk is full, to lead the error of the write that failed (burn's record writer reports a full disk as a
/// MessagePack error); `None` otherwise.
pub fn full_disk_note(dir: &Path, needed: u64) -> Option<String> {
    let free = free_bytes(dir)?;
    (free < needed.max(1 << 20)).then(|| {
        format!(
            "the disk holding {} is full ({free} bytes free, a checkpoint needs about {needed}): free some \
             space, then run the same command again; it resumes from the last checkpoint",
            dir.display()
        )
    })
}

/// Bytes available to this user on the file system holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `s` a valid statvfs to fill.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_: &Path) -> Option<u64> {
    None
}
