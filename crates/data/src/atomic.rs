//! Atomic outputs: a file or a whole folder appears complete under its final name, or not at all.
//!
//! Files are written to a temporary file in the destination folder and renamed into place; folders
//! are filled under a temporary name next to the destination and renamed when complete. A failure
//! (or a panic) before that leaves the temporary behind only until its guard is dropped, which
//! removes it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{DataError, IoContext, Result};

fn parent_of(path: &Path) -> Result<&Path> {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Ok(Path::new(".")),
        Some(p) => Ok(p),
        None => Err(DataError::format(
            path,
            "an output path needs a parent folder",
        )),
    }
}

/// Writes `path` atomically: `fill` writes into a buffered temporary file in the same folder, which
/// is synced and renamed onto `path` only if `fill` succeeds.
pub fn write_file<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> Result<()>,
{
    let dir = parent_of(path)?;
    std::fs::create_dir_all(dir).at(dir)?;
    // Ordinary file permissions (0666 less the umask), not the private 0600 of temporary files.
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .at(dir)?;
    let mut writer = BufWriter::new(tmp.reopen().at(tmp.path())?);
    fill(&mut writer)?;
    writer.flush().at(tmp.path())?;
    let file = writer
        .into_inner()
        .map_err(|e| DataError::io(tmp.path(), e.into_error()))?;
    file.sync_all().at(tmp.path())?;
    tmp.persist(path)
        .map_err(|e| DataError::io(path, e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, |w| w.write_all(bytes).at(path))
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_bytes(path, &text)
}

/// Reads a JSON file into `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).at(path)?;
    serde_json::from_slice(&bytes).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// A folder built under a temporary name and renamed to its final name by [`AtomicDir::commit`].
///
/// Dropping it uncommitted removes the temporary folder and everything in it.
#[derive(Debug)]
pub struct AtomicDir {
    tmp: tempfile::TempDir,
    dest: PathBuf,
    marker: &'static str,
}

impl AtomicDir {
    /// Starts a folder that will become `dest`. `marker` is the name of a file every complete folder
    /// of this kind holds; an existing `dest` is replaced on commit only if it holds that file, so a
    /// folder this crate did not write is never deleted.
    pub fn create(dest: &Path, marker: &'static str) -> Result<Self> {
        let parent = parent_of(dest)?;
        std::fs::create_dir_all(parent).at(parent)?;
        if dest.exists() && !dest.join(marker).is_file() {
            return Err(DataError::format(
                dest,
                format!(
                    "the output folder exists and was not written by ablate (it has no {marker}); \
                     choose another --out or remove it"
                ),
            ));
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempdir_in(parent)
            .at(parent)?;
        Ok(AtomicDir {
            tmp,
            dest: dest.to_path_buf(),
            marker,
        })
    }

    /// The temporary folder to write into.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Renames the finished folder to its final name, replacing an earlier complete one.
    pub fn commit(self) -> Result<PathBuf> {
        if !self.tmp.path().join(self.marker).is_file() {
            return Err(DataError::format(
                self.tmp.path(),
                format!("internal: the folder is not complete (no {})", self.marker),
            ));
        }
        let parent = parent_of(&self.dest)?.to_path_buf();
        let old = if self.dest.exists() {
            let old = tempfile::Builder::new()
                .prefix(".old-")
                .tempdir_in(&parent)
                .at(&parent)?;
            let old_path = old.path().join("previous");
            std::fs::rename(&self.dest, &old_path).at(&self.dest)?;
            Some(old)
        } else {
            None
        };
        let tmp_path = self.tmp.keep();
        if let Err(e) = std::fs::rename(&tmp_path, &self.dest) {
            let _ = std::fs::remove_dir_all(&tmp_path);
            if let Some(old) = &old {
                let _ = std::fs::rename(old.path().join("previous"), &self.dest);
            }
            return Err(DataError::io(&self.dest, e));
        }
        drop(old);
        Ok(self.dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The group/other read bits the umask leaves (0o022 and 0o002 keep them; 0o077 does not).
    fn umask_guess() -> u32 {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("probe");
        std::fs::File::create(&p).unwrap();
        !std::fs::metadata(&p).unwrap().permissions().mode() & 0o044
    }

    #[test]
    fn failed_file_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let err = write_file(&path, |w| {
            w.write_all(b"partial").unwrap();
            Err(DataError::config("test", "stop half way"))
        });
        assert!(err.is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_bytes(&path, b"whole").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o044,
            0o044 & !umask_guess(),
            "readable like any other file"
        );
    }

    #[test]
    fn dir_appears_only_on_commit_and_replaces_own_kind_only() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("shards");
        {
            let d = AtomicDir::create(&dest, "index.json").unwrap();
            std::fs::write(d.path().join("a.bin"), b"x").unwrap();
            // dropped without commit
        }
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);

        let d = AtomicDir::create(&dest, "index.json").unwrap();
        std::fs::write(d.path().join("index.json"), b"{}").unwrap();
        d.commit().unwrap();
        assert!(dest.join("index.json").is_file());

        let d = AtomicDir::create(&dest, "index.json").unwrap();
        std::fs::write(d.path().join("index.json"), b"{\"v\":2}").unwrap();
        d.commit().unwrap();
        assert_eq!(
            std::fs::read(dest.join("index.json")).unwrap(),
            b"{\"v\":2}"
        );
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);

        let foreign = root.path().join("mine");
        std::fs::create_dir(&foreign).unwrap();
        let err = AtomicDir::create(&foreign, "index.json").unwrap_err();
        assert!(matches!(err, DataError::Format { .. }));
    }
}
