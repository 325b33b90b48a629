//! The dataset: Parquet files in a Hive layout
//! `node=NAME/date=YYYY-MM-DD/part-*.parquet`, rotated by rows, size and age,
//! each written under a temporary name (starting with `.`, so dataset readers
//! skip it) and renamed when complete; plus per-node totals in
//! `node=NAME/_totals.json` (readers skip `_` files too).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::layout;
use crate::schema::{Record, Selection};
use crate::writers::{FlowWriter, Format};
use crate::{OutputError, io_err};

/// Bins of a part's sidecar aggregate tables: an hour, or the profile's
/// granularity when coarser.
pub const SIDECAR_BIN_MS: u64 = 3_600_000;
/// A part file is closed once it holds this many rows.
pub const DEFAULT_ROTATE_ROWS: u64 = 4_000_000;
/// A part file is closed once it reaches about this size.
pub const DEFAULT_ROTATE_BYTES: u64 = 256 << 20;
/// A part file is closed once it has been open this long (live capture).
pub const DEFAULT_ROTATE_AGE: Duration = Duration::from_secs(3600);
/// Most date partitions open at once; the oldest is closed beyond it.
pub const MAX_OPEN_PARTITIONS: usize = 8;
/// How long after a time bucket ends its rows may still arrive (a flow is
/// exported when it ends: up to the active timeout plus the idle timeout
/// after it started), before the bucket is written.
pub const DEFAULT_HOLD_MS: u64 = 1_800_000 + 120_000;
/// Most rows held back for shuffling; beyond, the oldest bucket is written
/// early (counted in [`DatasetWriter::spilled`]).
pub const DEFAULT_MAX_HELD_ROWS: usize = 65_536;
/// Random bytes in a part file's name (`part-<hex>.parquet`).
pub const PART_NAME_RANDOM_BYTES: usize = 16;
/// Version of the column layout, stored in every file's metadata.
pub const SCHEMA_VERSION: &str = "1";

/// Dataset settings.
#[derive(Clone, Debug)]
pub struct DatasetConfig {
    /// Dataset root directory.
    pub root: PathBuf,
    /// Node (relay) name: the `node=` partition.
    pub node: String,
    /// See [`DEFAULT_ROTATE_ROWS`].
    pub rotate_rows: u64,
    /// See [`DEFAULT_ROTATE_BYTES`].
    pub rotate_bytes: u64,
    /// See [`DEFAULT_ROTATE_AGE`].
    pub rotate_age: Duration,
    /// Optional column groups written.
    pub selection: Selection,
    /// Key/value pairs stored in every file (policy, tool version, ...).
    pub metadata: Vec<(String, String)>,
    /// Completed files' modification times are rounded down to this (ms).
    /// Above 1 ms, rows are also held per time bucket of this size and
    /// each bucket is written, shuffled, into files of its own: neither a
    /// file nor the order of its rows tells more than the bucket.
    pub time_granularity_ms: u64,
    /// See [`DEFAULT_HOLD_MS`].
    pub hold_ms: u64,
    /// See [`DEFAULT_MAX_HELD_ROWS`].
    pub max_held_rows: usize,
    /// Write hourly aggregate tables instead of rows (the strict profile;
    /// needs a granularity).
    pub aggregates_only: bool,
}

impl DatasetConfig {
    /// Defaults for a root and node.
    pub fn new(root: &Path, node: &str) -> DatasetConfig {
        DatasetConfig {
            root: root.to_owned(),
            node: node.to_owned(),
            rotate_rows: DEFAULT_ROTATE_ROWS,
            rotate_bytes: DEFAULT_ROTATE_BYTES,
            rotate_age: DEFAULT_ROTATE_AGE,
            selection: Selection::default(),
            metadata: Vec::new(),
            time_granularity_ms: 1,
            hold_ms: DEFAULT_HOLD_MS,
            max_held_rows: DEFAULT_MAX_HELD_ROWS,
            aggregates_only: false,
        }
    }
}

/// Per-node totals, accumulated over every ingest into the dataset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTotals {
    /// Node name.
    pub node: String,
    /// Captures (or capture sessions) ingested.
    pub captures: u64,
    /// Flows written.
    pub flows: u64,
    /// Flows with at most 4 packets.
    pub failed_flows: u64,
    /// Packets metered into flows.
    pub packets: u64,
    /// Bytes metered (original frame lengths).
    pub bytes: u64,
    /// Frames not metered, by reason.
    pub ignored_packets: BTreeMap<String, u64>,
    /// Flows evicted from a full table.
    pub evicted_flows: u64,
    /// Unanswered TCP flows expired by the half-open timeout.
    pub half_open_expired: u64,
    /// Parquet files completed.
    pub files: u64,
    /// Bytes of Parquet files completed.
    pub dataset_bytes: u64,
    /// Flows metered but never written (live capture: the dataset could
    /// not be written and the write buffer was full).
    #[serde(default)]
    pub lost_flows: u64,
    /// The relay's exit policy as last recorded (public: it is in the consensus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_policy: Option<ExitPolicyNote>,
}

/// A relay's exit policy, as a tor policy summary, and where it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitPolicyNote {
    /// `accept PORTS` or `reject PORTS` (the consensus `p` line's form).
    pub summary: String,
    /// `torrc` or `consensus`.
    pub source: String,
}

impl NodeTotals {
    /// Adds another set of totals.
    pub fn merge(&mut self, o: &NodeTotals) {
        self.captures += o.captures;
        self.flows += o.flows;
        self.failed_flows += o.failed_flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
        for (k, v) in &o.ignored_packets {
            *self.ignored_packets.entry(k.clone()).or_default() += v;
        }
        self.evicted_flows += o.evicted_flows;
        self.half_open_expired += o.half_open_expired;
        self.files += o.files;
        self.dataset_bytes += o.dataset_bytes;
        self.lost_flows += o.lost_flows;
        if o.exit_policy.is_some() {
            self.exit_policy.clone_from(&o.exit_policy);
        }
    }

    /// What grew from `earlier` to `self` (counters only grow); the node
    /// name is kept, `captures` is 0.
    pub fn since(&self, earlier: &NodeTotals) -> NodeTotals {
        NodeTotals {
            node: self.node.clone(),
            captures: self.captures.saturating_sub(earlier.captures),
            flows: self.flows.saturating_sub(earlier.flows),
            failed_flows: self.failed_flows.saturating_sub(earlier.failed_flows),
            packets: self.packets.saturating_sub(earlier.packets),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            ignored_packets: self
                .ignored_packets
                .iter()
                .map(|(k, v)| {
                    let was = earlier.ignored_packets.get(k).copied().unwrap_or(0);
                    (k.clone(), v.saturating_sub(was))
                })
                .collect(),
            evicted_flows: self.evicted_flows.saturating_sub(earlier.evicted_flows),
            half_open_expired: self
                .half_open_expired
                .saturating_sub(earlier.half_open_expired),
            files: self.files.saturating_sub(earlier.files),
            dataset_bytes: self.dataset_bytes.saturating_sub(earlier.dataset_bytes),
            lost_flows: self.lost_flows.saturating_sub(earlier.lost_flows),
            exit_policy: self.exit_policy.clone(),
        }
    }
}

struct Part {
    writer: FlowWriter,
    opened: Instant,
    /// The hourly aggregate tables of the rows written (the part's sidecar).
    tables: crate::aggregate::Accumulator,
}

/// Writes records into the dataset.
pub struct DatasetWriter {
    cfg: DatasetConfig,
    node_dir: PathBuf,
    open: BTreeMap<String, Part>,
    /// Files completed by this writer.
    pub files: u64,
    /// Bytes of files completed by this writer.
    pub bytes: u64,
    /// Rows written by this writer.
    pub rows: u64,
    /// Rows held per time bucket (start, ms), waiting to be shuffled.
    held: BTreeMap<u64, Vec<Record>>,
    /// Rows of complete buckets, per date, waiting to fill a file.
    ready: BTreeMap<String, Vec<Record>>,
    /// Rows in `held` and `ready` (capped by `max_held_rows`).
    held_rows: usize,
    /// Latest first-packet time seen (ms).
    latest_ms: u64,
    /// Buckets written before they were complete, to stay under the cap.
    pub spilled: u64,
    /// Parts whose sidecar tables could not be written (a report reads
    /// their rows instead).
    pub sidecar_errors: u64,
}

/// Checks a node name: it becomes a directory name.
pub fn valid_node_name(node: &str) -> bool {
    !node.is_empty()
        && node.len() <= 64
        && node != "."
        && node != ".."
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl DatasetWriter {
    /// Opens (creating) the dataset's node directory.
    pub fn open(cfg: DatasetConfig) -> Result<DatasetWriter, OutputError> {
        if !valid_node_name(&cfg.node) {
            return Err(OutputError::BadNodeName(cfg.node.clone()));
        }
        let node_dir = layout::node_dir(&cfg.root, &cfg.node);
        std::fs::create_dir_all(&node_dir).map_err(io_err(&node_dir))?;
        Ok(DatasetWriter {
            cfg,
            node_dir,
            open: BTreeMap::new(),
            files: 0,
            bytes: 0,
            rows: 0,
            held: BTreeMap::new(),
            ready: BTreeMap::new(),
            held_rows: 0,
            latest_ms: 0,
            spilled: 0,
            sidecar_errors: 0,
        })
    }

    /// The node's directory.
    pub fn node_dir(&self) -> &Path {
        &self.node_dir
    }

    /// Writes one record into its date partition (UTC date of its first
    /// packet); with a granularity, once its time bucket is complete.
    pub fn write(&mut self, r: &Record) -> Result<(), OutputError> {
        if self.cfg.time_granularity_ms <= 1 {
            return self.write_now(r);
        }
        self.push(r.clone())
    }

    /// [`DatasetWriter::write`] of a record the caller gives up: no copy
    /// when it has to be held.
    pub fn push(&mut self, r: Record) -> Result<(), OutputError> {
        let g = self.cfg.time_granularity_ms;
        if g <= 1 {
            return self.write_now(&r);
        }
        let t = r.flow.first_seen_ms;
        let bucket = t - t % g;
        // Completion is checked when a newer bucket begins: late rows of a
        // bucket already written wait for it (no file of one late row).
        let newer = t > self.latest_ms && bucket > self.latest_ms - self.latest_ms % g;
        self.latest_ms = self.latest_ms.max(t);
        self.held.entry(bucket).or_default().push(r);
        self.held_rows += 1;
        if !newer && self.held_rows <= self.cfg.max_held_rows {
            return Ok(());
        }
        while let Some(&b) = self.held.keys().next() {
            let complete = b + g + self.cfg.hold_ms <= self.latest_ms;
            if !complete && self.held_rows <= self.cfg.max_held_rows {
                break;
            }
            self.spilled += u64::from(!complete);
            self.make_ready(b);
            let date = utc_date(b);
            // Earlier dates will get no more complete hours: write them.
            let earlier: Vec<String> = self
                .ready
                .range(..date.clone())
                .map(|(d, _)| d.clone())
                .collect();
            for d in earlier {
                self.write_ready(&d)?;
            }
            // A file holds whole hours only; several, once enough rows wait
            // (few large files rather than one small file per hour).
            if !complete || self.ready[&date].len() >= self.cfg.max_held_rows / 2 {
                self.write_ready(&date)?;
            }
        }
        // Past the cap, the oldest complete hours go to disk.
        while self.held_rows > self.cfg.max_held_rows {
            let Some(date) = self.ready.keys().next().cloned() else {
                break;
            };
            self.write_ready(&date)?;
        }
        Ok(())
    }

    /// Moves a held bucket to the rows ready for its date's next file.
    fn make_ready(&mut self, bucket: u64) {
        if let Some(rows) = self.held.remove(&bucket) {
            self.ready.entry(utc_date(bucket)).or_default().extend(rows);
        }
    }

    /// Writes a date's ready rows (whole buckets), shuffled, into a file of
    /// their own: rows, or under `aggregates_only` the hourly tables.
    fn write_ready(&mut self, date: &str) -> Result<(), OutputError> {
        let Some(mut rows) = self.ready.remove(date) else {
            return Ok(());
        };
        self.held_rows -= rows.len();
        if self.cfg.aggregates_only {
            let mut acc = crate::aggregate::Accumulator::default();
            for r in &rows {
                acc.add(r, self.cfg.time_granularity_ms);
            }
            let t = acc.tables();
            let dir = layout::date_dir(&self.node_dir, date);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let path = dir.join(format!(
                "{}{}{}",
                crate::aggregate::AGG_PREFIX,
                crate::files::random_hex(PART_NAME_RANDOM_BYTES),
                layout::PART_EXT
            ));
            crate::aggregate::write(&path, &t, &self.cfg.metadata)?;
            crate::files::coarsen_mtime(&path, self.cfg.time_granularity_ms)?;
            self.files += 1;
            self.bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
            self.rows += rows.len() as u64;
            return Ok(());
        }
        shuffle(&mut rows);
        self.close_part(date)?;
        for r in &rows {
            self.write_now(r)?;
        }
        self.close_part(date)
    }

    fn write_now(&mut self, r: &Record) -> Result<(), OutputError> {
        let date = utc_date(r.flow.first_seen_ms);
        if !self.open.contains_key(&date) {
            if self.open.len() >= MAX_OPEN_PARTITIONS {
                let oldest = self.open.keys().next().cloned().expect("non-empty");
                self.close_part(&oldest)?;
            }
            let dir = layout::date_dir(&self.node_dir, &date);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            // A random name per file: names carry no time and no order.
            let path = dir.join(format!(
                "{}{}{}",
                layout::PART_PREFIX,
                crate::files::random_hex(PART_NAME_RANDOM_BYTES),
                layout::PART_EXT
            ));
            let writer = FlowWriter::create(
                &path,
                Format::Parquet,
                self.cfg.selection,
                &self.cfg.metadata,
            )?;
            self.open.insert(
                date.clone(),
                Part {
                    writer,
                    opened: Instant::now(),
                    tables: crate::aggregate::Accumulator::default(),
                },
            );
        }
        let part = self.open.get_mut(&date).expect("inserted above");
        part.writer.write(r)?;
        part.tables
            .add(r, self.cfg.time_granularity_ms.max(SIDECAR_BIN_MS));
        self.rows += 1;
        if part.writer.rows() >= self.cfg.rotate_rows
            || (part.writer.rows().is_multiple_of(4096)
                && part.writer.bytes() >= self.cfg.rotate_bytes)
        {
            self.close_part(&date)?;
        }
        Ok(())
    }

    /// Closes parts open longer than the rotation age (call periodically).
    pub fn rotate_aged(&mut self) -> Result<(), OutputError> {
        let old: Vec<String> = self
            .open
            .iter()
            .filter(|(_, p)| p.opened.elapsed() >= self.cfg.rotate_age)
            .map(|(d, _)| d.clone())
            .collect();
        for d in old {
            self.close_part(&d)?;
        }
        Ok(())
    }

    fn close_part(&mut self, date: &str) -> Result<(), OutputError> {
        if let Some(p) = self.open.remove(date) {
            let path = p.writer.finish()?;
            crate::files::coarsen_mtime(&path, self.cfg.time_granularity_ms)?;
            // The same rows as hourly tables, beside the part: a report over
            // them reads a few hundred rows instead of every flow. Written
            // after the part, so a sidecar never describes a missing part.
            // The part is complete: a sidecar that cannot be written (a full
            // disk) must not fail it, or its rows would be written twice on
            // a retry. No sidecar only means the report reads the rows.
            let side = layout::sidecar_of(&path);
            let written = crate::aggregate::write(&side, &p.tables.tables(), &self.cfg.metadata)
                .and_then(|()| crate::files::coarsen_mtime(&side, self.cfg.time_granularity_ms));
            if written.is_err() {
                let _ = std::fs::remove_file(&side);
                self.sidecar_errors += 1;
            }
            self.files += 1;
            self.bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
        }
        Ok(())
    }

    /// Writes every held bucket and completes every open file.
    pub fn close(mut self) -> Result<(u64, u64), OutputError> {
        let buckets: Vec<u64> = self.held.keys().copied().collect();
        for b in buckets {
            self.make_ready(b);
        }
        let dates: Vec<String> = self.ready.keys().cloned().collect();
        for d in dates {
            self.write_ready(&d)?;
        }
        let dates: Vec<String> = self.open.keys().cloned().collect();
        for d in dates {
            self.close_part(&d)?;
        }
        Ok((self.files, self.bytes))
    }

    /// Abandons every open file (their temporary files are removed): after a
    /// write error, so that nothing partial is left behind.
    pub fn abort(mut self) {
        for (_, p) in std::mem::take(&mut self.open) {
            p.writer.abort();
        }
    }

    /// Adds `t` to the node's `_totals.json` (atomically replaced).
    pub fn add_totals(node_dir: &Path, t: &NodeTotals) -> Result<NodeTotals, OutputError> {
        let path = node_dir.join(layout::TOTALS_FILE);
        let mut all = read_totals(&path)?.unwrap_or_default();
        all.merge(t);
        all.node = t.node.clone();
        let text = serde_json::to_string_pretty(&all).expect("plain data serialises");
        crate::files::write_atomic(&path, text.as_bytes())?;
        Ok(all)
    }
}

/// Shuffles rows in place (Fisher-Yates) with a generator seeded by the
/// operating system: the order of rows in a file must say nothing.
pub fn shuffle<T>(rows: &mut [T]) {
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).expect("the operating system's random generator");
    // xorshift64*: fast, and only the order depends on it.
    let mut x = u64::from_le_bytes(seed) | 1;
    for i in (1..rows.len()).rev() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        rows.swap(i, (r % (i as u64 + 1)) as usize);
    }
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

/// Reads a node's totals file, `None` when absent.
pub fn read_totals(path: &Path) -> Result<Option<NodeTotals>, OutputError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| OutputError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(OutputError::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

/// `YYYY-MM-DD` (UTC) of a time in ms since the epoch.
pub fn utc_date(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Gregorian date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(1_609_459_199_999), "2020-12-31");
        assert_eq!(utc_date(1_609_459_200_000), "2021-01-01");
    }

    #[test]
    fn temp_files_of_dead_writers_are_removed_and_others_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("date=2026-11-25");
        std::fs::create_dir_all(&dir).unwrap();
        let me = std::process::id();
        // Far above any pid_max: no such process.
        let names = [
            format!(".part-ab.parquet.{me}.tmp"),
            ".part-cd.parquet.999999999.tmp".to_string(),
            "part-ef.parquet".to_string(),
            ".other.tmp".to_string(),
        ];
        for n in &names {
            std::fs::write(dir.join(n), b"x").unwrap();
        }
        let removed = remove_stale_temp_files(root.path()).unwrap();
        assert_eq!(removed, vec![dir.join(&names[1])]);
        for n in [&names[0], &names[2], &names[3]] {
            assert!(dir.join(n).exists(), "{n}");
        }
        assert_eq!(crate::files::temp_pid(".part-17.parquet.42.tmp"), Some(42));
        assert_eq!(crate::files::temp_pid(".other.tmp"), None);
    }

    /// Review finding 1: live capture named each file after its flush time
    /// in ms, finer than an hourly profile allows.
    #[test]
    fn part_names_are_random_and_mtimes_no_finer_than_the_granularity() {
        let root = tempfile::tempdir().unwrap();
        let mut cfg = DatasetConfig::new(root.path(), "n");
        cfg.time_granularity_ms = 3_600_000;
        let mut names = Vec::new();
        for _ in 0..3 {
            let mut w = DatasetWriter::open(cfg.clone()).unwrap();
            w.write(&crate::Record::unlabelled(
                exitflow_flow::Flow::from_totals(
                    0,
                    17,
                    ([0; 16], 1),
                    ([0; 16], 2),
                    (1_000, 1_000),
                    (1, 60),
                    (0, 0),
                    exitflow_flow::EndReason::Idle,
                ),
            ))
            .unwrap();
            w.close().unwrap();
        }
        let dir = crate::layout::date_dir(&crate::layout::node_dir(root.path(), "n"), "1970-01-01");
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_prefix(crate::layout::SIDECAR_PREFIX) {
                // Each part's hourly tables, named after it.
                assert!(dir.join(format!("part-{id}")).is_file(), "{name}");
                continue;
            }
            let hex = name
                .strip_prefix("part-")
                .unwrap()
                .strip_suffix(".parquet")
                .unwrap();
            assert_eq!(hex.len(), 2 * PART_NAME_RANDOM_BYTES, "{name}");
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
            let mtime = e.metadata().unwrap().modified().unwrap();
            let ms = mtime
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            assert_eq!(ms % 3_600_000, 0, "{name}");
            names.push(name);
        }
        assert_eq!(names.len(), 3);
    }

    fn flow_at(id: u64, t: u64) -> crate::Record {
        crate::Record::unlabelled(exitflow_flow::Flow::from_totals(
            id,
            17,
            ([0; 16], 1),
            ([0; 16], 2),
            (t, t),
            (1, 60),
            (0, 0),
            exitflow_flow::EndReason::Idle,
        ))
    }

    fn ids_in(path: &Path) -> Vec<u64> {
        use arrow_array::cast::AsArray;
        let f = std::fs::File::open(path).unwrap();
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap();
        let mut ids = Vec::new();
        for b in r {
            let b = b.unwrap();
            let c = b.column_by_name("id").unwrap();
            ids.extend(
                c.as_primitive::<arrow_array::types::UInt64Type>()
                    .values()
                    .iter(),
            );
        }
        ids
    }

    /// Review finding 1 (order): rows are written by whole hours (an hour
    /// is never split across files), in an order unrelated to when the
    /// flows came.
    #[test]
    fn whole_hours_are_written_shuffled() {
        let root = tempfile::tempdir().unwrap();
        let mut cfg = DatasetConfig::new(root.path(), "n");
        cfg.time_granularity_ms = 3_600_000;
        cfg.selection.ids = true;
        let mut w = DatasetWriter::open(cfg).unwrap();
        // Three hours of flows in time order, a few seconds apart, ids in
        // arrival order; an hour is written once the hold after it passed.
        for i in 0..3000u64 {
            w.write(&flow_at(i, i * 3600)).unwrap();
            if i == 999 {
                assert_eq!(w.files, 0, "nothing written before the hour is complete");
            }
        }
        w.close().unwrap();
        let dir = crate::layout::date_dir(&crate::layout::node_dir(root.path(), "n"), "1970-01-01");
        let mut hours_seen = std::collections::BTreeMap::<u64, usize>::new();
        let mut total = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if !crate::layout::is_data_file(&path.file_name().unwrap().to_string_lossy()) {
                continue;
            }
            let ids = ids_in(&path);
            total += ids.len();
            let mut hours: Vec<u64> = ids.iter().map(|i| i / 1000).collect();
            hours.sort();
            hours.dedup();
            for h in hours {
                *hours_seen.entry(h).or_default() += 1;
            }
            // A random order has about half its neighbours ascending.
            let n = ids.len() - 1;
            let ascending = ids.windows(2).filter(|w| w[0] < w[1]).count();
            assert!(
                ascending * 20 > n * 7 && ascending * 20 < n * 13,
                "{ascending} of {n} in arrival order"
            );
        }
        assert_eq!(total, 3000);
        assert!(
            hours_seen.values().all(|&files| files == 1),
            "an hour split across files: {hours_seen:?}"
        );
    }

    #[test]
    fn beyond_the_cap_the_oldest_hour_is_written_early_and_counted() {
        let root = tempfile::tempdir().unwrap();
        let mut cfg = DatasetConfig::new(root.path(), "n");
        cfg.time_granularity_ms = 3_600_000;
        cfg.max_held_rows = 100;
        let mut w = DatasetWriter::open(cfg).unwrap();
        for i in 0..250u64 {
            w.write(&flow_at(i, i)).unwrap();
        }
        assert!(w.spilled >= 2 && w.files >= 2, "{} {}", w.spilled, w.files);
        w.close().unwrap();
    }

    #[test]
    fn retention_removes_only_partitions_older_than_the_setting() {
        let root = tempfile::tempdir().unwrap();
        for d in ["2026-11-01", "2026-11-19", "2026-11-20", "2026-11-27"] {
            std::fs::create_dir_all(root.path().join(format!("date={d}"))).unwrap();
        }
        std::fs::write(root.path().join("_totals.json"), b"{}").unwrap();
        // 2026-11-27 12:00 UTC, keep 7 days: 2026-11-20 onwards.
        let now = 1_795_780_800_000;
        assert_eq!(utc_date(now), "2026-11-27");
        let removed = apply_retention(root.path(), 7, now).unwrap();
        let names: Vec<_> = removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["date=2026-11-01", "date=2026-11-19"]);
        assert!(root.path().join("date=2026-11-20").is_dir());
        assert!(root.path().join("_totals.json").is_file());
    }

    #[test]
    fn node_names() {
        assert!(valid_node_name("relay-1.example"));
        for bad in ["", "..", "a/b", "a b", "x=y"] {
            assert!(!valid_node_name(bad), "{bad}");
        }
    }
}
