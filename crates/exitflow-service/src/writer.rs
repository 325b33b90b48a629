//! The writer thread: takes the workers' rows into the dataset's one gate
//! ([`DatasetWriter`], built from the policy), asks it every flush interval
//! to write what the policy lets it write by now (under `default` and
//! `strict`, whole hours once they are over; under `research`, everything),
//! updates the node's totals when something was written, and while the
//! dataset cannot be written (a full disk) keeps the rows, retries, and
//! counts what it had to drop.
//!
//! The writer has no time granularity or buffer policy of its own: the
//! gate has the policy's, so a live capture cannot write finer files than
//! `ingest` does.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use exitflow_output::{
    DatasetConfig, DatasetWriter, NodeTotals, OutputError, Policy, Row, Written,
};
use tracing::{error, info, warn};

use crate::ErrorChain;
use crate::metrics::{self, Metrics};

/// How often the writer wakes to check its timers when no records come.
pub const WRITER_POLL: Duration = Duration::from_millis(200);

/// Where rows go: the dataset's gate, or a test's stand-in.
pub trait Store {
    /// Holds (or writes, under research) one row; an error when it can be
    /// neither written nor held.
    fn push(&mut self, r: Row) -> Result<(), OutputError>;
    /// Writes what the policy lets it write at `now_ms`.
    fn write_complete(&mut self, now_ms: u64) -> Result<(), OutputError>;
    /// Writes everything held (the service is stopping).
    fn write_all(&mut self) -> Result<(), OutputError>;
    /// Everything written so far (also by calls that then failed).
    fn written(&self) -> Written;
    /// Rows held.
    fn pending(&self) -> usize;
    /// Most rows held while nothing can be written.
    fn capacity(&self) -> usize;
    /// The policy's time granularity, ms (file times are rounded to it).
    fn granularity_ms(&self) -> u64;
    /// Adds `delta` to the node's totals.
    fn add_totals(&mut self, delta: &NodeTotals) -> Result<(), OutputError>;
    /// Deletes partitions older than `days` days; returns how many.
    fn apply_retention(&mut self, _days: u32) -> Result<usize, OutputError> {
        Ok(0)
    }
}

/// The node's Parquet dataset, through its gate.
pub struct DatasetStore {
    w: DatasetWriter,
    totals: exitflow_output::TotalsRule,
}

impl DatasetStore {
    /// The dataset `cfg` describes, written as `policy` says, on the wall
    /// clock the writer loop passes.
    pub fn open(policy: &Policy, mut cfg: DatasetConfig) -> Result<DatasetStore, OutputError> {
        cfg.data_clock = false;
        Ok(DatasetStore {
            w: DatasetWriter::open(policy, cfg)?,
            totals: policy.totals_rule(),
        })
    }
}

impl Store for DatasetStore {
    fn push(&mut self, r: Row) -> Result<(), OutputError> {
        self.w.push(r)
    }

    fn write_complete(&mut self, now_ms: u64) -> Result<(), OutputError> {
        self.w.write_complete(now_ms).map(|_| ())
    }

    fn write_all(&mut self) -> Result<(), OutputError> {
        self.w.write_all().map(|_| ())
    }

    fn written(&self) -> Written {
        self.w.written()
    }

    fn pending(&self) -> usize {
        self.w.pending()
    }

    fn capacity(&self) -> usize {
        self.w.capacity()
    }

    fn granularity_ms(&self) -> u64 {
        self.totals.granularity_ms
    }

    fn add_totals(&mut self, delta: &NodeTotals) -> Result<(), OutputError> {
        exitflow_output::totals::add(self.w.node_dir(), delta, self.totals).map(|_| ())
    }

    fn apply_retention(&mut self, days: u32) -> Result<usize, OutputError> {
        let dir = self.w.node_dir().to_owned();
        exitflow_output::dataset::apply_retention(&dir, days, exitflow_output::dataset::now_ms())
            .map(|r| r.len())
    }
}

/// The time the service goes by: the system's (shifted by a test's skew),
/// or one a test sets.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system's time plus this many ms (0 in production; a test puts
    /// an hour's end a few seconds ahead).
    System(i64),
    /// A time (ms since the epoch) a test moves.
    Manual(Arc<AtomicU64>),
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::System(0)
    }
}

impl Clock {
    /// A clock that reads `t` (ms since the epoch), which the test moves.
    pub fn manual(t: Arc<AtomicU64>) -> Clock {
        Clock::Manual(t)
    }

    /// Now, ms since the epoch.
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::Manual(t) => t.load(Ordering::Relaxed),
            Clock::System(skew) => exitflow_output::dataset::now_ms().saturating_add_signed(*skew),
        }
    }

    /// The skew of a system clock (0 for a manual one).
    pub fn skew_ms(&self) -> i64 {
        match self {
            Clock::System(s) => *s,
            Clock::Manual(_) => 0,
        }
    }
}

/// The writer's settings.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// How often the writer asks the gate to write what it may.
    pub flush_interval: Duration,
    /// Research: a file is completed early once this many rows wait.
    pub flush_rows: usize,
    /// Time between attempts after a failure.
    pub retry_interval: Duration,
    /// Days of partitions kept, checked every [`RETENTION_CHECK`].
    pub retention_days: Option<u32>,
    /// The time source.
    pub clock: Clock,
}

/// How often the writer applies the retention setting.
pub const RETENTION_CHECK: Duration = Duration::from_secs(3600);

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            flush_interval: crate::DEFAULT_FLUSH_INTERVAL,
            flush_rows: crate::DEFAULT_FLUSH_ROWS,
            retry_interval: crate::RETRY_INTERVAL,
            retention_days: None,
            clock: Clock::default(),
        }
    }
}

/// `now_ms` in seconds, rounded down to `granularity_ms`.
fn rounded_s(now_ms: u64, granularity_ms: u64) -> u64 {
    (now_ms - now_ms % granularity_ms.max(1)) / 1000
}

fn count_written(m: &Metrics, w: &Written, now_s: u64) {
    m.flows_written.inc_by(w.rows);
    m.flows_generalised.inc_by(w.generalised);
    m.flows_suppressed.inc_by(w.suppressed);
    m.flows_folded.inc_by(w.folded);
    m.flows_failed_written.inc_by(w.failed);
    m.dataset_files.inc_by(w.files);
    m.dataset_bytes.inc_by(w.bytes);
    if w.files > 0 {
        m.last_file.set(now_s as i64);
    }
}

/// The node totals the metrics describe.
fn totals_now(node: &str, m: &Metrics) -> NodeTotals {
    let workers = m.workers.get().max(0) as usize;
    NodeTotals {
        node: node.to_owned(),
        captures: 1,
        // Every flow taken: written, or withheld by the k rule.
        flows: m.flows_written.get() + m.flows_suppressed.get(),
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
        generalised_flows: m.flows_generalised.get(),
        suppressed_flows: m.flows_suppressed.get(),
        folded_flows: m.flows_folded.get(),
        ..NodeTotals::default()
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
        Err(e) => warn!("updating the node totals: {}", crate::ErrorChain(&e)),
    }
}

/// Runs the writer until every sender is gone, then writes what is left.
/// Returns the flows lost.
pub fn write_loop(
    rx: Receiver<Vec<Row>>,
    mut store: impl Store,
    node: &str,
    cfg: WriterConfig,
    m: &Metrics,
) -> u64 {
    let g = store.granularity_ms();
    let mut counted = store.written();
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
                    if store.push(r).is_err() {
                        lost += 1;
                        m.flows_lost.inc();
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        m.flows_pending.set(store.pending() as i64);
        if !open {
            break;
        }
        let due = last_flush.elapsed() >= cfg.flush_interval || store.pending() >= cfg.flush_rows;
        let may_try = failing_since.is_none() || last_attempt.elapsed() >= cfg.retry_interval;
        if !(due && may_try) {
            continue;
        }
        last_attempt = Instant::now();
        let now = cfg.clock.now_ms();
        let result = store.write_complete(now);
        // What was written counts even when a later hour then failed.
        let w = store.written().since(&counted);
        counted = store.written();
        count_written(m, &w, rounded_s(now, g));
        match (result, failing_since) {
            (Ok(()), since) => {
                if let Some(t) = since {
                    info!(
                        after_s = t.elapsed().as_secs(),
                        "the dataset is writable again; held flows written"
                    );
                    failing_since = None;
                }
            }
            (Err(e), None) => {
                m.write_errors.inc();
                error!(
                    "cannot write the dataset, holding up to {} flows and retrying every {} s: {}",
                    store.capacity(),
                    cfg.retry_interval.as_secs(),
                    ErrorChain(&e)
                );
                failing_since = Some(Instant::now());
            }
            (Err(e), Some(_)) => {
                m.write_errors.inc();
                tracing::debug!("still cannot write the dataset: {}", ErrorChain(&e));
            }
        }
        // The totals change only with what was written: their file tells
        // no more than the dataset's files do.
        if w.files > 0 || w.buckets > 0 {
            write_totals(&mut store, node, m, &mut seen);
        }
        m.flows_pending.set(store.pending() as i64);
        last_flush = Instant::now();
        if let Some(days) = cfg.retention_days
            && last_retention.is_none_or(|t| t.elapsed() >= RETENTION_CHECK)
        {
            last_retention = Some(Instant::now());
            match store.apply_retention(days) {
                Ok(0) => {}
                Ok(n) => info!(partitions = n, days, "retention: old partitions deleted"),
                Err(e) => warn!("applying the retention: {}", crate::ErrorChain(&e)),
            }
        }
    }
    // Stopping: the one time an hour is written before it is over.
    let result = store.write_all();
    let w = store.written().since(&counted);
    count_written(m, &w, rounded_s(cfg.clock.now_ms(), g));
    if let Err(e) = result {
        let n = store.pending() as u64;
        error!(
            "{n} flows could not be written at shutdown: {}",
            ErrorChain(&e)
        );
        lost += n;
        m.flows_lost.inc_by(n);
    }
    write_totals(&mut store, node, m, &mut seen);
    m.flows_pending.set(store.pending() as i64);
    lost
}

#[cfg(test)]
mod tests {
    use super::*;
    use exitflow_output::layout;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc::sync_channel;

    const HOUR: u64 = 3_600_000;

    /// A store that fails while `fail` is set and counts what it took:
    /// every row is held until a successful write_complete/write_all.
    #[derive(Clone, Default)]
    struct Flaky {
        fail: Arc<AtomicBool>,
        held: Arc<AtomicU64>,
        rows: Arc<AtomicU64>,
        written: Arc<std::sync::Mutex<Written>>,
        totals_flows: Arc<AtomicU64>,
        attempts: Arc<AtomicU64>,
        cap: usize,
    }

    impl Store for Flaky {
        fn push(&mut self, _: Row) -> Result<(), OutputError> {
            if self.held.load(Ordering::Relaxed) as usize >= self.cap {
                return Err(OutputError::Full { rows: self.cap });
            }
            self.held.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn write_complete(&mut self, _: u64) -> Result<(), OutputError> {
            self.write_all()
        }
        fn written(&self) -> Written {
            *self.written.lock().unwrap()
        }
        fn capacity(&self) -> usize {
            self.cap
        }
        fn write_all(&mut self) -> Result<(), OutputError> {
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if self.fail.load(Ordering::Relaxed) {
                return Err(OutputError::Io {
                    path: "/full".into(),
                    source: std::io::Error::other("no space left on device"),
                });
            }
            let n = self.held.swap(0, Ordering::Relaxed);
            self.rows.fetch_add(n, Ordering::Relaxed);
            self.written.lock().unwrap().add(Written {
                buckets: u64::from(n > 0),
                rows: n,
                files: u64::from(n > 0),
                ..Written::default()
            });
            Ok(())
        }
        fn pending(&self) -> usize {
            self.held.load(Ordering::Relaxed) as usize
        }
        fn granularity_ms(&self) -> u64 {
            1
        }
        fn add_totals(&mut self, delta: &NodeTotals) -> Result<(), OutputError> {
            self.totals_flows.fetch_add(delta.flows, Ordering::Relaxed);
            Ok(())
        }
    }

    fn config() -> WriterConfig {
        WriterConfig {
            flush_interval: Duration::from_millis(1),
            flush_rows: 1_000,
            retry_interval: Duration::from_millis(1),
            ..WriterConfig::default()
        }
    }

    /// A stored row of the default profile, first seen at `t`.
    fn row_at(policy: &mut Policy, t: u64, port: u16) -> Row {
        policy.store(exitflow_output::Record::unlabelled(
            exitflow_flow::Flow::from_totals(
                0,
                6,
                ([0; 16], 40_000),
                ([0; 16], port),
                (t, t + 10),
                (3, 200),
                (3, 300),
                exitflow_flow::EndReason::Idle,
            ),
        ))
    }

    #[test]
    fn held_flows_are_written_once_the_store_recovers() {
        let store = Flaky {
            cap: 100,
            ..Flaky::default()
        };
        store.fail.store(true, Ordering::Relaxed);
        let m = Metrics::default();
        let (tx, rx) = sync_channel(4);
        let s = store.clone();
        let mut p = Policy::research();
        std::thread::scope(|sc| {
            let w = sc.spawn(|| write_loop(rx, s, "n", config(), &m));
            tx.send((0..10).map(|i| row_at(&mut p, i, 80)).collect())
                .unwrap();
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

    #[test]
    fn beyond_the_write_buffer_flows_are_counted_as_lost() {
        let store = Flaky {
            cap: 10,
            ..Flaky::default()
        };
        store.fail.store(true, Ordering::Relaxed);
        let m = Metrics::default();
        let (tx, rx) = sync_channel(4);
        let mut p = Policy::research();
        tx.send((0..25).map(|i| row_at(&mut p, i, 80)).collect())
            .unwrap();
        drop(tx);
        let lost = write_loop(rx, store.clone(), "n", config(), &m);
        // 15 beyond the buffer, then the 10 held ones at shutdown.
        assert_eq!(lost, 25);
        assert_eq!(m.flows_lost.get(), 25);
        assert_eq!(m.flows_written.get() + m.flows_lost.get(), 25);
        assert_eq!(store.rows.load(Ordering::Relaxed), 0);
    }

    fn data_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let node = layout::node_dir(root, "n");
        for d in std::fs::read_dir(&node).into_iter().flatten().flatten() {
            if d.path().is_dir() {
                for f in std::fs::read_dir(d.path()).unwrap().flatten() {
                    let name = f.file_name().to_string_lossy().into_owned();
                    if !name.starts_with('.') {
                        out.push(f.path());
                    }
                }
            }
        }
        out
    }

    /// Review finding 1 of the privacy gate: the live writer wrote a part
    /// every 30-s flush under `default` and `strict` (its config's own
    /// granularity of 1 ms). The store now has the policy's: with flushes
    /// every millisecond, nothing of an hour is on disk before the hour
    /// and the hold are over, then the hour is one file (and its
    /// sidecar), and the totals change only then.
    #[test]
    fn finding_1_live_capture_writes_each_hour_once_after_it_is_over() {
        for policy in [Policy::default(), Policy::strict()] {
            let root = tempfile::tempdir().unwrap();
            let t0 = 1_790_000_000_000 - 1_790_000_000_000 % HOUR + 600_000;
            let clock = Arc::new(AtomicU64::new(t0));
            let cfg = WriterConfig {
                clock: Clock::manual(clock.clone()),
                ..config()
            };
            let mut dc = DatasetConfig::new(root.path(), "n");
            dc.hold_ms = 120_000;
            let store = DatasetStore::open(&policy, dc).unwrap();
            let m = Metrics::default();
            let (tx, rx) = sync_channel(4);
            let mut p = policy.clone();
            std::thread::scope(|sc| {
                let w = sc.spawn(|| write_loop(rx, store, "n", cfg, &m));
                for minute in 0..40u64 {
                    clock.store(t0 + minute * 60_000, Ordering::Relaxed);
                    tx.send(
                        (0..5)
                            .map(|_| row_at(&mut p, t0 + minute * 60_000, 31337))
                            .collect(),
                    )
                    .unwrap();
                    std::thread::sleep(Duration::from_millis(3));
                }
                // Past the hour's end, within the hold: still nothing.
                clock.store(t0 - 600_000 + HOUR + 60_000, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(300));
                assert!(
                    data_files(root.path()).is_empty(),
                    "{:?}",
                    data_files(root.path())
                );
                assert!(
                    !layout::node_dir(root.path(), "n")
                        .join(layout::TOTALS_FILE)
                        .exists()
                );
                clock.store(t0 - 600_000 + HOUR + 130_000, Ordering::Relaxed);
                let t = Instant::now();
                while data_files(root.path()).is_empty() {
                    assert!(t.elapsed() < Duration::from_secs(10), "the hour never came");
                    std::thread::sleep(Duration::from_millis(5));
                }
                drop(tx);
                assert_eq!(w.join().unwrap(), 0);
            });
            let files = data_files(root.path());
            let expected = if policy.aggregates_only { 1 } else { 2 };
            assert_eq!(files.len(), expected, "one write of the hour: {files:?}");
            assert_eq!(m.flows_written.get(), 200);
        }
    }
}
