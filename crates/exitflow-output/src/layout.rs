//! The dataset's directory layout, defined once for the writer, the capture
//! service and the report: `ROOT/node=NAME/date=YYYY-MM-DD/part-*.parquet`,
//! with the node's totals in `ROOT/node=NAME/_totals.json`. Files starting
//! with `.` (in progress) or `_` (metadata) are not data: every Parquet
//! reader that understands Hive partitions skips them too.
use std::path::{Path, PathBuf};

/// Prefix of a node directory: `node=NAME`.
pub const NODE_PREFIX: &str = "node=";
/// Prefix of a date partition: `date=YYYY-MM-DD` (UTC).
pub const DATE_PREFIX: &str = "date=";
/// The node's running totals, in its directory.
pub const TOTALS_FILE: &str = "_totals.json";
/// Prefix of a completed data file.
pub const PART_PREFIX: &str = "part-";
/// Extension of a data file.
pub const PART_EXT: &str = ".parquet";
/// The marker `report --publish` leaves in a day directory it released:
/// flows written there afterwards are not in the release.
pub const RELEASED_MARKER: &str = "_released";

/// `ROOT/node=NAME`.
pub fn node_dir(root: &Path, node: &str) -> PathBuf {
    root.join(format!("{NODE_PREFIX}{node}"))
}

/// `NODE_DIR/date=YYYY-MM-DD`.
pub fn date_dir(node_dir: &Path, date: &str) -> PathBuf {
    node_dir.join(format!("{DATE_PREFIX}{date}"))
}

/// The node name of a directory name `node=NAME`.
pub fn node_of(dir_name: &str) -> Option<&str> {
    dir_name.strip_prefix(NODE_PREFIX)
}

/// Prefix of a part's sidecar: its rows as hourly aggregate tables
/// (`_agg-<id>.parquet` beside `part-<id>.parquet`; `_` keeps other
/// readers from counting them twice).
pub const SIDECAR_PREFIX: &str = "_agg-";

/// The sidecar of a part file.
pub fn sidecar_of(part: &Path) -> PathBuf {
    let name = part.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let id = name.strip_prefix(PART_PREFIX).unwrap_or(name);
    part.with_file_name(format!("{SIDECAR_PREFIX}{id}"))
}

/// Whether a file name is a completed data file (not in progress, not metadata).
pub fn is_data_file(name: &str) -> bool {
    name.ends_with(PART_EXT) && !name.starts_with('.') && !name.starts_with('_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_temporary_files_are_not_data() {
        let n = node_dir(Path::new("/d"), "relay-1");
        assert_eq!(n, Path::new("/d/node=relay-1"));
        assert_eq!(node_of("node=relay-1"), Some("relay-1"));
        assert_eq!(
            date_dir(&n, "2026-01-02"),
            Path::new("/d/node=relay-1/date=2026-01-02")
        );
        assert!(is_data_file("part-1-2-00000.parquet"));
        assert!(!is_data_file(".part-1-2-00000.parquet.tmp"));
        assert!(!is_data_file("_totals.json"));
        assert_eq!(
            sidecar_of(Path::new("/d/date=x/part-ab12.parquet")),
            Path::new("/d/date=x/_agg-ab12.parquet")
        );
        assert!(!is_data_file("_agg-ab12.parquet"));
    }
}
