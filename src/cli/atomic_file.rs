//! The one way this crate writes a file: into a temporary file in the same
//! directory, flushed to disk, then renamed over the target. A reader (or a
//! crash) sees the old file or the new one, never half of either. Every file
//! the CLI writes goes through [`write_atomic`].

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writes within one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Why a file could not be written; names the path.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The file we meant to write.
    pub path: PathBuf,
    /// The operating-system error.
    pub source: std::io::Error,
}

/// Writes `bytes` to `path` atomically: a temp file beside it, `fsync`, then
/// `rename`. On any failure the temp file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let tmp = temp_path_beside(path)?;
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        Ok(())
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(WriteError {
            path: path.to_path_buf(),
            source,
        });
    }
    publish(&tmp, path)
}

/// A path for a temporary file in `path`'s directory (so that the final
/// rename stays on one filesystem, and is atomic) that does not exist yet.
pub fn temp_path_beside(path: &Path) -> Result<PathBuf, WriteError> {
    let fail = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| fail(std::io::Error::other("the path has no file name")))?;
    Ok(dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )))
}

/// Makes a finished temporary file the file at `path`: `fsync` it, rename it
/// over `path`, and `fsync` the directory so that the rename survives a
/// power cut. On failure the temporary file is removed and `path` untouched.
pub fn publish(tmp: &Path, path: &Path) -> Result<(), WriteError> {
    let result = (|| {
        File::open(tmp)?.sync_all()?;
        fs::rename(tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Not every platform can open a directory; the rename is done.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(tmp);
        return Err(WriteError {
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_the_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        fs::write(&path, b"old").unwrap();
        write_atomic(&path, b"new contents").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new contents");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn write_atomic_into_a_missing_directory_fails_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/out.csv");
        let err = write_atomic(&path, b"x").unwrap_err();
        assert!(err.to_string().contains("no/such/dir/out.csv"), "{err}");
    }
}
