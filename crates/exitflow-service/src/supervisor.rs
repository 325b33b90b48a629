//! The supervisor: opens the sockets and the metrics endpoint while
//! privileged, drops privileges, prepares the dataset, starts the workers
//! and the writer, then reloads enrichment, logs status and watches for the
//! stop flag until every flow is written.
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use exitflow_capture::live::{
    FilterInsn, LiveSocket, RingConfig, drop_capabilities, drop_privileges,
};
use exitflow_output::dataset::remove_stale_temp_files;
use exitflow_output::{DatasetConfig, Policy, layout};
use exitflow_pipeline::{Enricher, MeterOptions};
use tracing::{error, info, warn};

use crate::metrics::{self, Metrics, worker};
use crate::worker::Worker;
use crate::writer::{DatasetStore, WriterConfig, write_loop};
use crate::{DEFAULT_EXPORT_QUEUE_BATCHES, ErrorChain, ServiceError, memory_budget};

/// How often the supervisor checks the stop flag and its timers.
pub const SUPERVISOR_POLL: Duration = Duration::from_millis(100);
/// How often the dataset's free disk space is read.
pub const DISK_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Everything the service needs, resolved and validated by the caller.
pub struct ServiceConfig {
    /// The interface to capture on.
    pub interface: String,
    /// The dataset (root, node, columns, metadata).
    pub dataset: DatasetConfig,
    /// Capture workers (1..=[`crate::MAX_WORKERS`]).
    pub workers: usize,
    /// Ring of each worker.
    pub ring: RingConfig,
    /// A compiled classic-BPF filter, attached before bind.
    pub filter: Option<Vec<FilterInsn>>,
    /// The metrics endpoint, if any.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether the endpoint may listen on an address other than loopback.
    pub metrics_allow_remote: bool,
    /// The user to run as once the sockets are open.
    pub user: Option<String>,
    /// The writer's settings.
    pub writer: WriterConfig,
    /// Time between status lines.
    pub status_interval: Duration,
    /// Time between checks for changed GeoIP databases and consensus.
    pub reload_interval: Duration,
    /// Stop by itself after this long.
    pub duration: Option<Duration>,
    /// The pipeline; `flow.max_flows` is the process's cap, shared by the workers.
    pub meter: MeterOptions,
    /// The privacy policy.
    pub policy: Policy,
    /// Enrichment.
    pub enricher: Enricher,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServiceError {
    let what = what.into();
    move |source| ServiceError::Io { what, source }
}

fn spawn<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, ServiceError> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(io(format!("starting thread {name}")))
}

/// Runs the capture until `stop` is set (or the configured duration ends);
/// returns whether every worker ended cleanly. Flows that could not be
/// written are an error ([`ServiceError::Lost`]).
pub fn run(cfg: ServiceConfig, stop: Arc<AtomicBool>) -> Result<bool, ServiceError> {
    let ServiceConfig {
        interface,
        dataset,
        workers,
        ring,
        filter,
        metrics_addr,
        metrics_allow_remote,
        user,
        writer,
        status_interval,
        reload_interval,
        duration,
        mut meter,
        policy,
        enricher,
    } = cfg;
    if !(1..=crate::MAX_WORKERS).contains(&workers) {
        return Err(ServiceError::Config(format!(
            "workers: {workers}: expected 1 to {}",
            crate::MAX_WORKERS
        )));
    }
    // The flow cap is the process's: each worker's table holds its share.
    let total_flows = meter.flow.max_flows;
    meter.flow.max_flows = total_flows.div_ceil(workers).max(1);

    // Privileged steps first: the sockets and the endpoint. The fanout
    // group id only needs to be unique on the host while we run.
    let group = (std::process::id() & u32::from(u16::MAX)) as u16;
    let mut sockets = Vec::with_capacity(workers);
    for _ in 0..workers {
        sockets.push(LiveSocket::open_filtered(
            &interface,
            &ring,
            (workers > 1).then_some(group),
            filter.as_deref(),
        )?);
    }
    let m = Arc::new(Metrics::default());
    m.start_time.set(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    m.workers.set(workers as i64);
    let listener = match metrics_addr {
        Some(a) => Some(metrics::bind(a, metrics_allow_remote)?),
        None => None,
    };
    // Nothing privileged is needed past this point: no capability stays, in
    // any set, for the threads started below (they inherit these).
    if let Some(user) = &user {
        drop_privileges(user)?;
        info!(user = %user, "running unprivileged");
    }
    let left = drop_capabilities()?;
    if left.bounding != 0 {
        warn!(
            bounding = format!("{:#x}", left.bounding),
            "capabilities dropped, but the bounding set could not be cleared without CAP_SETPCAP \
             (no-new-privileges still applies)"
        );
    } else {
        info!("every capability dropped");
    }
    // As the user that will write (files created before the switch would
    // belong to root).
    let node_dir = layout::node_dir(&dataset.root, &dataset.node);
    std::fs::create_dir_all(&node_dir).map_err(io(format!("creating {}", node_dir.display())))?;
    record_free_disk(&m, &node_dir);
    let stale = remove_stale_temp_files(&node_dir)?;
    if !stale.is_empty() {
        warn!(
            files = stale.len(),
            "removed incomplete files of a run that was killed"
        );
    }
    // Fail now, clearly, rather than at the first flush.
    let probe = node_dir.join(".exitflow-write-probe.tmp");
    std::fs::write(&probe, b"").map_err(io(format!(
        "the dataset is not writable: {}",
        node_dir.display()
    )))?;
    let _ = std::fs::remove_file(&probe);
    // The exit policy in force, in the node's totals (counts unchanged).
    if let Some(p) = &enricher.exit_policy {
        exitflow_output::totals::note_exit_policy(
            &node_dir,
            &dataset.node,
            p,
            policy.totals_rule(),
        )?;
        info!(exit_policy = %p.summary, source = %p.source, "exit policy recorded");
    }
    // Under an hourly profile, what follows flows is shown (endpoint) and
    // logged (status line) as of each boundary of the profile's bucket.
    let snapshot = policy.holds_hours().then(|| {
        let s = metrics::FlowSnapshot::default();
        s.take(&m.registry());
        s
    });
    if let Some(l) = listener {
        let addr = l.local_addr().map_err(io("metrics endpoint"))?;
        let reg = m.registry();
        let snap = snapshot.clone();
        spawn("metrics".into(), move || metrics::serve(l, reg, snap))?;
        info!(%addr, "metrics endpoint");
    }

    let node = dataset.node.clone();
    let root = dataset.root.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel(DEFAULT_EXPORT_QUEUE_BATCHES);
    let held_rows = dataset.memory_rows.max(dataset.max_rows);
    let store = DatasetStore::open(&policy, dataset)?;
    let flush_interval = writer.flush_interval;
    let skew_ms = writer.clock.skew_ms();
    let writer_handle = {
        let (m, node) = (m.clone(), node.clone());
        spawn("writer".into(), move || {
            write_loop(rx, store, &node, writer, &m)
        })?
    };
    let mut reload_tx: Vec<SyncSender<Enricher>> = Vec::new();
    let mut handles = Vec::new();
    for (id, sock) in sockets.into_iter().enumerate() {
        let (rtx, rrx) = std::sync::mpsc::sync_channel(1);
        reload_tx.push(rtx);
        let w = Worker {
            id,
            sock,
            opts: meter.clone(),
            policy: policy.clone(),
            enricher: enricher.clone(),
            reload: rrx,
            tx: tx.clone(),
            metrics: m.clone(),
            stop: stop.clone(),
            skew_ms,
        };
        handles.push(spawn(format!("capture-{id}"), move || w.run())?);
    }
    drop(tx);
    let budget = memory_budget(
        workers,
        u64::from(ring.blocks) * u64::from(ring.block_size),
        meter.flow.max_flows,
        held_rows,
    );
    info!(
        budget_mib = budget >> 20,
        max_flows = total_flows,
        "memory cap: rings + flow tables + export queue + write buffer"
    );
    info!(
        interface = %interface,
        workers,
        node = %node,
        dataset = %root.display(),
        flush_interval_s = flush_interval.as_secs(),
        policy = %policy.describe(),
        "capture started"
    );

    let started = Instant::now();
    enrichment_ages(&m, &enricher);
    let mut reloader = Reloader {
        enricher,
        last: Instant::now(),
        interval: reload_interval,
    };
    let mut status = Status {
        last: Instant::now(),
        interval: status_interval,
        last_packets: 0,
    };
    let bucket_ms = policy.time_granularity_ms.max(1);
    let service_now = || exitflow_output::dataset::now_ms().saturating_add_signed(skew_ms);
    let mut bucket = service_now() / bucket_ms;
    let snapshot_registry = m.registry();
    let mut disk_checked = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(SUPERVISOR_POLL);
        if disk_checked.elapsed() >= DISK_CHECK_INTERVAL {
            disk_checked = Instant::now();
            record_free_disk(&m, &node_dir);
        }
        if duration.is_some_and(|d| started.elapsed() >= d)
            || handles.iter().any(|h| h.is_finished())
        {
            // Time is up, or a worker ended on an error: stop the others,
            // drain, report.
            stop.store(true, Ordering::Relaxed);
        }
        reloader.tick(&m, &reload_tx);
        match &snapshot {
            Some(snap) => {
                let now = service_now() / bucket_ms;
                if now != bucket {
                    bucket = now;
                    snap.take(&snapshot_registry);
                    status_line(&m, workers, None);
                }
            }
            None => status.tick(&m, workers),
        }
    }
    info!("stopping: draining the rings and exporting every active flow");
    let mut clean = true;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                clean = false;
                error!("{:#}", ErrorChain(&e));
            }
            Err(_) => return Err(ServiceError::Panicked("capture worker")),
        }
    }
    let lost = writer_handle
        .join()
        .map_err(|_| ServiceError::Panicked("writer"))?;
    status_line(&m, workers, snapshot.is_none().then_some(0.0));
    info!(
        flows = m.flows_written.get(),
        files = m.dataset_files.get(),
        lost,
        "capture stopped"
    );
    if lost > 0 {
        return Err(ServiceError::Lost(lost));
    }
    Ok(clean)
}

/// The free space of the dataset's file system, into its gauge.
fn record_free_disk(m: &Metrics, node_dir: &std::path::Path) {
    if let Ok(b) = exitflow_capture::disk::available_bytes(node_dir) {
        m.dataset_free.set(i64::try_from(b).unwrap_or(i64::MAX));
    }
}

/// Reloads GeoIP databases and the consensus when their files change, and
/// hands the new copy to every worker.
pub struct Reloader {
    /// The supervisor's copy.
    pub enricher: Enricher,
    /// Last check.
    pub last: Instant,
    /// Time between checks.
    pub interval: Duration,
}

impl Reloader {
    /// Checks the files when the interval has passed.
    pub fn tick(&mut self, m: &Metrics, workers: &[SyncSender<Enricher>]) {
        if self.last.elapsed() < self.interval {
            return;
        }
        self.last = Instant::now();
        let e = &mut self.enricher;
        let (g0, c0) = (e.geo.reloads, e.consensus_reloads);
        let failures = e.reload_changed();
        for f in &failures {
            warn!(
                "reload failed, the previous copy stays in use: {:#}",
                ErrorChain(f)
            );
        }
        m.reload_errors.inc_by(failures.len() as u64);
        if e.geo.reloads != g0 || e.consensus_reloads != c0 {
            m.geoip_reloads.inc_by(e.geo.reloads - g0);
            m.consensus_reloads.inc_by(e.consensus_reloads - c0);
            enrichment_ages(m, e);
            info!("GeoIP or consensus changed: reloaded");
            for t in workers {
                // A worker that has not taken the previous copy yet gets it later.
                let _ = t.try_send(e.clone());
            }
        }
    }
}

/// The consensus's and the GeoIP databases' times, for `exitflow status`.
fn enrichment_ages(m: &Metrics, e: &Enricher) {
    let c = e.consensus.as_ref().and_then(|c| c.valid_after_unix());
    m.consensus_valid_after.set(c.unwrap_or(0) as i64);
    m.geoip_built
        .set(e.geo.oldest_build_epoch().unwrap_or(0) as i64);
    m.own_addresses.set(e.roles.own.len() as i64);
    m.exit_addresses.set(e.roles.exit.len() as i64);
}

/// The periodic status line.
struct Status {
    last: Instant,
    interval: Duration,
    last_packets: u64,
}

impl Status {
    fn tick(&mut self, m: &Metrics, workers: usize) {
        if self.last.elapsed() < self.interval {
            return;
        }
        let secs = self.last.elapsed().as_secs_f64();
        self.last = Instant::now();
        let p = metrics::sum(&m.packets, workers);
        status_line(m, workers, Some((p - self.last_packets) as f64 / secs));
        self.last_packets = p;
    }
}

/// Logs the counters. `rate` (packets per second) is `None` under an hourly
/// profile, whose line shows only what [`metrics::HOURLY_SHOWN`] lets the
/// endpoint show: the journal keeps its lines, and hour-apart counts of
/// packets, or of flows exported against flows written, would give each
/// hour's exact traffic and withheld rows, finer than the node totals.
fn status_line(m: &Metrics, workers: usize, rate: Option<f64>) {
    let Some(rate) = rate else {
        info!(
            kernel_drops = metrics::sum(&m.kernel_drops, workers),
            flows_written = m.flows_written.get(),
            flows_lost = m.flows_lost.get(),
            files = m.dataset_files.get(),
            dataset_bytes = m.dataset_bytes.get(),
            "status"
        );
        return;
    };
    let active: i64 = (0..workers)
        .map(|i| m.flows_active.get_or_create(&worker(i)).get())
        .sum();
    info!(
        packets = metrics::sum(&m.packets, workers),
        pps = rate.round() as u64,
        kernel_drops = metrics::sum(&m.kernel_drops, workers),
        flows_active = active,
        flows_exported = m.flows_exported.get(),
        flows_written = m.flows_written.get(),
        flows_evicted = m.flows_evicted.get(),
        flows_pending = m.flows_pending.get(),
        flows_lost = m.flows_lost.get(),
        files = m.dataset_files.get(),
        dataset_bytes = m.dataset_bytes.get(),
        "status"
    );
}

/// Compiles a tcpdump-style filter for the interface's link type.
#[cfg(feature = "libpcap")]
pub fn compile_filter(expr: &str, interface: &str) -> Result<Vec<FilterInsn>, ServiceError> {
    let link = exitflow_capture::live::interface_link_type(interface)?;
    let f = exitflow_capture::filter::compile(expr, link)?;
    info!(filter = %f.expression, instructions = f.program.len(), "filter compiled");
    Ok(f.program)
}

/// Without libpcap, filter expressions cannot be compiled: say how to get them.
#[cfg(not(feature = "libpcap"))]
pub fn compile_filter(expr: &str, _interface: &str) -> Result<Vec<FilterInsn>, ServiceError> {
    Err(ServiceError::Config(format!(
        "filter {expr:?}: this exitflow was built without filter expressions; \
         rebuild with `--features libpcap` (needs libpcap-dev), or use --exclude-net/--exclude-port"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites a file with a modification time `later_s` seconds ahead
    /// (reloads look at the time).
    fn rewrite(path: &std::path::Path, text: &str, later_s: u64) {
        std::fs::write(path, text).unwrap();
        let t = std::time::SystemTime::now() + Duration::from_secs(later_s);
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(t).unwrap();
    }

    #[test]
    fn a_broken_consensus_update_is_counted_and_the_old_copy_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cons = dir.path().join("cached-consensus");
        let doc = "network-status-version 3\nvote-status consensus\nr a AAAA BBBB 2021-06-01 00:00:00 198.51.100.1 9001 0\n";
        std::fs::write(&cons, doc).unwrap();
        let settings = exitflow_pipeline::EnrichSettings {
            consensus: Some(cons.clone()),
            ..Default::default()
        };
        let mut r = Reloader {
            enricher: Enricher::open(&settings).unwrap(),
            last: Instant::now() - Duration::from_secs(10),
            interval: Duration::ZERO,
        };
        let m = Metrics::default();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let workers = std::slice::from_ref(&tx);
        r.tick(&m, workers);
        assert_eq!((m.reload_errors.get(), m.consensus_reloads.get()), (0, 0));
        rewrite(&cons, "garbage\n", 60);
        r.tick(&m, workers);
        assert_eq!((m.reload_errors.get(), m.consensus_reloads.get()), (1, 0));
        assert!(rx.try_recv().is_err(), "no broken copy handed out");
        rewrite(&cons, &doc.replace("198.51.100.1", "198.51.100.2"), 120);
        r.tick(&m, workers);
        assert_eq!(m.consensus_reloads.get(), 1);
        let got = rx.try_recv().unwrap();
        assert!(
            got.consensus
                .unwrap()
                .is_relay("198.51.100.2".parse().unwrap())
        );
    }
}
