//! The writer thread: collects records, completes a dataset file per date
//! partition every flush interval (or sooner when many wait), updates the
//! node's totals, and while the dataset cannot be written (a full disk)
//! holds the records up to a cap, retries, and counts what it had to drop.
use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use exitflow_output::{DatasetConfig, DatasetWriter, NodeTotals, OutputError, Record, layout};
use tracing::{error, info, warn};

use crate::metrics::{self, Metrics};

/// How often the writer wakes to check its timers when no records come.
pub const WRITER_POLL: Duration = Duration::from_millis(200);

/// Where completed files go: the dataset, or a test's stand-in.
pub trait Store {
    /// Writes the rows of one date partition into completed files, all or
    /// nothing; returns the files and bytes completed.
    fn write_partition(&mut self, rows: &[Record]) -> Result<(u64, u64), OutputError>;
    /// Adds `delta` to the node's totals.
    fn add_totals(&mut self, delta: &NodeTotals) -> Result<(), OutputError>;
    /// Deletes partitions older than `days` days; returns how many.
    fn apply_retention(&mut self, _days: u32) -> Result<usize, OutputError> {
        Ok(0)
    }
}

/// The node's Parquet dataset.
pub struct DatasetStore {
    cfg: DatasetConfig,
}

impl DatasetStore {
    /// The dataset `cfg` describes.
    pub fn new(cfg: DatasetConfig) -> DatasetStore {
        DatasetStore { cfg }
    }
}

impl Store for DatasetStore {
    fn write_partition(&mut self, rows: &[Record]) -> Result<(u64, u64), OutputError> {
        let mut w = DatasetWriter::open(self.cfg.clone())?;
        for r in rows {
            if let Err(e) = w.write(r) {
                // Nothing partial stays behind: the rows are retried later.
                w.abort();
                return Err(e);
            }
        }
        w.close()
    }

    fn add_totals(&mut self, delta: &NodeTotals) -> Result<(), OutputError> {
        let dir = layout::node_dir(&self.cfg.root, &self.cfg.node);
        DatasetWriter::add_totals(&dir, delta)?;
        // The file's time must not tell the last flush finer than the profile.
        exitflow_output::files::coarsen_mtime(
            &dir.join(layout::TOTALS_FILE),
            self.cfg.time_granularity_ms,
        )
    }

    fn apply_retention(&mut self, days: u32) -> Result<usize, OutputError> {
        let dir = layout::node_dir(&self.cfg.root, &self.cfg.node);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        exitflow_output::dataset::apply_retention(&dir, days, now).map(|r| r.len())
    }
}

/// The writer's settings.
#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// Finished flows reach a completed file within this time.
    pub flush_interval: Duration,
    /// A file is completed early once this many flows wait.
    pub flush_rows: usize,
    /// Most flows held while the dataset cannot be written.
    pub max_pending: usize,
    /// Time between attempts after a failure.
    pub retry_interval: Duration,
    /// The profile's time granularity (ms). Above 1 ms, the rows of a
    /// granularity bucket are held until the bucket is complete (its end
    /// plus `hold`), then written together, shuffled, into files of their
    /// own: no file tells more than the bucket. 1: every flush writes
    /// everything (research).
    pub granularity_ms: u64,
    /// How long after a bucket's end its flows may still be exported.
    pub hold: Duration,
    /// Days of partitions kept, checked every [`RETENTION_CHECK`].
    pub retention_days: Option<u32>,
}

/// How often the writer applies the retention setting.
pub const RETENTION_CHECK: Duration = Duration::from_secs(3600);

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            flush_interval: crate::DEFAULT_FLUSH_INTERVAL,
            flush_rows: crate::DEFAULT_FLUSH_ROWS,
            max_pending: crate::DEFAULT_MAX_PENDING_FLOWS,
            retry_interval: crate::RETRY_INTERVAL,
            retention_days: None,
            granularity_ms: 1,
            hold: Duration::from_millis(exitflow_output::dataset::DEFAULT_HOLD_MS),
        }
    }
}

/// Records waiting, by time bucket (a day, or the profile's granularity),
/// within a cap.
struct Pending {
    by_date: BTreeMap<u64, Vec<Record>>,
    len: usize,
    cap: usize,
    /// Bucket size, ms.
    bucket_ms: u64,
    /// The profile's granularity, ms (the last file's time is rounded to it).
    granularity_ms: u64,
}

/// Now, in seconds since the epoch, rounded down to `granularity_ms`.
fn now_rounded(granularity_ms: u64) -> u64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    (ms - ms % granularity_ms.max(1)) / 1000
}

impl Pending {
    /// Holds `r`, or returns false when full (the caller counts the loss).
    fn push(&mut self, r: Record) -> bool {
        if self.len >= self.cap {
            return false;
        }
        let t = r.flow.first_seen_ms;
        self.by_date
            .entry(t - t % self.bucket_ms)
            .or_default()
            .push(r);
        self.len += 1;
        true
    }

    /// Writes every pending bucket that starts before `before` (all:
    /// `u64::MAX`) into completed files of its own; the buckets written
    /// leave (so a retry never duplicates rows).
    fn flush(
        &mut self,
        store: &mut impl Store,
        m: &Metrics,
        before: u64,
    ) -> Result<(), OutputError> {
        while let Some(entry) = self.by_date.first_entry() {
            if *entry.key() >= before {
                break;
            }
            let (date, rows) = entry.remove_entry();
            match store.write_partition(&rows) {
                Ok((files, bytes)) => {
                    self.len -= rows.len();
                    m.flows_written.inc_by(rows.len() as u64);
                    m.flows_failed_written
                        .inc_by(rows.iter().filter(|r| r.flow.is_failed()).count() as u64);
                    m.dataset_files.inc_by(files);
                    m.dataset_bytes.inc_by(bytes);
                    if files > 0 {
                        m.last_file.set(now_rounded(self.granularity_ms) as i64);
                    }
                }
                Err(e) => {
                    m.write_errors.inc();
                    self.by_date.insert(date, rows);
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// The node totals the metrics describe.
fn totals_now(node: &str, m: &Metrics) -> NodeTotals {
    let workers = m.workers.get().max(0) as usize;
    NodeTotals {
        node: node.to_owned(),
        captures: 1,
        flows: m.flows_written.get(),
        failed_flows: m.flows_failed_written.get(),
        packets: metrics::sum(&m.packets, workers),
        bytes: metrics::sum(&m.bytes, workers),
        ignored_packets: [(
            exitflow_pipeline::meter::EXCLUDED_KEY.to_owned(),
            m.excluded.get(),
        )]
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .collect(),
        evicted_flows: m.flows_evicted.get(),
        half_open_expired: m.flows_half_open.get(),
        files: m.dataset_files.get(),
        dataset_bytes: m.dataset_bytes.get(),
        lost_flows: m.flows_lost.get(),
        exit_policy: None,
    }
}

/// Adds what changed since the last successful call to the node's totals.
fn write_totals(store: &mut impl Store, node: &str, m: &Metrics, seen: &mut NodeTotals) {
    let now = totals_now(node, m);
    let delta = now.since(seen);
    if delta.flows == 0 && delta.packets == 0 && delta.captures == 0 {
        return;
    }
    match store.add_totals(&delta) {
        Ok(()) => *seen = now,
        Err(e) => warn!("updating the node totals: {e}"),
    }
}

/// Runs the writer until every sender is gone, then writes what is left.
/// Returns the flows lost.
pub fn write_loop(
    rx: Receiver<Vec<Record>>,
    mut store: impl Store,
    node: &str,
    cfg: WriterConfig,
    m: &Metrics,
) -> u64 {
    /// A day: research datasets are partitioned by date only.
    const DAY_MS: u64 = 86_400_000;
    let coarse = cfg.granularity_ms > 1;
    let mut pending = Pending {
        by_date: BTreeMap::new(),
        len: 0,
        cap: cfg.max_pending.max(1),
        bucket_ms: if coarse { cfg.granularity_ms } else { DAY_MS },
        granularity_ms: cfg.granularity_ms,
    };
    // Buckets that may be written now: all (research), or the complete ones;
    // past flush_rows waiting, the oldest too (counted as early).
    let writable = |p: &Pending| -> u64 {
        if !coarse {
            return u64::MAX;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let complete = now
            .saturating_sub(cfg.hold.as_millis() as u64)
            .saturating_sub(cfg.granularity_ms);
        if p.len >= cfg.flush_rows {
            // Spill: the oldest bucket goes now.
            p.by_date
                .keys()
                .nth(1)
                .copied()
                .unwrap_or(u64::MAX)
                .max(complete)
        } else {
            complete
        }
    };
    let mut last_flush = Instant::now();
    let mut failing_since: Option<Instant> = None;
    let mut last_attempt = Instant::now();
    let mut lost = 0u64;
    let mut seen = NodeTotals::default();
    let mut last_retention: Option<Instant> = None;
    let mut open = true;
    while open {
        match rx.recv_timeout(WRITER_POLL) {
            Ok(batch) => {
                for r in batch {
                    if !pending.push(r) {
                        lost += 1;
                        m.flows_lost.inc();
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        m.flows_pending.set(pending.len as i64);
        let due = last_flush.elapsed() >= cfg.flush_interval || pending.len >= cfg.flush_rows;
        let may_try = failing_since.is_none() || last_attempt.elapsed() >= cfg.retry_interval;
        if !((due && may_try) || !open) {
            continue;
        }
        last_attempt = Instant::now();
        let before = writable(&pending);
        match (pending.flush(&mut store, m, before), failing_since) {
            (Ok(()), Some(t)) => {
                info!(
                    after_s = t.elapsed().as_secs(),
                    "the dataset is writable again; held flows written"
                );
                failing_since = None;
            }
            (Ok(()), None) => {}
            (Err(e), None) => {
                error!(
                    "cannot write the dataset, holding up to {} flows and retrying every {} s: {e:#}",
                    pending.cap,
                    cfg.retry_interval.as_secs()
                );
                failing_since = Some(Instant::now());
            }
            (Err(e), Some(_)) => tracing::debug!("still cannot write the dataset: {e:#}"),
        }
        m.flows_pending.set(pending.len as i64);
        last_flush = Instant::now();
        if failing_since.is_none() {
            write_totals(&mut store, node, m, &mut seen);
        }
        if let Some(days) = cfg.retention_days
            && last_retention.is_none_or(|t| t.elapsed() >= RETENTION_CHECK)
        {
            last_retention = Some(Instant::now());
            match store.apply_retention(days) {
                Ok(0) => {}
                Ok(n) => info!(partitions = n, days, "retention: old partitions deleted"),
                Err(e) => warn!("applying the retention: {e:#}"),
            }
        }
    }
    if pending.len > 0 {
        // Shutdown with an unwritable dataset: one last try, then count the loss.
        match pending.flush(&mut store, m, u64::MAX) {
            Ok(()) => write_totals(&mut store, node, m, &mut seen),
            Err(e) => {
                error!(
                    "{} flows could not be written at shutdown: {e:#}",
                    pending.len
                );
                lost += pending.len as u64;
                m.flows_lost.inc_by(pending.len as u64);
            }
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::mpsc::sync_channel;

    /// A store that fails while `fail` is set and counts what it took.
    #[derive(Clone, Default)]
    struct Flaky {
        fail: Arc<AtomicBool>,
        rows: Arc<AtomicU64>,
        totals_flows: Arc<AtomicU64>,
        attempts: Arc<AtomicU64>,
    }

    impl Store for Flaky {
        fn write_partition(&mut self, rows: &[Record]) -> Result<(u64, u64), OutputError> {
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if self.fail.load(Ordering::Relaxed) {
                return Err(OutputError::Io {
                    path: "/full".into(),
                    source: std::io::Error::other("no space left on device"),
                });
            }
            self.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
            Ok((1, 100))
        }
        fn add_totals(&mut self, delta: &NodeTotals) -> Result<(), OutputError> {
            self.totals_flows.fetch_add(delta.flows, Ordering::Relaxed);
            Ok(())
        }
    }

    fn record(day: u64) -> Record {
        let t = day * 86_400_000;
        Record::unlabelled(exitflow_flow::Flow::from_totals(
            0,
            17,
            ([0; 16], 1),
            ([0; 16], 2),
            (t, t),
            (1, 60),
            (0, 0),
            exitflow_flow::EndReason::Idle,
        ))
    }

    fn config(max_pending: usize) -> WriterConfig {
        WriterConfig {
            flush_interval: Duration::from_millis(1),
            flush_rows: 1_000,
            max_pending,
            retry_interval: Duration::from_millis(1),
            ..WriterConfig::default()
        }
    }

    #[test]
    fn held_flows_are_written_once_the_store_recovers() {
        let store = Flaky::default();
        store.fail.store(true, Ordering::Relaxed);
        let m = Metrics::default();
        let (tx, rx) = sync_channel(4);
        let s = store.clone();
        std::thread::scope(|sc| {
            let w = sc.spawn(|| write_loop(rx, s, "n", config(100), &m));
            tx.send((0..10).map(|i| record(i % 3)).collect()).unwrap();
            while store.attempts.load(Ordering::Relaxed) < 3 {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(store.rows.load(Ordering::Relaxed), 0);
            store.fail.store(false, Ordering::Relaxed);
            drop(tx);
            assert_eq!(w.join().unwrap(), 0, "nothing lost");
        });
        assert_eq!(store.rows.load(Ordering::Relaxed), 10, "each row once");
        assert_eq!(m.flows_written.get(), 10);
        assert!(m.write_errors.get() >= 3);
        assert_eq!(m.flows_pending.get(), 0);
        assert_eq!(store.totals_flows.load(Ordering::Relaxed), 10);
    }

    /// Under an hourly profile, the rows of an hour are written together,
    /// once the hour is complete (or at shutdown), never per flush.
    #[test]
    fn coarse_profiles_write_an_hour_only_once_it_is_complete() {
        let store = Flaky::default();
        let m = Metrics::default();
        let (tx, rx) = sync_channel(4);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let hour = 3_600_000;
        let rec = |t: u64| {
            let mut r = record(0);
            r.flow.first_seen_ms = t;
            r
        };
        let cfg = WriterConfig {
            granularity_ms: hour,
            hold: Duration::from_secs(60),
            ..config(1000)
        };
        let s = store.clone();
        std::thread::scope(|sc| {
            let w = sc.spawn(|| write_loop(rx, s, "n", cfg, &m));
            // This hour's flows, and flows of three hours ago.
            tx.send((0..5).map(|_| rec(now)).collect()).unwrap();
            tx.send((0..3).map(|_| rec(now - 3 * hour)).collect())
                .unwrap();
            let t = Instant::now();
            while store.rows.load(Ordering::Relaxed) < 3 {
                assert!(t.elapsed() < Duration::from_secs(10));
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(
                store.rows.load(Ordering::Relaxed),
                3,
                "the current hour waits"
            );
            assert_eq!(m.flows_pending.get(), 5);
            drop(tx);
            assert_eq!(w.join().unwrap(), 0);
        });
        assert_eq!(store.rows.load(Ordering::Relaxed), 8, "written at shutdown");
        assert_eq!(
            store.attempts.load(Ordering::Relaxed),
            2,
            "one write per hour"
        );
    }

    #[test]
    fn beyond_the_write_buffer_flows_are_counted_as_lost() {
        let store = Flaky::default();
        store.fail.store(true, Ordering::Relaxed);
        let m = Metrics::default();
        let (tx, rx) = sync_channel(4);
        tx.send((0..25).map(|_| record(1)).collect()).unwrap();
        drop(tx);
        let lost = write_loop(rx, store.clone(), "n", config(10), &m);
        // 15 beyond the buffer, then the 10 held ones at shutdown.
        assert_eq!(lost, 25);
        assert_eq!(m.flows_lost.get(), 25);
        assert_eq!(m.flows_written.get() + m.flows_lost.get(), 25);
        assert_eq!(store.rows.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_partition_that_fails_is_kept_and_the_others_are_not_rewritten() {
        /// Fails the second partition once.
        struct SecondFailsOnce(u32, u64);
        impl Store for SecondFailsOnce {
            fn write_partition(&mut self, rows: &[Record]) -> Result<(u64, u64), OutputError> {
                self.0 += 1;
                if self.0 == 2 {
                    return Err(OutputError::Policy("disk".into()));
                }
                self.1 += rows.len() as u64;
                Ok((1, 1))
            }
            fn add_totals(&mut self, _: &NodeTotals) -> Result<(), OutputError> {
                Ok(())
            }
        }
        let m = Metrics::default();
        let mut p = Pending {
            by_date: BTreeMap::new(),
            len: 0,
            cap: 100,
            bucket_ms: 86_400_000,
            granularity_ms: 1,
        };
        for d in 0..3 {
            assert!(p.push(record(d)));
            assert!(p.push(record(d)));
        }
        let mut s = SecondFailsOnce(0, 0);
        assert!(p.flush(&mut s, &m, u64::MAX).is_err());
        assert_eq!((p.len, s.1), (4, 2));
        p.flush(&mut s, &m, u64::MAX).unwrap();
        assert_eq!((p.len, s.1), (0, 6));
        assert_eq!(m.flows_written.get(), 6);
    }
}
