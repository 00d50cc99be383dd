//! Atomic outputs, for the whole workspace: a file or a whole folder appears complete under its final
//! name, or not at all.
//!
//! A file is written to a temporary file in the destination folder, flushed, synced to disk, given the
//! ordinary mode `rw-r--r--` (0644) on Unix, renamed over the destination, and the folder entry is synced
//! (best effort). A failure (or a panic) before the rename removes the temporary file; every error names the
//! destination. Folders are filled under a temporary name next to the destination and renamed when complete.
//!
//! [`write_file`], [`write_bytes`] and [`write_json`] cover writers that stream into a file; [`AtomicFile`]
//! is for writers that want a path to write to (a chart backend, say) and is committed by hand.

use std::fs::File;
use std::io::{BufWriter, Write};
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

/// An I/O failure while writing `path`: always [`DataError::Io`] naming the destination (a missing folder is
/// not a missing input, so not [`DataError::NotFound`]).
fn write_err(path: &Path, cause: std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// A file being written under a temporary name in its destination's folder. [`AtomicFile::commit`] syncs it,
/// gives it mode 0644 and renames it to the destination; dropping it uncommitted removes it.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    /// Starts the file that will become `path`, creating its folder if needed. The temporary name ends
    /// with `path`'s extension, for writers that choose a format by it.
    pub fn create(path: &Path) -> Result<Self> {
        let dir = parent_of(path)?;
        std::fs::create_dir_all(dir).map_err(|e| write_err(path, e))?;
        let suffix = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .suffix(&suffix)
            .tempfile_in(dir)
            .map_err(|e| write_err(path, e))?;
        Ok(Self {
            tmp,
            dest: path.to_path_buf(),
        })
    }

    /// The temporary file's path, for writers that open the file themselves.
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Syncs the file, gives it mode 0644 (Unix) and renames it to its destination.
    pub fn commit(self) -> Result<()> {
        let path = self.dest;
        let file = self.tmp.as_file();
        file.sync_all().map_err(|e| write_err(&path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(|e| write_err(&path, e))?;
        }
        self.tmp
            .persist(&path)
            .map_err(|e| write_err(&path, e.error))?;
        // the rename itself, to disk (best effort: not every file system syncs folders)
        if let Ok(dir) = parent_of(&path)
            && let Ok(dir) = File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Writes `path` atomically: `fill` writes into a buffered temporary file in the same folder, which is
/// committed (synced, mode 0644, renamed onto `path`) only if `fill` succeeds. The error type is the
/// caller's, so `fill` can fail with its own errors.
pub fn write_file<E, F>(path: &Path, fill: F) -> std::result::Result<(), E>
where
    E: From<DataError>,
    F: FnOnce(&mut BufWriter<File>) -> std::result::Result<(), E>,
{
    let mut out = AtomicFile::create(path)?;
    let file = out.file().try_clone().map_err(|e| write_err(path, e))?;
    let mut writer = BufWriter::new(file);
    fill(&mut writer)?;
    writer.flush().map_err(|e| write_err(path, e))?;
    drop(writer);
    out.commit()?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, |w| w.write_all(bytes).map_err(|e| write_err(path, e)))
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
        std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
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
            .map_err(|e| write_err(parent, e))?;
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

    /// The files in `dir`, by name.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn written_file_has_mode_0644_and_no_temp_file_remains() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("out.json");
        write_bytes(&path, b"whole").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        assert_eq!(names(&dir.path().join("sub")), ["out.json"]);
        // replacing an existing file
        write_file(&path, |w| {
            w.write_all(b"again").map_err(|e| write_err(&path, e))
        })
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"again");
        assert_eq!(names(&dir.path().join("sub")), ["out.json"]);
    }

    #[test]
    fn failed_file_write_leaves_nothing_and_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let err = write_file(&path, |w| {
            w.write_all(b"partial").unwrap();
            Err(DataError::config("test", "stop half way"))
        });
        assert!(err.is_err());
        assert!(!path.exists());
        assert!(names(dir.path()).is_empty());

        // the target folder cannot be created: a file stands where it should be
        std::fs::write(dir.path().join("blocker"), b"").unwrap();
        let path = dir.path().join("blocker").join("out.json");
        let err = write_bytes(&path, b"x").unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(names(dir.path()), ["blocker"]);

        // an uncommitted AtomicFile leaves nothing either
        let path = dir.path().join("chart.png");
        let out = AtomicFile::create(&path).unwrap();
        assert!(out.temp_path().to_string_lossy().ends_with(".png"));
        std::fs::write(out.temp_path(), b"png").unwrap();
        drop(out);
        assert_eq!(names(dir.path()), ["blocker"]);
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
