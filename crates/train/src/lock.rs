//! One writer per run folder: the process training into a folder (`ablate train`, `ablate finetune`, or a
//! sweep's stage) holds an exclusive lock on its `.lock` file for as long as it runs, so a second trainer
//! started on the same folder is refused instead of "resuming" into it alongside. Readers of a pre-trained
//! run (`ablate eval`, `attention`, `finetune`'s encoder) hold a shared lock, so they never read a checkpoint
//! a trainer is replacing, and any number of them may read at once. The lock is the operating
//! system's advisory file lock: it goes away with the process, however that ends, so a killed run never
//! leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{IoContext, Result, TrainError};

/// The lock file in a run folder.
pub const LOCK_FILE: &str = ".lock";

/// The held lock of a run folder; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Opens (creating it if needed) the lock file of the run folder `dir`.
fn open_lock_file(dir: &Path) -> Result<(std::path::PathBuf, File)> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .at(&path)?;
    Ok((path, file))
}

/// What the lock file says about its holder (`pid N` of the last trainer), if anything.
fn holder_of(file: &mut File) -> Option<String> {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Takes the lock of `dir` (which must exist) and writes this process's id into it, or says which process
/// holds it.
pub fn lock_run_folder(dir: &Path) -> Result<RunLock> {
    let (path, mut file) = open_lock_file(dir)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = match holder_of(&mut file) {
                Some(h) => {
                    format!("another process (the last trainer was {h}; or a reader of the run)")
                }
                None => "another process".to_string(),
            };
            return Err(TrainError::input(
                dir.display().to_string(),
                format!(
                    "{holder} is using this folder (it holds {}); wait for it to finish or stop \
                     it, then run this command again",
                    path.display()
                ),
            ));
        }
        Err(TryLockError::Error(e)) => return Err(e).at(&path),
    }
    file.set_len(0).at(&path)?;
    file.seek(SeekFrom::Start(0)).at(&path)?;
    writeln!(file, "pid {}", std::process::id()).at(&path)?;
    Ok(RunLock { _file: file })
}

/// Takes a shared (reading) lock on the run folder `dir`, or says which trainer is writing into it.
pub fn lock_run_folder_shared(dir: &Path) -> Result<RunLock> {
    let (path, mut file) = open_lock_file(dir)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(RunLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(TrainError::run_folder(
            dir,
            format!(
                "a trainer ({}) is writing into it; wait for it to finish (or stop it), then run this \
                 command again",
                holder_of(&mut file).unwrap_or_else(|| "another process".to_string())
            ),
        )),
        Err(TryLockError::Error(e)) => Err(e).at(&path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_run_folder(dir.path()).unwrap();
        let err = lock_run_folder(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())) && err.contains(LOCK_FILE),
            "{err}"
        );
        drop(held);
        lock_run_folder(dir.path()).unwrap();
    }

    #[test]
    fn readers_share_the_folder_but_never_with_a_trainer() {
        let dir = tempfile::tempdir().unwrap();
        let a = lock_run_folder_shared(dir.path()).unwrap();
        let b = lock_run_folder_shared(dir.path()).unwrap();
        assert!(
            lock_run_folder(dir.path()).is_err(),
            "a trainer while reading"
        );
        drop((a, b));
        let trainer = lock_run_folder(dir.path()).unwrap();
        let err = lock_run_folder_shared(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())) && err.contains("writing"),
            "{err}"
        );
        drop(trainer);
        lock_run_folder_shared(dir.path()).unwrap();
    }
}
