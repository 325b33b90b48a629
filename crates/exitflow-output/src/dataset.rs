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

/// Adds the exact durations a replaced part's sidecar holds for hour `b`
/// (per slice: the flows they are for and their sum) to `old`.
fn earlier_exact(part: &Path, b: u64, old: &mut [(u64, u64); 4]) {
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
fn write_sidecar(
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
type HourIndex = BTreeMap<u64, Vec<PathBuf>>;

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
fn hour_index(dir: &Path, aggregates: bool) -> Result<HourIndex, OutputError> {
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

/// `YYYY-MM-DD HH:00` (UTC) of a time in ms since the epoch.
pub fn utc_datetime(ms: u64) -> String {
    format!("{} {:02}:00", utc_date(ms), (ms / 3_600_000) % 24)
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

/// `YYYY-MM-DD` (UTC) of a time in ms since the epoch.
pub fn utc_date(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Milliseconds since the epoch of a UTC date `YYYY-MM-DD` (1970 or later).
pub fn parse_utc_date(s: &str) -> Option<u64> {
    let mut it = s.split('-');
    let (y, m, d): (i64, i64, i64) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1970 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(((era * 146_097 + doe - 719_468) as u64) * 86_400_000)
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

    const HOUR: u64 = 3_600_000;

    fn flow_at(port: u16, t: u64, packets: u64) -> crate::Record {
        crate::Record::unlabelled(exitflow_flow::Flow::from_totals(
            u64::from(port),
            6,
            ([0; 16], 40_000),
            ([0; 16], port),
            (t, t + 10),
            (packets, 60 * packets),
            (packets, 60 * packets),
            exitflow_flow::EndReason::Idle,
        ))
    }

    /// Completed files of a node's dataset (parts, sidecars, aggregates).
    fn files(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in std::fs::read_dir(crate::layout::node_dir(root, "n"))
            .unwrap()
            .flatten()
        {
            if d.path().is_dir() {
                for f in std::fs::read_dir(d.path()).unwrap().flatten() {
                    if !f.file_name().to_string_lossy().starts_with('.') {
                        out.push(f.path());
                    }
                }
            }
        }
        out.sort();
        out
    }

    fn ports_in(path: &Path, l: &crate::Layout) -> Vec<u64> {
        crate::row::read_rows(path, l)
            .unwrap()
            .iter()
            .map(|r| r.u(l, crate::Col::DstPort))
            .collect()
    }

    /// Random names, coarse file times, one file per hour.
    #[test]
    fn part_names_are_random_and_mtimes_no_finer_than_the_granularity() {
        let root = tempfile::tempdir().unwrap();
        let mut p = Policy::default();
        for h in 0..3 {
            let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
            for _ in 0..5 {
                w.push(p.store(flow_at(443, h * HOUR + 1_000, 8))).unwrap();
            }
            w.close().unwrap();
        }
        let fs = files(root.path());
        assert_eq!(fs.len(), 6, "{fs:?}");
        for f in fs {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let id = name
                .strip_prefix("part-")
                .or_else(|| name.strip_prefix(crate::layout::SIDECAR_PREFIX))
                .unwrap()
                .strip_suffix(".parquet")
                .unwrap();
            assert_eq!(id.len(), 2 * PART_NAME_RANDOM_BYTES, "{name}");
            let ms = f
                .metadata()
                .unwrap()
                .modified()
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis();
            assert_eq!(ms % 3_600_000, 0, "{name}");
        }
    }

    /// Review finding 3 of the privacy gate: above 65,536 held rows an hour
    /// was written early in pieces. Past the memory cap rows now spill,
    /// encrypted, and the hour is still one write, shuffled.
    #[test]
    fn finding_3_an_hour_beyond_the_memory_cap_is_still_one_shuffled_write() {
        let root = tempfile::tempdir().unwrap();
        let mut p = Policy::default();
        let mut cfg = DatasetConfig::new(root.path(), "n");
        cfg.memory_rows = 500;
        let mut w = DatasetWriter::open(&p, cfg).unwrap();
        // Two hours of flows in time order; the port says which arrived when
        // (each port 5 times, so no row is generalised).
        for i in 0..4000u64 {
            let port = 1000 + (i / 5) as u16;
            w.push(p.store(flow_at(port, i * 1800, 8))).unwrap();
            if i == 1999 {
                assert_eq!(
                    files(root.path()).len(),
                    0,
                    "nothing before the hour is complete"
                );
            }
        }
        assert!(w.spilled_rows() > 3000, "{}", w.spilled_rows());
        w.close().unwrap();
        let parts: Vec<_> = files(root.path())
            .into_iter()
            .filter(|f| crate::layout::is_data_file(&f.file_name().unwrap().to_string_lossy()))
            .collect();
        assert_eq!(parts.len(), 2, "one file per hour: {parts:?}");
        let l = p.layout().clone();
        let mut total = 0;
        for f in parts {
            let ports = ports_in(&f, &l);
            total += ports.len();
            let n = ports.len() - 1;
            let ascending = ports.windows(2).filter(|w| w[0] < w[1]).count();
            assert!(
                ascending * 20 > n * 7 && ascending * 20 < n * 13,
                "{ascending} of {n} in arrival order"
            );
        }
        assert_eq!(total, 4000);
        // No spool file is left behind.
        let node = crate::layout::node_dir(root.path(), "n");
        assert!(!std::fs::read_dir(&node).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(crate::spool::SPILL_PREFIX)
        }));
    }

    /// Review finding 3 (second half): separate `ingest` calls for one hour
    /// made one file each. A later write into an hour rewrites it whole.
    #[test]
    fn finding_3_a_second_ingest_into_an_hour_rewrites_it_as_one_whole() {
        for policy in [Policy::default(), Policy::strict()] {
            let root = tempfile::tempdir().unwrap();
            let mut p = policy.clone();
            for call in 0..3u16 {
                let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
                for _ in 0..7 {
                    w.push(p.store(flow_at(100 + call, 5 * HOUR + 60_000, 8)))
                        .unwrap();
                }
                w.close().unwrap();
            }
            let fs = files(root.path());
            let expected = if policy.aggregates_only { 1 } else { 2 };
            assert_eq!(fs.len(), expected, "{fs:?}");
            if !policy.aggregates_only {
                let part = fs
                    .iter()
                    .find(|f| {
                        crate::layout::is_data_file(&f.file_name().unwrap().to_string_lossy())
                    })
                    .unwrap();
                let mut ports = ports_in(part, p.layout());
                ports.sort();
                assert_eq!(ports.len(), 21);
                assert_eq!(ports[0], 100);
                assert_eq!(ports[20], 102);
            } else {
                let t = crate::aggregate::read(&fs[0]).unwrap();
                let total: u64 = t
                    .iter()
                    .filter(|(k, _)| k.2 == "total")
                    .map(|(_, b)| b.flows)
                    .sum();
                assert_eq!(total, 21);
            }
        }
    }

    /// Review finding (issue 21): an hour written twice under the strict
    /// profile re-folded the sum, so one flow in the first write lifted a
    /// value and every later write's small count of it with it (4 + 4
    /// flows: 0 or 9 with one more). Each write is folded alone.
    #[test]
    fn a_strict_hour_written_twice_folds_each_write_alone() {
        let port_7777 = |first: usize| {
            let root = tempfile::tempdir().unwrap();
            let mut p = Policy::strict();
            for n in [first, 4] {
                let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
                for _ in 0..n {
                    w.push(p.store(flow_at(7777, 5 * HOUR + 60_000, 8)))
                        .unwrap();
                }
                w.close().unwrap();
            }
            let mut flows = 0;
            for f in files(root.path()) {
                for ((_, _, dim, value), bin) in crate::aggregate::read(&f).unwrap() {
                    if dim == "dst_port" && value == "7777" {
                        flows += bin.flows;
                    }
                }
            }
            flows
        };
        assert_eq!(port_7777(4), 0, "4 + 4: each write under k");
        assert_eq!(port_7777(5), 5, "5 + 4: the second write's 4 stay in Other");
    }

    /// The hourly tables carry a slice's exact durations (flows of 10 ms,
    /// stored as the bucket 8) only where one write has at least
    /// EXACT_DURATION_MIN_FLOWS of the slice's flows, as the mean times the
    /// rows' flows (no count of the flows the mean is over); a rewritten
    /// default hour keeps the replaced part's and adds a new write's only
    /// where that write alone reaches the bar (a review found one withheld
    /// flow's exact duration in the difference of two sidecars); each
    /// strict write has its own.
    #[test]
    fn exact_durations_are_kept_only_for_100_flows_of_one_write() {
        let sums = |root: &Path| {
            let (mut flows, mut ms, mut bucket_ms, mut rows) = (0, 0, 0, 0);
            for f in files(root) {
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                if !name.starts_with(crate::layout::SIDECAR_PREFIX)
                    && !name.starts_with(crate::aggregate::AGG_PREFIX)
                {
                    continue;
                }
                for ((_, scope, dim, _), bin) in crate::aggregate::read(&f).unwrap() {
                    if dim == "total" && scope == "other" {
                        flows += bin.exact_duration_flows;
                        ms += bin.exact_duration_ms;
                        bucket_ms += bin.duration_ms;
                        rows += bin.flows;
                    }
                }
            }
            (flows, ms, bucket_ms, rows)
        };
        let run = |mut p: Policy, writes: &[usize]| {
            let root = tempfile::tempdir().unwrap();
            for (w_i, n) in writes.iter().enumerate() {
                let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
                for i in 0..*n {
                    // Few ports: rows share their columns (k-anonymity).
                    let port = 1000 + (w_i * 10 + i % 5) as u16;
                    w.push(p.store(flow_at(port, 5 * HOUR + 60_000, 8)))
                        .unwrap();
                }
                w.close().unwrap();
            }
            sums(root.path())
        };
        let min = crate::aggregate::EXACT_DURATION_MIN_FLOWS as usize;
        // Default: 99 flows keep no exact durations; 100 do, exactly.
        assert_eq!(run(Policy::default(), &[min - 1]).0, 0);
        let (f, ms, bucket, rows) = run(Policy::default(), &[min]);
        assert_eq!((f, ms), (rows, 10 * rows));
        assert!(bucket < ms, "the rows' buckets read low: {bucket} vs {ms}");
        // A rewrite by a write of 10 flows keeps the first write's mean
        // only, for every row (a count of the rows it covered showed where
        // one write ended)...
        let (f, ms, _, rows) = run(Policy::default(), &[min, 10]);
        assert!(rows > min as u64, "{rows}");
        assert_eq!((f, ms), (rows, 10 * rows));
        // ...and one of 100 more covers the hour's rows.
        let (f, ms, _, rows) = run(Policy::default(), &[min, min]);
        assert_eq!((f, ms), (rows, 10 * rows));
        // Strict: each write alone.
        assert_eq!(run(Policy::strict(), &[min, 4]).0, min as u64);
        assert_eq!(run(Policy::strict(), &[min - 1, 4]).0, 0);
        // Research: exact rows, none beside them.
        assert_eq!(run(Policy::research(), &[min]).0, 0);
        // A review found exact per-slice sums of packets and bytes: with
        // `_totals.json`'s exact totals they gave the slices left out. No
        // such column is written, nor a count of the flows behind a mean.
        let root = tempfile::tempdir().unwrap();
        let mut p = Policy::default();
        let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
        for i in 0..min {
            w.push(p.store(flow_at(3000 + (i % 5) as u16, 5 * HOUR + 60_000, 8)))
                .unwrap();
        }
        w.close().unwrap();
        let side = files(root.path())
            .into_iter()
            .find(|f| {
                f.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("_agg-")
            })
            .unwrap();
        let reader =
            parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&side).unwrap())
                .unwrap();
        use parquet::file::reader::FileReader;
        let names: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let exact: Vec<&String> = names.iter().filter(|n| n.starts_with("exact")).collect();
        assert_eq!(exact, ["exact_duration_flows", "exact_duration_ms"]);
    }

    /// A crash between an hour's rewrite and the removal of the files it
    /// replaces left the hour twice; the next writer removes them.
    #[test]
    fn files_a_rewrite_replaced_are_removed_after_a_crash() {
        let root = tempfile::tempdir().unwrap();
        let mut p = Policy::default();
        let write = |p: &mut Policy, port: u16| {
            let mut w = DatasetWriter::open(p, DatasetConfig::new(root.path(), "n")).unwrap();
            for _ in 0..5 {
                w.push(p.store(flow_at(port, 5 * HOUR + 60_000, 8)))
                    .unwrap();
            }
            w.close().unwrap();
        };
        write(&mut p, 100);
        let first: Vec<(PathBuf, Vec<u8>)> = files(root.path())
            .into_iter()
            .map(|f| {
                let b = std::fs::read(&f).unwrap();
                (f, b)
            })
            .collect();
        write(&mut p, 101);
        // As if the crash came before the earlier files were removed.
        for (f, b) in &first {
            std::fs::write(f, b).unwrap();
        }
        assert_eq!(files(root.path()).len(), 4);
        // A reader is told which files count the hour twice (the part
        // only: a sidecar goes with its part).
        let day = first[0].0.parent().unwrap();
        let twice = replaced_files(day).unwrap();
        assert_eq!(twice.len(), 1, "{twice:?}");
        assert!(first.iter().any(|(f, _)| f == &twice[0]));
        write(&mut p, 102);
        assert!(replaced_files(day).unwrap().is_empty());
        let fs = files(root.path());
        assert_eq!(fs.len(), 2, "{fs:?}");
        let part = fs
            .iter()
            .find(|f| crate::layout::is_data_file(&f.file_name().unwrap().to_string_lossy()))
            .unwrap();
        let mut ports = ports_in(part, p.layout());
        ports.sort();
        ports.dedup();
        assert_eq!(ports, [100, 101, 102], "each earlier write once");
        assert_eq!(ports_in(part, p.layout()).len(), 15);
    }

    /// A file of another profile's columns in the hour is refused, by name.
    #[test]
    fn an_hour_written_under_another_profile_is_refused_naming_the_file() {
        let root = tempfile::tempdir().unwrap();
        let mut r = Policy::research();
        let mut d = Policy::default();
        let mut w = DatasetWriter::open(&r, DatasetConfig::new(root.path(), "n")).unwrap();
        w.push(r.store(flow_at(80, 60_000, 8))).unwrap();
        w.close().unwrap();
        // Give the research file an hour key as a default writer would.
        let part = files(root.path())
            .into_iter()
            .find(|f| crate::layout::is_data_file(&f.file_name().unwrap().to_string_lossy()))
            .unwrap();
        let rows = crate::row::read_rows(&part, r.layout()).unwrap();
        std::fs::remove_file(&part).unwrap();
        let mut meta = r.file_metadata(Some("n"));
        meta.push((HOUR_KEY.into(), "0".into()));
        let mut fw = FlowWriter::create(&part, Format::Parquet, r.layout(), &meta).unwrap();
        for row in &rows {
            fw.write(row).unwrap();
        }
        fw.finish().unwrap();
        let mut w = DatasetWriter::open(&d, DatasetConfig::new(root.path(), "n")).unwrap();
        for _ in 0..5 {
            w.push(d.store(flow_at(80, 60_000, 8))).unwrap();
        }
        let e = crate::error_chain(&w.close().unwrap_err());
        assert!(
            e.contains(&part.display().to_string()) && e.contains("profile"),
            "{e}"
        );
    }

    /// Offline, an hour that is not over by the wall clock is not written.
    #[test]
    fn ingest_refuses_to_write_an_hour_that_is_not_over() {
        let root = tempfile::tempdir().unwrap();
        let mut p = Policy::default();
        let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
        w.push(p.store(flow_at(80, now_ms(), 8))).unwrap();
        let e = w.close().unwrap_err().to_string();
        assert!(e.contains("not over yet"), "{e}");
        assert!(files(root.path()).is_empty());
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
