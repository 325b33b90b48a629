//! The dataset's files as the writer finds them: parts and sidecars by
//! hour, the files a rewrite replaces, temporary files a killed writer left,
//! partitions past their retention.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{HOUR_KEY, REPLACES_KEY, utc_date};
use crate::layout;
use crate::{OutputError, io_err};

/// Adds the exact durations a replaced part's sidecar holds for hour `b`
/// (per slice: the flows they are for and their sum) to `old`.
pub(super) fn earlier_exact(part: &Path, b: u64, old: &mut [(u64, u64); 4]) {
    let Ok(t) = crate::aggregate::read(&layout::sidecar_of(part)) else {
        return;
    };
    for (i, scope) in crate::aggregate::SCOPES.iter().enumerate() {
        if let Some(bin) = t.get(&(b, *scope, "total", "all".to_owned())) {
            old[i].0 += bin.exact_duration_flows;
            old[i].1 += bin.exact_duration_ms;
        }
    }
}

/// Writes a part's sidecar; false (and none left behind) when it cannot.
pub(super) fn write_sidecar(
    part: &Path,
    t: &crate::aggregate::Tables,
    meta: &[(String, String)],
    granularity_ms: u64,
) -> bool {
    let side = layout::sidecar_of(part);
    let written = crate::aggregate::write(&side, t, meta)
        .and_then(|()| crate::files::coarsen_mtime(&side, granularity_ms));
    if written.is_err() {
        let _ = std::fs::remove_file(&side);
    }
    written.is_ok()
}

/// The completed files of a date directory by the bucket they hold.
pub(super) type HourIndex = BTreeMap<u64, Vec<PathBuf>>;

/// The hour and the replaced files a data file's metadata names.
fn file_hour_and_replaces(path: &Path) -> Result<(Option<u64>, Vec<String>), OutputError> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let meta = parquet::file::reader::SerializedFileReader::new(f).map_err(|source| {
        OutputError::Parquet {
            path: path.to_owned(),
            source,
        }
    })?;
    use parquet::file::reader::FileReader;
    let kv = meta.metadata().file_metadata().key_value_metadata();
    let value = |key: &str| {
        kv.and_then(|kv| {
            kv.iter()
                .find(|k| k.key == key)
                .and_then(|k| k.value.clone())
        })
    };
    let replaced = value(REPLACES_KEY)
        .map(|r| r.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    Ok((
        value(HOUR_KEY).and_then(|h| h.parse::<u64>().ok()),
        replaced,
    ))
}

/// The data files of `dir` (`prefix*.parquet`).
fn data_files(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, OutputError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(layout::PART_EXT) {
            out.push(e.path());
        }
    }
    Ok(out)
}

/// Files of a day directory that a newer file replaces but that are still
/// there (a rewrite interrupted by a crash, before the next writer of the
/// node removes them): a reader would count their flows twice.
pub fn replaced_files(dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let mut out = Vec::new();
    for prefix in [layout::PART_PREFIX, crate::aggregate::AGG_PREFIX] {
        for path in data_files(dir, prefix)? {
            for name in file_hour_and_replaces(&path)?.1 {
                let p = dir.join(&name);
                if p.is_file() && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The completed files of `dir` that hold each bucket (by their
/// [`HOUR_KEY`]): aggregate files, or parts.
pub(super) fn hour_index(dir: &Path, aggregates: bool) -> Result<HourIndex, OutputError> {
    let prefix = if aggregates {
        crate::aggregate::AGG_PREFIX
    } else {
        layout::PART_PREFIX
    };
    let mut out = HourIndex::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut replaced: Vec<String> = Vec::new();
    for path in data_files(dir, prefix)? {
        let (hour, r) = file_hour_and_replaces(&path)?;
        replaced.extend(r);
        if let Some(h) = hour {
            out.entry(h).or_default().push(path);
        }
    }
    // A rewrite that a crash interrupted after its new file was complete:
    // the files it replaces go now (they would count the hour twice).
    for name in replaced {
        let path = dir.join(&name);
        if std::fs::remove_file(&path).is_ok() {
            let _ = std::fs::remove_file(layout::sidecar_of(&path));
            for files in out.values_mut() {
                files.retain(|f| f != &path);
            }
        }
    }
    Ok(out)
}

/// Removes the temporary files that a killed writer left in a node's
/// directory (`.part-<hex>.parquet.<pid>.tmp` whose process is gone):
/// they were never completed, no reader looks at them, and a restart must
/// not let them pile up. Returns the files removed.
pub fn remove_stale_temp_files(node_dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let mut removed = Vec::new();
    let dates = match std::fs::read_dir(node_dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(io_err(node_dir)(e)),
    };
    for d in dates {
        let d = d.map_err(io_err(node_dir))?;
        if !d
            .file_name()
            .to_string_lossy()
            .starts_with(layout::DATE_PREFIX)
        {
            continue;
        }
        let dir = d.path();
        for f in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let f = f.map_err(io_err(&dir))?;
            let name = f.file_name().to_string_lossy().into_owned();
            let Some(pid) = crate::files::temp_pid(&name) else {
                continue;
            };
            if Path::new(&format!("/proc/{pid}")).exists() && pid != 0 {
                continue;
            }
            let path = f.path();
            std::fs::remove_file(&path).map_err(io_err(&path))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Deletes the node's `date=` partitions more than `days` days before the
/// UTC day of `now_ms` (the retention setting); returns what it removed.
/// Totals are kept: they are counters, not flows.
pub fn apply_retention(
    node_dir: &Path,
    days: u32,
    now_ms: u64,
) -> Result<Vec<PathBuf>, OutputError> {
    let cutoff = utc_date(now_ms.saturating_sub(u64::from(days) * 86_400_000));
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(node_dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(io_err(node_dir)(e)),
    };
    for e in entries {
        let e = e.map_err(io_err(node_dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        // Dates in YYYY-MM-DD order as strings.
        let Some(date) = name.strip_prefix(layout::DATE_PREFIX) else {
            continue;
        };
        if date.len() == 10 && date < cutoff.as_str() {
            let p = e.path();
            std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
            removed.push(p);
        }
    }
    removed.sort();
    Ok(removed)
}
