//! The dataset: Parquet files in a Hive layout
//! `node=NAME/date=YYYY-MM-DD/part-*.parquet`, rotated by rows, size and age,
//! each written under a temporary name (starting with `.`, so dataset readers
//! skip it) and renamed when complete; plus per-node totals in
//! `node=NAME/_totals.json` (readers skip `_` files too).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::layout;
use crate::policy::Policy;
use crate::row::Row;
use crate::schema::Col;
use crate::spool::Spool;
use crate::writers::{FlowWriter, Format};
use crate::{OutputError, io_err};

/// Bins of a part's sidecar aggregate tables: an hour, or the profile's
/// granularity when coarser.
pub const SIDECAR_BIN_MS: u64 = 3_600_000;
/// A research part file is closed once it holds this many rows.
pub const DEFAULT_ROTATE_ROWS: u64 = 4_000_000;
/// How long after a time bucket ends its rows may still arrive (a flow is
/// exported when it ends: up to the active timeout plus the idle timeout
/// after it started), before the bucket is written.
pub const DEFAULT_HOLD_MS: u64 = 1_800_000 + 120_000;
/// Most rows held while nothing can be spilled to disk (a full disk);
/// beyond, rows are refused and counted as lost.
pub const DEFAULT_MAX_HELD_ROWS: usize = 524_288;
/// Random bytes in a part file's name (`part-<hex>.parquet`).
pub const PART_NAME_RANDOM_BYTES: usize = 16;
/// Version of the column layout, stored in every file's metadata.
pub const SCHEMA_VERSION: &str = "2";
/// File metadata key: the start of the time bucket a file holds (ms).
pub const HOUR_KEY: &str = "exitflow.hour_ms";
/// File metadata key: the files of the same directory a file replaces
/// (an hour rewritten whole), comma-separated.
pub const REPLACES_KEY: &str = "exitflow.replaces";

/// Where and how a node's dataset is written. What is written, at which
/// granularity and when, comes from the [`Policy`] alone
/// ([`DatasetWriter::open`]): nothing here can make a file finer.
#[derive(Clone, Debug)]
pub struct DatasetConfig {
    /// Dataset root directory.
    pub root: PathBuf,
    /// Node (relay) name: the `node=` partition.
    pub node: String,
    /// See [`DEFAULT_ROTATE_ROWS`] (research).
    pub rotate_rows: u64,
    /// Key/value pairs stored in every file besides the policy's (GeoIP
    /// builds, timeouts, exit policy, ...).
    pub metadata: Vec<(String, String)>,
    /// See [`DEFAULT_HOLD_MS`].
    pub hold_ms: u64,
    /// Rows kept in memory before spilling (encrypted) to disk
    /// ([`crate::spool::DEFAULT_SPOOL_MEMORY_ROWS`]).
    pub memory_rows: usize,
    /// See [`DEFAULT_MAX_HELD_ROWS`].
    pub max_rows: usize,
    /// Offline (`ingest`): time is the data's (a bucket is complete once
    /// a flow starts past its end and the hold), and a bucket whose end is
    /// still ahead of the wall clock is not written at all. Live capture
    /// passes the wall clock to [`DatasetWriter::write_complete`] instead
    /// and writes everything when it stops.
    pub data_clock: bool,
}

impl DatasetConfig {
    /// Defaults for a root and node (offline).
    pub fn new(root: &Path, node: &str) -> DatasetConfig {
        DatasetConfig {
            root: root.to_owned(),
            node: node.to_owned(),
            rotate_rows: DEFAULT_ROTATE_ROWS,
            metadata: Vec::new(),
            hold_ms: DEFAULT_HOLD_MS,
            memory_rows: crate::spool::DEFAULT_SPOOL_MEMORY_ROWS,
            max_rows: DEFAULT_MAX_HELD_ROWS,
            data_clock: true,
        }
    }
}

/// What one call wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Time buckets (hours) written.
    pub buckets: u64,
    /// Rows written (or, under strict, flows counted into tables).
    pub rows: u64,
    /// Of those, failed flows.
    pub failed: u64,
    /// Files completed.
    pub files: u64,
    /// Bytes of files completed.
    pub bytes: u64,
    /// Rows written generalised (k-anonymity).
    pub generalised: u64,
    /// Rows not written (k-anonymity).
    pub suppressed: u64,
    /// Strict: flows folded into `Other` cells.
    pub folded: u64,
    /// Hours written into a day `report --publish` already released
    /// ([`layout::RELEASED_MARKER`]): their flows are not in the release.
    pub released_hours: u64,
}

impl Written {
    /// What grew from `earlier` to `self`.
    pub fn since(&self, earlier: &Written) -> Written {
        Written {
            buckets: self.buckets - earlier.buckets,
            rows: self.rows - earlier.rows,
            failed: self.failed - earlier.failed,
            files: self.files - earlier.files,
            bytes: self.bytes - earlier.bytes,
            generalised: self.generalised - earlier.generalised,
            suppressed: self.suppressed - earlier.suppressed,
            folded: self.folded - earlier.folded,
            released_hours: self.released_hours - earlier.released_hours,
        }
    }

    /// Adds another's counts.
    pub fn add(&mut self, o: Written) {
        self.generalised += o.generalised;
        self.suppressed += o.suppressed;
        self.folded += o.folded;
        self.released_hours += o.released_hours;
        self.buckets += o.buckets;
        self.rows += o.rows;
        self.failed += o.failed;
        self.files += o.files;
        self.bytes += o.bytes;
    }
}

/// The one way into a node's dataset: rows go in, files come out as the
/// policy it was opened with says. Under `default` and `strict` a time
/// bucket (an hour) is held — in memory, past a cap in encrypted chunk
/// files — until it is complete, then written once, whole, shuffled, in
/// one file (and its sidecar) named at random; an hour already on disk is
/// read back and rewritten with the new rows as one whole. Under `default`
/// no row is written that fewer than k rows of its hour share
/// ([`crate::kanon`]); under `strict` cells of fewer than k flows fold into
/// `Other`. Under `research` rows are held per date and written at every
/// [`DatasetWriter::write_complete`] (offline: whenever memory fills), in
/// files of at most [`DatasetConfig::rotate_rows`] rows.
pub struct DatasetWriter {
    cfg: DatasetConfig,
    node_dir: PathBuf,
    policy: Policy,
    metadata: Vec<(String, String)>,
    spool: Spool,
    /// Buckets whose earlier files were already read into the spool.
    merged: BTreeMap<u64, Vec<PathBuf>>,
    /// The files of each bucket in the date directories seen so far (each
    /// directory read once; kept up to date as hours are written).
    index: BTreeMap<PathBuf, HourIndex>,
    /// Latest bucket start seen (ms).
    latest_bucket: u64,
    /// Totals of everything written.
    pub written: Written,
    /// Parts whose sidecar tables could not be written (a report reads
    /// their rows instead).
    pub sidecar_errors: u64,
    /// Per held bucket and slice ([`crate::aggregate::SCOPES`]), the exact
    /// sums of its flows (default and strict), in memory only; `None` once
    /// a flow came without them. One entry per held bucket: bounded as the
    /// spool's buckets are.
    exact: BTreeMap<u64, [Option<crate::ExactSums>; 4]>,
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

/// Now, ms since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl DatasetWriter {
    /// Opens (creating) the dataset's node directory for rows stored by
    /// `policy` (the same policy's [`Policy::store`]).
    pub fn open(policy: &Policy, cfg: DatasetConfig) -> Result<DatasetWriter, OutputError> {
        if !valid_node_name(&cfg.node) {
            return Err(OutputError::BadNodeName(cfg.node.clone()));
        }
        let node_dir = layout::node_dir(&cfg.root, &cfg.node);
        std::fs::create_dir_all(&node_dir).map_err(io_err(&node_dir))?;
        crate::spool::remove_stale_chunks(&node_dir);
        let mut metadata = policy.file_metadata(Some(&cfg.node));
        metadata.extend(cfg.metadata.iter().cloned());
        let spool = Spool::new(
            &node_dir,
            policy.layout().cols().len(),
            cfg.memory_rows,
            cfg.max_rows,
        );
        Ok(DatasetWriter {
            cfg,
            node_dir,
            policy: policy.clone(),
            metadata,
            spool,
            merged: BTreeMap::new(),
            index: BTreeMap::new(),
            latest_bucket: 0,
            written: Written::default(),
            sidecar_errors: 0,
            exact: BTreeMap::new(),
        })
    }

    /// The node's directory.
    pub fn node_dir(&self) -> &Path {
        &self.node_dir
    }

    /// The policy the writer was opened with.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Rows held, waiting for their bucket to complete.
    pub fn pending(&self) -> usize {
        self.spool.len()
    }

    /// Everything written so far.
    pub fn written(&self) -> Written {
        self.written
    }

    /// Most rows held while nothing can be spilled.
    pub fn capacity(&self) -> usize {
        self.cfg.max_rows
    }

    /// Rows spilled (encrypted) to disk so far.
    pub fn spilled_rows(&self) -> u64 {
        self.spool.spilled_rows
    }

    fn granularity(&self) -> u64 {
        self.policy.time_granularity_ms.max(1)
    }

    /// The bucket rows of time `t` are held in: the policy's granularity,
    /// or a date under research (a date partition per file).
    fn bucket_of(&self, t: u64) -> u64 {
        const DAY_MS: u64 = 86_400_000;
        let g = if self.policy.holds_hours() {
            self.granularity()
        } else {
            DAY_MS
        };
        t - t % g
    }

    /// Takes one stored row. Under `research` it is written at once; else
    /// it is held until its bucket is complete. An error when it can be
    /// neither written nor held (see [`DEFAULT_MAX_HELD_ROWS`]).
    pub fn push(&mut self, mut r: Row) -> Result<(), OutputError> {
        let l = self.policy.layout();
        let t = r.u(l, Col::BiFirstSeen);
        let bucket = self.bucket_of(t);
        let exact = r.take_exact();
        // Only held (default, strict) rows carry exact durations to sum.
        let slice = self.policy.holds_hours().then(|| {
            usize::from(r.s(l, Col::TorRole) != "exit") * 2 + usize::from(r.b(l, Col::Failed))
        });
        let newer = bucket > self.latest_bucket;
        if newer {
            self.latest_bucket = bucket;
        }
        if self.spool.push(bucket, r).is_err() {
            return Err(OutputError::Full {
                rows: self.spool.len(),
            });
        }
        // Only a held row's duration counts (a refused one is lost).
        if let Some(slice) = slice {
            let cell = &mut self
                .exact
                .entry(bucket)
                .or_insert([Some(crate::ExactSums::default()); 4])[slice];
            match (cell.as_mut(), exact) {
                (Some(c), Some(e)) => c.add(&e),
                _ => *cell = None,
            }
        }
        if self.cfg.data_clock {
            if !self.policy.holds_hours() {
                // Research, offline: files as memory fills, nothing spilled.
                if self.spool.mem_rows() >= self.cfg.memory_rows {
                    self.write_complete(u64::MAX)?;
                }
            } else if newer {
                // A flow past a bucket's end and hold completes it.
                self.write_complete(bucket)?;
            }
        }
        Ok(())
    }

    /// Writes what is complete at `now_ms`: under `default`/`strict` every
    /// held bucket whose end plus the hold is not after `now_ms`, each as
    /// one whole; under `research` it completes every open file.
    pub fn write_complete(&mut self, now_ms: u64) -> Result<Written, OutputError> {
        let mut w = Written::default();
        if !self.policy.holds_hours() {
            for b in self.spool.buckets() {
                w.add(self.write_research(b)?);
            }
            return Ok(w);
        }
        let g = self.granularity();
        for b in self.spool.buckets() {
            if b.saturating_add(g).saturating_add(self.cfg.hold_ms) > now_ms && now_ms != u64::MAX {
                break;
            }
            w.add(self.write_bucket(b)?);
        }
        Ok(w)
    }

    /// Writes every held bucket (stopping: the one time an hour may be
    /// written before it is over — offline, a bucket whose end is still
    /// ahead of the wall clock is refused instead, naming it) and completes
    /// every open file.
    pub fn write_all(&mut self) -> Result<Written, OutputError> {
        self.write_complete(u64::MAX)
    }

    fn write_bucket(&mut self, b: u64) -> Result<Written, OutputError> {
        let g = self.granularity();
        if self.cfg.data_clock && b + g > now_ms() {
            return Err(OutputError::Policy(format!(
                "flows of the hour beginning {} UTC are not written: that hour is not over yet (ingest them again once it is)",
                utc_datetime(b)
            )));
        }
        let date = utc_date(b);
        let dir = layout::date_dir(&self.node_dir, &date);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let l = self.policy.layout().clone();
        let aggregates = self.policy.aggregates_only;
        if !self.merged.contains_key(&b) {
            if !self.index.contains_key(&dir) {
                let idx = hour_index(&dir, aggregates)?;
                self.index.insert(dir.clone(), idx);
            }
            let earlier = self
                .index
                .get_mut(&dir)
                .and_then(|i| i.remove(&b))
                .unwrap_or_default();
            if !aggregates {
                for f in &earlier {
                    for row in crate::row::read_rows(f, &l)? {
                        if self.spool.push(b, row).is_err() {
                            return Err(OutputError::Full {
                                rows: self.spool.len(),
                            });
                        }
                    }
                }
            }
            self.merged.insert(b, earlier);
        }
        let mut new_file: Option<PathBuf> = None;
        let earlier = self.merged[&b].clone();
        let mut meta = self.metadata.clone();
        meta.push((HOUR_KEY.into(), b.to_string()));
        if !earlier.is_empty() {
            // The files this one replaces: removed right after it is
            // complete, or by the next writer if a crash came between.
            let names: Vec<String> = earlier
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            meta.push((REPLACES_KEY.into(), names.join(",")));
        }
        let name = crate::files::random_hex(PART_NAME_RANDOM_BYTES);
        // This write's own exact durations; a rewritten default hour also
        // has those its replaced parts' sidecars hold (strict files keep
        // theirs, added below with their tables).
        let exact = self.exact.get(&b).copied().unwrap_or([None; 4]);
        let mut old = [(0u64, 0u64); 4];
        if !aggregates {
            for f in &earlier {
                earlier_exact(f, b, &mut old);
            }
        }
        let min_flows =
            crate::aggregate::EXACT_DURATION_MIN_FLOWS.max(self.policy.k_anonymity as u64);
        let mut out = Written {
            buckets: 1,
            released_hours: u64::from(dir.join(layout::RELEASED_MARKER).exists()),
            ..Written::default()
        };
        if aggregates {
            let mut acc = crate::aggregate::Accumulator::default();
            let mut failed = 0;
            let mut n = 0;
            self.spool.for_each(b, |r| {
                acc.add(r, &l, g);
                n += 1;
                failed += u64::from(r.b(&l, Col::Failed));
            })?;
            // Only the new flows are folded, then the earlier (folded)
            // tables added: a cell is still k flows or more, and one flow
            // moves one write's cells only (re-folding the sum let a value
            // kept by one write collect every later write's small counts,
            // so one flow could move it by far more than k).
            let mut t = acc.tables();
            let folded = crate::aggregate::fold_small(&mut t, self.policy.k_anonymity);
            // This write's exact sums, on its own cells (as its folding).
            crate::aggregate::put_exact_durations(&mut t, b, &exact, &old, min_flows);
            for f in &earlier {
                for (k, bin) in crate::aggregate::read(f)? {
                    t.entry(k).or_default().add(&bin);
                }
            }
            let path = dir.join(format!(
                "{}{name}{}",
                crate::aggregate::AGG_PREFIX,
                layout::PART_EXT
            ));
            crate::aggregate::write(&path, &t, &meta)?;
            new_file = Some(path.clone());
            crate::files::coarsen_mtime(&path, g)?;
            out.folded = folded;
            out.rows = n;
            out.failed = failed;
            out.files = 1;
            out.bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        } else {
            let kanon = if self.policy.k_anonymity > 1 {
                Some(crate::kanon::Generaliser::build(
                    &self.spool,
                    b,
                    &l,
                    self.policy.k_anonymity,
                )?)
            } else {
                None
            };
            let path = dir.join(format!("{}{name}{}", layout::PART_PREFIX, layout::PART_EXT));
            let expected = self.spool.bucket_len(b);
            let mut w = FlowWriter::create_sized(&path, Format::Parquet, &l, &meta, expected)?;
            let mut acc = crate::aggregate::Accumulator::default();
            let (mut n, mut failed, mut generalised, mut suppressed) = (0u64, 0u64, 0u64, 0u64);
            let res = (|| {
                for row in self.spool.shuffled(&[b])? {
                    let mut row = row?;
                    if let Some(k) = &kanon {
                        match k.map(&row) {
                            crate::kanon::Mapped::Same => {}
                            crate::kanon::Mapped::Generalised(r) => {
                                row = crate::spool::HeldRow::Read(r);
                                generalised += 1;
                            }
                            crate::kanon::Mapped::Suppressed => {
                                suppressed += 1;
                                continue;
                            }
                        }
                    }
                    w.write(&row)?;
                    if kanon.is_none() {
                        acc.add(&row, &l, g.max(SIDECAR_BIN_MS));
                    }
                    n += 1;
                    failed += u64::from(row.b(&l, Col::Failed));
                }
                Ok::<(), OutputError>(())
            })();
            if let Err(e) = res {
                w.abort();
                return Err(e);
            }
            if n == 0 {
                w.abort();
            } else {
                let path = w.finish()?;
                new_file = Some(path.clone());
                crate::files::coarsen_mtime(&path, g)?;
                out.files = 1;
                out.bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                if let Some(k) = &kanon {
                    for (row, count) in k.written() {
                        acc.add_n(row, &l, g.max(SIDECAR_BIN_MS), *count);
                    }
                }
                let mut t = acc.tables();
                crate::aggregate::put_exact_durations(&mut t, b, &exact, &old, min_flows);
                self.write_sidecar(&path, &t, &meta);
            }
            out.rows = n;
            out.failed = failed;
            out.generalised = generalised;
            out.suppressed = suppressed;
        }
        // The new whole replaces the earlier files of the bucket.
        for f in &earlier {
            let _ = std::fs::remove_file(f);
            if !aggregates {
                let _ = std::fs::remove_file(layout::sidecar_of(f));
            }
        }
        if let Some(f) = new_file {
            self.index
                .entry(dir.clone())
                .or_default()
                .entry(b)
                .or_default()
                .push(f);
        }
        self.merged.remove(&b);
        self.exact.remove(&b);
        self.spool.remove(b);
        self.written.add(out);
        Ok(out)
    }

    /// The same rows as hourly tables, beside the part: a report over them
    /// reads a few hundred rows instead of every flow. Written after the
    /// part, so a sidecar never describes a missing part. A sidecar that
    /// cannot be written (a full disk) must not fail the part, or its rows
    /// would be written twice on a retry: no sidecar only means the report
    /// reads the rows.
    fn write_sidecar(
        &mut self,
        part: &Path,
        t: &crate::aggregate::Tables,
        meta: &[(String, String)],
    ) {
        if !write_sidecar(part, t, meta, self.granularity()) {
            self.sidecar_errors += 1;
        }
    }

    /// Research: a date's held rows into files of at most `rotate_rows`
    /// rows, all or none (a failure removes what it completed, and the
    /// rows stay held for the next attempt).
    fn write_research(&mut self, b: u64) -> Result<Written, OutputError> {
        let l = self.policy.layout().clone();
        let dir = layout::date_dir(&self.node_dir, &utc_date(b));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut out = Written {
            released_hours: u64::from(dir.join(layout::RELEASED_MARKER).exists()),
            ..Written::default()
        };
        let mut done: Vec<PathBuf> = Vec::new();
        let rotate = self.cfg.rotate_rows.max(1);
        let meta = self.metadata.clone();
        let g = self.granularity();
        let mut sidecar_errors = 0;
        let res = (|| {
            let mut current: Option<(FlowWriter, crate::aggregate::Accumulator)> = None;
            for row in self.spool.shuffled(&[b])? {
                let row = row?;
                if current.is_none() {
                    let path = dir.join(format!(
                        "{}{}{}",
                        layout::PART_PREFIX,
                        crate::files::random_hex(PART_NAME_RANDOM_BYTES),
                        layout::PART_EXT
                    ));
                    current = Some((
                        FlowWriter::create(&path, Format::Parquet, &l, &meta)?,
                        crate::aggregate::Accumulator::default(),
                    ));
                }
                let (w, acc) = current.as_mut().expect("opened above");
                if let Err(e) = w.write(&row) {
                    if let Some((w, _)) = current.take() {
                        w.abort();
                    }
                    return Err(e);
                }
                acc.add(&row, &l, SIDECAR_BIN_MS);
                out.rows += 1;
                out.failed += u64::from(row.b(&l, Col::Failed));
                if w.rows() >= rotate {
                    let (w, acc) = current.take().expect("open");
                    let part = w.finish()?;
                    done.push(part.clone());
                    done.push(layout::sidecar_of(&part));
                    sidecar_errors += u64::from(!write_sidecar(&part, &acc.tables(), &meta, g));
                }
            }
            if let Some((w, acc)) = current.take() {
                let part = w.finish()?;
                done.push(part.clone());
                done.push(layout::sidecar_of(&part));
                sidecar_errors += u64::from(!write_sidecar(&part, &acc.tables(), &meta, g));
            }
            Ok::<(), OutputError>(())
        })();
        self.sidecar_errors += sidecar_errors;
        if let Err(e) = res {
            for f in &done {
                let _ = std::fs::remove_file(f);
            }
            return Err(e);
        }
        for f in done.iter().step_by(2) {
            out.files += 1;
            out.bytes += std::fs::metadata(f).map_or(0, |m| m.len());
        }
        self.spool.remove(b);
        self.written.add(out);
        Ok(out)
    }

    /// Writes every held bucket and completes every open file (see
    /// [`DatasetWriter::write_all`]); returns what the writer wrote in all.
    pub fn close(mut self) -> Result<Written, OutputError> {
        self.write_all()?;
        Ok(self.written)
    }
}

mod dates;
mod parts;
#[cfg(test)]
mod tests;

pub use dates::{parse_utc_date, utc_date, utc_datetime};
use parts::{HourIndex, earlier_exact, hour_index, write_sidecar};
pub use parts::{apply_retention, remove_stale_temp_files, replaced_files};
