//! Creating output files safely: never through a planted symlink, never
//! readable by other users, never half-written under the final name.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{OutputError, io_err};

/// Mode of every file exitflow writes: owner read-write, group read (an
/// analysis group may read datasets; other users may not).
pub const FILE_MODE: u32 = 0o640;

/// Creates `path` as a new file with [`FILE_MODE`]. Whatever is at `path`
/// already (a temporary file a killed run left, or a symlink someone
/// planted) is removed first, without following it; if something appears
/// there again before the file is created, this fails instead of writing
/// through it (`O_CREAT|O_EXCL` does not follow symlinks).
pub fn create_new(path: &Path) -> Result<File, OutputError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(io_err(path)(std::io::Error::other(
                "a directory is in the way",
            )));
        }
        Ok(_) => std::fs::remove_file(path).map_err(io_err(path))?,
        Err(_) => {}
    }
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, FILE_MODE);
    o.open(path).map_err(io_err(path))
}

/// The hidden temporary name a file is written under before it is renamed:
/// `.NAME.PID.tmp`, so that a restart can tell a dead writer's leftovers
/// ([`temp_pid`]) from a live one's.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// The writer's process id in a [`temp_path`] name.
pub fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    rest.rsplit_once('.')?.1.parse().ok()
}

/// A random name part (hex), from the operating system's generator: file
/// names must not tell when, or in which order, files were written.
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the operating system's random generator");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The current time rounded down to `granularity_ms`; `None` when exact.
fn coarse_now(granularity_ms: u64) -> Option<std::time::SystemTime> {
    if granularity_ms <= 1 {
        return None;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_millis(now - now % granularity_ms))
}

fn set_times(f: &std::fs::File, path: &Path, t: std::time::SystemTime) -> Result<(), OutputError> {
    f.set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))
        .map_err(io_err(path))
}

/// Sets a completed file's modification time down to the granularity, so
/// the filesystem does not keep a finer time than the rows do.
pub fn coarsen_mtime(path: &Path, granularity_ms: u64) -> Result<(), OutputError> {
    let Some(t) = coarse_now(granularity_ms) else {
        return Ok(());
    };
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    set_times(&f, path, t)
}

/// Writes `bytes` to `path` whole or not at all: a new temporary file
/// ([`create_new`]), synced, then renamed over `path` (a rename replaces a
/// symlink at `path` rather than following it).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_atomic_coarse(path, bytes, 1)
}

/// [`write_atomic`], the file's times rounded down to `granularity_ms`
/// before the rename (which keeps them): once `path` is replaced nothing
/// can fail, so a caller never retries what was already written.
pub fn write_atomic_coarse(
    path: &Path,
    bytes: &[u8],
    granularity_ms: u64,
) -> Result<(), OutputError> {
    let tmp = temp_path(path);
    let mut f = create_new(&tmp)?;
    let done = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err(&tmp))
        .and_then(|()| match coarse_now(granularity_ms) {
            Some(t) => set_times(&f, &tmp, t),
            None => Ok(()),
        });
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Review finding 7: a planted `._totals.json.tmp` symlink made
    /// `ingest` overwrite another file; files were created 0644.
    #[test]
    fn a_planted_symlink_is_replaced_not_followed_and_files_are_0640() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let out = d.path().join("_totals.json");
        std::os::unix::fs::symlink(&victim, temp_path(&out)).unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join("direct")).unwrap();
        write_atomic(&out, b"{}").unwrap();
        write_atomic(&d.path().join("direct"), b"{}").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(&out).unwrap(), b"{}");
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
        assert!(!temp_path(&out).exists());
    }
}
