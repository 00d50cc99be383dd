//! Writing result files atomically: a temporary file in the target's folder, renamed into place on success,
//! so a failed or interrupted command never leaves a half-written file.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `path` through `fill`, atomically.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    {
        let mut buf = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut buf)?;
        buf.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    make_readable(tmp.as_file(), path)?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
}

/// Gives a finished result file the usual mode (rw-r--r--) instead of the temporary file's owner-only one.
pub fn make_readable(file: &std::fs::File, path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (file, path);
    Ok(())
}
