//! nDPI's tables, read at run time: protocol names, categories and default
//! ports (`protocols.txt`), the host-name map (`services.txt`), the
//! address lists (`ip_lists.tsv`) and the certificate subjects
//! (`certificates.tsv`). They come from nDPI (LGPL-3.0-or-later),
//! so they are data beside the program, not part of it: replaceable and
//! updatable without a rebuild (THIRD-PARTY.md).
//!
//! The directory is the first of: the one a command names (`--data-dir`),
//! `$EXITFLOW_DATA_DIR`, `ndpi/` beside the executable,
//! `../share/exitflow/ndpi` from it (a prefix install), [`INSTALLED_DIR`]
//! (the Debian package), and the source tree's `data/ndpi` (only for a
//! binary run from inside the tree it was built from). A named directory
//! must hold the tables; the others are searched.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the Debian package installs the tables.
pub const INSTALLED_DIR: &str = "/usr/share/exitflow/ndpi";
/// Environment variable naming the tables' directory.
pub const DATA_DIR_ENV: &str = "EXITFLOW_DATA_DIR";
/// Protocol names, categories and default ports.
pub const PROTOCOLS_FILE: &str = "protocols.txt";
/// Server-name domains of services.
pub const SERVICES_FILE: &str = "services.txt";
/// Address prefixes of services.
pub const IP_LISTS_FILE: &str = "ip_lists.tsv";
/// Texts in a TLS server certificate's subject that name a service.
pub const CERTIFICATES_FILE: &str = "certificates.tsv";
/// Largest table file read (the shipped ones are under 1 MiB).
pub const MAX_TABLE_BYTES: u64 = 16 << 20;

/// The tables could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// No directory searched holds the tables.
    #[error(
        "nDPI's tables ({PROTOCOLS_FILE}, {SERVICES_FILE}, {IP_LISTS_FILE}, {CERTIFICATES_FILE}) were not found in any of: {}; install them there or name their directory with --data-dir or {DATA_DIR_ENV}",
        .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound(Vec<PathBuf>),
    /// A file could not be read.
    #[error("{}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_TABLE_BYTES`].
    #[error("{}: larger than {MAX_TABLE_BYTES} bytes", .0.display())]
    TooLarge(PathBuf),
    /// A line of a table is malformed, or names a protocol the other
    /// tables or the code need but the protocol table lacks.
    #[error("{}:{line}: {what}", path.display())]
    Bad {
        /// The file.
        path: PathBuf,
        /// Line number (1-based; 0: the file as a whole).
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// Loaded already, from another directory.
    #[error("nDPI's tables were loaded from {} already", .0.display())]
    AlreadyLoaded(PathBuf),
}

/// The tables' text and where it was read (kept only while the tables
/// are built).
pub(crate) struct Text {
    pub(crate) dir: PathBuf,
    pub(crate) protocols: String,
    pub(crate) services: String,
    pub(crate) ip_lists: String,
    pub(crate) certificates: String,
}

/// The tables, built and checked once, and where they came from.
pub struct Tables {
    /// The directory they were read from.
    pub dir: PathBuf,
    pub(crate) registry: crate::registry::Registry,
    pub(crate) lists: crate::iplist::Lists,
    pub(crate) certificates: crate::tls::subjects::Subjects,
}

static TABLES: OnceLock<Tables> = OnceLock::new();

/// The directories searched, in order, when none is named.
pub fn search_path() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        v.push(PathBuf::from(d));
        return v;
    }
    let exe = std::env::current_exe().ok();
    if let Some(dir) = exe.as_deref().and_then(Path::parent) {
        v.push(dir.join("ndpi"));
        v.push(dir.join("../share/exitflow/ndpi"));
    }
    v.push(PathBuf::from(INSTALLED_DIR));
    // A build run from inside the source tree it was built from (`cargo
    // run`, the tests, the fuzzers): that tree's tables. An installed copy
    // never looks there, so a directory someone recreates at the build's
    // path cannot supply its tables.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let (Some(exe), Some(tree)) = (&exe, crate_dir.parent().and_then(Path::parent))
        && exe.starts_with(tree)
    {
        v.push(crate_dir.join("data/ndpi"));
    }
    v
}

fn read(dir: &Path, name: &str) -> Result<String, DataError> {
    let path = dir.join(name);
    let meta = std::fs::metadata(&path).map_err(|source| DataError::Read {
        path: path.clone(),
        source,
    })?;
    if meta.len() > MAX_TABLE_BYTES {
        return Err(DataError::TooLarge(path));
    }
    let bytes = std::fs::read(&path).map_err(|source| DataError::Read {
        path: path.clone(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| DataError::Bad {
        path,
        line: 0,
        what: "not UTF-8 text".into(),
    })
}

/// Reads and checks the tables of `dir`.
fn read_dir(dir: &Path) -> Result<Tables, DataError> {
    let text = Text {
        dir: dir.to_owned(),
        protocols: read(dir, PROTOCOLS_FILE)?,
        services: read(dir, SERVICES_FILE)?,
        ip_lists: read(dir, IP_LISTS_FILE)?,
        certificates: read(dir, CERTIFICATES_FILE)?,
    };
    let registry = crate::registry::build(&text)?;
    let lists = crate::iplist::build(&text, &registry)?;
    let certificates = crate::tls::subjects::build(&text, &registry)?;
    Ok(Tables {
        dir: text.dir,
        registry,
        lists,
        certificates,
    })
}

/// Loads the tables from `dir`, or from the first directory of
/// [`search_path`] that holds them; returns the directory used. Checks
/// every line, and that every protocol the code and the address lists name
/// is in the protocol table, so that inspection never meets a missing name.
/// Loading twice from the same directory (or searching again) is a no-op.
pub fn load(dir: Option<&Path>) -> Result<&'static Path, DataError> {
    if let Some(t) = TABLES.get() {
        return match dir {
            Some(d) if d != t.dir => Err(DataError::AlreadyLoaded(t.dir.clone())),
            _ => Ok(&t.dir),
        };
    }
    let t = match dir {
        Some(d) => read_dir(d)?,
        None => {
            let path = search_path();
            let found = path.iter().find(|d| d.join(PROTOCOLS_FILE).is_file());
            match found {
                Some(d) => read_dir(d)?,
                None => return Err(DataError::NotFound(path)),
            }
        }
    };
    Ok(&TABLES.get_or_init(|| t).dir)
}

/// The tables, searched for and loaded on first use. A program calls
/// [`load`] first, to report a missing or bad directory as an error; a
/// library user that did not gets a panic with the same message here.
pub fn tables() -> &'static Tables {
    if let Some(t) = TABLES.get() {
        return t;
    }
    if let Err(e) = load(None) {
        let cause = std::error::Error::source(&e).map(|s| format!(": {s}"));
        panic!("{e}{}", cause.unwrap_or_default());
    }
    TABLES.get().expect("loaded")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_tables(dir: &Path, protocols: &str) {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ndpi");
        for f in [SERVICES_FILE, IP_LISTS_FILE, CERTIFICATES_FILE] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        std::fs::write(dir.join(PROTOCOLS_FILE), protocols).unwrap();
    }

    #[test]
    fn a_bad_or_incomplete_table_is_an_error_naming_the_file_and_line() {
        let d = std::env::temp_dir().join(format!("exitflow-dpi-data-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data/ndpi")
                .join(PROTOCOLS_FILE),
        )
        .unwrap();
        // A line with a field missing.
        write_tables(&d, &format!("{shipped}Broken Web 80\n"));
        let e = read_dir(&d).err().expect("refused").to_string();
        assert!(
            e.contains("protocols.txt:") && e.contains("4 fields"),
            "{e}"
        );
        // A port out of range.
        write_tables(&d, &format!("{shipped}Broken Web 99999 -\n"));
        let e = read_dir(&d).err().expect("refused").to_string();
        assert!(e.contains("99999"), "{e}");
        // A protocol the code needs, missing: a known id (QUIC), a
        // table row's (SSH), a detector's alternate (UMAS, `Match::WithApp`).
        for name in ["QUIC", "SSH", "UMAS"] {
            let without: String = shipped
                .lines()
                .filter(|l| l.split_whitespace().next() != Some(name))
                .map(|l| format!("{l}\n"))
                .collect();
            write_tables(&d, &without);
            let e = read_dir(&d).err().expect("refused").to_string();
            assert!(e.contains(name) && e.contains("missing"), "{e}");
        }
        // Unknown not first.
        let unknown_last: String = shipped
            .lines()
            .filter(|l| !l.starts_with("Unknown "))
            .chain(shipped.lines().filter(|l| l.starts_with("Unknown ")))
            .map(|l| format!("{l}\n"))
            .collect();
        write_tables(&d, &unknown_last);
        let e = read_dir(&d).err().expect("refused").to_string();
        assert!(e.contains("must be Unknown"), "{e}");
        // A directory without the tables.
        let e = read_dir(&d.join("nowhere"))
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("nowhere") && e.contains("protocols.txt"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
