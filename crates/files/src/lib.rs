//! Files that a crash leaves whole: the old content or the new, never a torn mix. Card and phone
//! directories, trust anchors, CRLs and keys are all written this way.

use std::io::Write;
use std::path::Path;

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("I/O on {path}: {source}")]
pub struct FileError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    fn at(path: &Path, source: std::io::Error) -> FileError {
        FileError { path: path.display().to_string(), source }
    }
}

/// PEM armour (RFC 7468) of one DER object.
pub fn pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).expect("PEM encoding of bytes")
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsynced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(|e| FileError::at(dir, e))?;
    tmp.write_all(bytes).map_err(|e| FileError::at(path, e))?;
    tmp.as_file().sync_all().map_err(|e| FileError::at(path, e))?;
    tmp.persist(path).map_err(|e| FileError::at(path, e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable (best effort: not every platform can fsync a directory).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchor.pem");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, pem("CERTIFICATE", &[1, 2, 3]).as_bytes()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = write_atomic(&dir.path().join("missing/x"), b"x").unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
