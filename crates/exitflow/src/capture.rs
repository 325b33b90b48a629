//! `exitflow capture`: the live service. Worker threads each own an
//! `AF_PACKET` ring in one fanout group (a flow stays on one worker), a flow
//! table, the inspection engine, an enricher and the policy; finished flows
//! leave as anonymised records through a bounded queue to one writer thread,
//! which completes a dataset file at least every flush interval. No packet
//! or payload is ever written anywhere.
//!
//! Shutdown (SIGTERM, SIGINT): every worker drains its ring, exports every
//! active flow, and the writer completes its files. A SIGKILL loses at most
//! the flows of the last flush interval; files already completed are whole
//! (written under a temporary name, synced, renamed), and a restart removes
//! the dead run's temporary files and carries on.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use exitflow_capture::live::{LiveSocket, RingConfig, drop_privileges};
use exitflow_dpi::{Classification, FlowDpi};
use exitflow_flow::{Flow, FlowTable};
use exitflow_output::dataset::{
    DatasetConfig, DatasetWriter, remove_stale_temp_files, utc_date, valid_node_name,
};
use exitflow_output::{NodeTotals, Policy, Record};
use tracing::{error, info, warn};

use crate::cli::{EnrichArgs, MeterArgs, PolicyArgs};
use crate::config::Config;
use crate::exclude::Exclusions;
use crate::metrics::{self, Metrics, worker};
use crate::pipeline::{Enricher, Meter, MeterOptions, to_record};

/// Finished flows reach a completed dataset file within this many seconds.
pub const DEFAULT_FLUSH_INTERVAL_S: u64 = 30;
/// Seconds between status lines in the log.
pub const DEFAULT_STATUS_INTERVAL_S: u64 = 60;
/// Records a worker collects before handing them to the writer.
pub const EXPORT_BATCH: usize = 1024;
/// Batches the export queue holds; a worker waits (counted) when it is full.
pub const DEFAULT_EXPORT_QUEUE_BATCHES: usize = 256;
/// A file is completed early once this many flows wait (bounds memory under floods).
pub const DEFAULT_FLUSH_ROWS: usize = 131_072;
/// Most flows held while the dataset cannot be written (a full disk);
/// beyond, flows are counted as lost. About 400 bytes each.
pub const DEFAULT_MAX_PENDING_FLOWS: usize = 524_288;
/// Seconds between attempts to write after a failure.
pub const RETRY_INTERVAL_S: u64 = 5;
/// Seconds between checks for changed GeoIP databases and consensus.
pub const RELOAD_CHECK_S: u64 = 60;

/// `exitflow capture` flags.
#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// Network interface (or the one in `capture.interfaces` in the configuration).
    #[arg(long)]
    interface: Option<String>,
    /// Dataset root directory (or `paths.dataset`).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Node (relay) name, the `node=` partition (or `node.name`).
    #[arg(long)]
    node: Option<String>,
    /// Worker threads, each with its own ring [default: number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Seconds within which finished flows reach a completed dataset file [default: 30].
    #[arg(long)]
    flush_interval: Option<u64>,
    /// Prometheus endpoint (IP:PORT), or `off` [default: 127.0.0.1:9477].
    #[arg(long)]
    metrics: Option<String>,
    /// Run as this user once the sockets are open (or `capture.user`).
    #[arg(long)]
    user: Option<String>,
    /// Ring size per worker, MiB [default: 64].
    #[arg(long)]
    ring_mb: Option<u32>,
    /// Put the interface in promiscuous mode.
    #[arg(long)]
    promiscuous: bool,
    /// Exclude a host or network (ADDR or ADDR/BITS); repeatable.
    #[arg(long = "exclude-net")]
    exclude_net: Vec<String>,
    /// A tcpdump-style filter: only matching packets are measured (the
    /// kernel drops the rest). Needs a build with `--features libpcap`.
    #[arg(long)]
    filter: Option<String>,
    /// Exclude a TCP/UDP port (either side); repeatable.
    #[arg(long = "exclude-port")]
    exclude_port: Vec<u16>,
    /// Most flows held in memory while the dataset cannot be written; beyond,
    /// flows are counted as lost [default: 524288].
    #[arg(long)]
    write_buffer: Option<usize>,
    /// Seconds between status lines [default: 60].
    #[arg(long)]
    status_interval: Option<u64>,
    /// Seconds between checks for changed GeoIP databases and consensus [default: 60].
    #[arg(long)]
    reload_interval: Option<u64>,
    /// Stop by itself after this many seconds (tests, benchmarks).
    #[arg(long)]
    duration: Option<u64>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    enrich: EnrichArgs,
    #[command(flatten)]
    meter: MeterArgs,
}

/// Everything a worker hands to the writer.
enum Msg {
    /// Finished flows.
    Records(Vec<Record>),
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs the capture until SIGTERM/SIGINT (or `--duration`).
pub fn run(a: CaptureArgs, conf: &Config) -> Result<ExitCode> {
    let c = &conf.capture;
    let interface = match (&a.interface, c.interfaces.as_slice()) {
        (Some(i), _) => i.clone(),
        (None, [one]) => one.clone(),
        (None, []) => bail!("no interface: give --interface or capture.interfaces"),
        (None, _) => bail!(
            "capture.interfaces lists several interfaces; one process captures one (run one per interface)"
        ),
    };
    let node = a
        .node
        .clone()
        .or(conf.node.name.clone())
        .context("no node name: give --node or node.name")?;
    if !valid_node_name(&node) {
        bail!("node name {node:?}: use letters, digits, '-', '_' and '.'");
    }
    let root = a
        .dataset
        .clone()
        .or(conf.paths.dataset.clone())
        .context("no dataset: give --dataset or paths.dataset")?;
    let workers = a
        .workers
        .or(c.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    let flush_interval = Duration::from_secs(
        a.flush_interval
            .or(c.flush_interval)
            .unwrap_or(DEFAULT_FLUSH_INTERVAL_S)
            .max(1),
    );
    let status_interval = Duration::from_secs(
        a.status_interval
            .or(c.status_interval)
            .unwrap_or(DEFAULT_STATUS_INTERVAL_S)
            .max(1),
    );
    let ring_mb = a.ring_mb.or(c.ring_mb).unwrap_or(
        (exitflow_capture::live::DEFAULT_RING_BLOCKS
            * exitflow_capture::live::DEFAULT_RING_BLOCK_SIZE)
            >> 20,
    );
    let ring = RingConfig {
        blocks: ((u64::from(ring_mb) << 20) / u64::from(RingConfig::default().block_size)).max(2)
            as u32,
        promiscuous: a.promiscuous || c.promiscuous.unwrap_or(false),
        ..RingConfig::default()
    };
    let mut nets = c.exclude_nets.clone();
    nets.extend(a.exclude_net.iter().cloned());
    let mut ports = c.exclude_ports.clone();
    ports.extend(&a.exclude_port);
    let exclusions =
        Exclusions::new(&nets, &ports).map_err(|e| anyhow::anyhow!("exclusions: {e}"))?;
    let mut opts = a.meter.options(conf);
    // The flow cap is the process's: each worker's table holds its share.
    let total_flows = opts.flow.max_flows;
    opts.flow.max_flows = total_flows.div_ceil(workers).max(1);
    let policy = a.policy.policy(conf)?;
    let enricher = a.enrich.enricher(conf)?;
    let metadata = crate::cli::metadata(&policy, Some(&node));
    let mut dcfg = DatasetConfig::new(&root, &node);
    dcfg.selection = policy.selection();
    dcfg.metadata = metadata;
    // Privileged steps first: the sockets and the endpoint.
    let group = (std::process::id() & 0xffff) as u16;
    let program = compile_filter(a.filter.as_deref().or(c.filter.as_deref()), &interface)?;
    let mut sockets = Vec::with_capacity(workers);
    for _ in 0..workers {
        sockets.push(LiveSocket::open_filtered(
            &interface,
            &ring,
            (workers > 1).then_some(group),
            program.as_deref(),
        )?);
    }
    let metrics_addr = a
        .metrics
        .clone()
        .or(c.metrics.clone())
        .unwrap_or_else(|| metrics::DEFAULT_METRICS_ADDR.to_owned());
    let m = Arc::new(Metrics::default());
    m.workers.set(workers as i64);
    let listener = if metrics_addr == "off" {
        None
    } else {
        Some(metrics::bind(&metrics_addr)?)
    };
    if let Some(user) = a.user.as_ref().or(c.user.as_ref()) {
        drop_privileges(user)?;
        info!(user = %user, "running unprivileged");
    }
    // As the user that will write (files created before the switch would
    // belong to root).
    let node_dir = root.join(format!("node={node}"));
    std::fs::create_dir_all(&node_dir)
        .with_context(|| format!("creating {}", node_dir.display()))?;
    let stale = remove_stale_temp_files(&node_dir)?;
    if !stale.is_empty() {
        warn!(
            files = stale.len(),
            "removed incomplete files of a run that was killed"
        );
    }

    // Fail now, clearly, rather than at the first flush.
    let probe = node_dir.join(".exitflow-write-probe.tmp");
    std::fs::write(&probe, b"")
        .with_context(|| format!("the dataset is not writable: {}", node_dir.display()))?;
    let _ = std::fs::remove_file(&probe);

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The first signal starts the drain; a second one while draining
        // ends the process at once (exit status 1), as operators expect.
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())
            .context("installing signal handlers")?;
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    if let Some(l) = listener {
        let addr = l.local_addr()?;
        let reg = m.registry();
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || metrics::serve(l, reg))?;
        info!(%addr, "metrics endpoint");
    }

    let write_buffer = a
        .write_buffer
        .or(c.write_buffer)
        .unwrap_or(DEFAULT_MAX_PENDING_FLOWS)
        .max(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(DEFAULT_EXPORT_QUEUE_BATCHES);
    let writer = {
        let m = m.clone();
        let node = node.clone();
        std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || write_loop(rx, dcfg, node, flush_interval, write_buffer, &m))?
    };
    let mut reload_tx = Vec::new();
    let mut handles = Vec::new();
    for (i, sock) in sockets.into_iter().enumerate() {
        let (rtx, rrx) = std::sync::mpsc::sync_channel::<Enricher>(1);
        reload_tx.push(rtx);
        let w = Worker {
            id: i,
            sock,
            opts,
            policy: policy.clone(),
            enricher: enricher.clone(),
            reload: rrx,
            exclusions: exclusions.clone(),
            tx: tx.clone(),
            m: m.clone(),
            stop: stop.clone(),
        };
        handles.push(
            std::thread::Builder::new()
                .name(format!("capture-{i}"))
                .spawn(move || w.run())?,
        );
    }
    drop(tx);
    let budget = memory_budget(
        workers,
        u64::from(ring_mb) << 20,
        opts.flow.max_flows,
        write_buffer,
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

    let reload_interval = Duration::from_secs(
        a.reload_interval
            .or(c.reload_interval)
            .unwrap_or(RELOAD_CHECK_S)
            .max(1),
    );
    let started = Instant::now();
    let mut enricher = enricher;
    let mut last_status = Instant::now();
    let mut last_reload = Instant::now();
    let mut last_packets = 0u64;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if a.duration
            .is_some_and(|d| started.elapsed() >= Duration::from_secs(d))
        {
            stop.store(true, Ordering::Relaxed);
        }
        if handles.iter().any(|h| h.is_finished()) {
            // A worker ended on an error: stop the others, drain, report.
            stop.store(true, Ordering::Relaxed);
        }
        if last_reload.elapsed() >= reload_interval {
            last_reload = Instant::now();
            let (g0, c0) = (enricher.geo.reloads, enricher.consensus_reloads);
            let failures = enricher.reload_changed();
            for e in &failures {
                warn!("reload failed, the previous copy stays in use: {e:#}");
            }
            m.reload_errors.inc_by(failures.len() as u64);
            if enricher.geo.reloads != g0 || enricher.consensus_reloads != c0 {
                m.geoip_reloads.inc_by(enricher.geo.reloads - g0);
                m.consensus_reloads.inc_by(enricher.consensus_reloads - c0);
                info!("GeoIP or consensus changed: reloaded");
                for t in &reload_tx {
                    // A worker that has not taken the previous copy yet gets it later.
                    let _ = t.try_send(enricher.clone());
                }
            }
        }
        if last_status.elapsed() >= status_interval {
            let secs = last_status.elapsed().as_secs_f64();
            last_status = Instant::now();
            let p = metrics::sum(&m.packets, workers);
            status_line(&m, workers, (p - last_packets) as f64 / secs);
            last_packets = p;
        }
    }
    info!("stopping: draining the rings and exporting every active flow");
    let mut worker_errors = 0;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                worker_errors += 1;
                error!("{e:#}");
            }
            Err(_) => {
                worker_errors += 1;
                error!("a capture worker panicked");
            }
        }
    }
    let lost = match writer.join() {
        Ok(lost) => lost,
        Err(_) => bail!("the writer panicked"),
    };
    status_line(&m, workers, 0.0);
    info!(
        flows = m.flows_written.get(),
        files = m.dataset_files.get(),
        lost,
        "capture stopped"
    );
    if lost > 0 {
        bail!("{lost} flows could not be written (see the errors above)");
    }
    Ok(if worker_errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(feature = "libpcap")]
fn compile_filter(
    expr: Option<&str>,
    interface: &str,
) -> Result<Option<Vec<exitflow_capture::live::FilterInsn>>> {
    let Some(expr) = expr else { return Ok(None) };
    let link = exitflow_capture::live::interface_link_type(interface)?;
    let f = exitflow_capture::filter::compile(expr, link)?;
    info!(filter = %f.expression, instructions = f.program.len(), "filter compiled");
    Ok(Some(f.program))
}

#[cfg(not(feature = "libpcap"))]
fn compile_filter(
    expr: Option<&str>,
    _interface: &str,
) -> Result<Option<Vec<exitflow_capture::live::FilterInsn>>> {
    match expr {
        None => Ok(None),
        Some(e) => bail!(
            "filter {e:?}: this exitflow was built without filter expressions; \
             rebuild with `--features libpcap` (needs libpcap-dev), or use --exclude-net/--exclude-port"
        ),
    }
}

/// Worst-case memory of a capture: rings, flow tables (with inspection
/// state), a full export queue, a full write buffer, and a fixed allowance
/// for the program, GeoIP databases and allocator slack. The SYN-flood test
/// holds the process to it.
pub fn memory_budget(
    workers: usize,
    ring_bytes: u64,
    flows_per_worker: usize,
    write_buffer: usize,
) -> u64 {
    /// Upper bound of one record in memory (strings included).
    const RECORD_BYTES: u64 = 512;
    /// The program, GeoIP databases, allocator slack.
    const BASE_BYTES: u64 = 96 << 20;
    let w = workers as u64;
    let table = (flows_per_worker * FlowTable::<FlowDpi>::bytes_per_flow()) as u64;
    w * (ring_bytes + table)
        + (DEFAULT_EXPORT_QUEUE_BATCHES * EXPORT_BATCH) as u64 * RECORD_BYTES
        + write_buffer as u64 * RECORD_BYTES
        + BASE_BYTES
}

fn status_line(m: &Metrics, workers: usize, rate: f64) {
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

struct Worker {
    id: usize,
    sock: LiveSocket,
    opts: MeterOptions,
    policy: Policy,
    enricher: Enricher,
    reload: Receiver<Enricher>,
    exclusions: Exclusions,
    tx: SyncSender<Msg>,
    m: Arc<Metrics>,
    stop: Arc<AtomicBool>,
}

/// Turns finished flows into records (enrichment, policy).
struct Exporter {
    policy: Policy,
    enricher: Enricher,
    batch: Vec<Record>,
}

impl Exporter {
    fn export(&mut self, f: Flow, class: Classification) {
        let r = to_record(f, class, &mut self.policy, Some(&mut self.enricher));
        self.batch.push(r);
    }
}

impl Worker {
    fn run(self) -> Result<()> {
        let Worker {
            id,
            mut sock,
            opts,
            policy,
            enricher,
            reload,
            exclusions,
            tx,
            m,
            stop,
        } = self;
        let label = worker(id);
        let (c_packets, c_bytes) = (
            m.packets.get_or_create(&label).clone(),
            m.bytes.get_or_create(&label).clone(),
        );
        let (c_kpackets, c_kdrops) = (
            m.kernel_packets.get_or_create(&label).clone(),
            m.kernel_drops.get_or_create(&label).clone(),
        );
        let g_rate = m.packet_rate.get_or_create(&label).clone();
        let g_active = m.flows_active.get_or_create(&label).clone();
        let mut meter = Meter::new(&opts, exclusions);
        let mut ex = Exporter {
            policy,
            enricher,
            batch: Vec::with_capacity(EXPORT_BATCH),
        };
        let mut packets = 0u64;
        let (mut seen_packets, mut seen_bytes, mut seen_ignored, mut seen_excl) = (0u64, 0, 0, 0);
        let mut seen_stats = exitflow_flow::FlowStats::default();
        let mut seen_kernel = exitflow_capture::live::KernelStats::default();
        let mut last_tick = Instant::now();
        let mut tick_packets = 0u64;
        let mut draining = false;
        let mut failure = None;
        loop {
            // While draining, wait a little longer than the block timeout so
            // the block being filled is retired and read too.
            let timeout = if draining {
                Duration::from_millis(
                    u64::from(exitflow_capture::live::DEFAULT_BLOCK_TIMEOUT_MS) * 3,
                )
            } else {
                Duration::from_millis(100)
            };
            let got = sock.next_block(timeout, |pkt| {
                packets += 1;
                meter.packet(&pkt, &mut |f, c| ex.export(f, c));
            });
            let n = match got {
                Ok(n) => n,
                Err(e) => {
                    // The socket is gone (interface removed, say): stop
                    // reading, but still export every flow collected so far.
                    failure.get_or_insert(e);
                    draining = true;
                    0
                }
            };
            let tick = last_tick.elapsed() >= Duration::from_secs(1);
            if tick {
                meter.expire_idle(now_ms(), &mut |f, c| ex.export(f, c));
                if let Ok(e) = reload.try_recv() {
                    ex.enricher = e;
                }
            }
            if !draining && stop.load(Ordering::Relaxed) {
                // Take what is already in the ring, then end every flow.
                draining = true;
                continue;
            }
            let finishing = draining && n == 0;
            if finishing {
                meter.flush(&mut |f, c| ex.export(f, c));
            }
            if tick || finishing || ex.batch.len() >= EXPORT_BATCH {
                // Publish counters (per second, not per packet).
                // Metered = taken from the ring - not decoded - excluded.
                let skipped: u64 = meter.ignored.iter().map(|(_, v)| v).sum();
                let ignored = skipped + meter.excluded;
                let metered = packets - ignored;
                c_packets.inc_by(metered - seen_packets);
                c_bytes.inc_by(meter.bytes - seen_bytes);
                m.ignored.inc_by(ignored - seen_ignored);
                m.excluded.inc_by(meter.excluded - seen_excl);
                seen_packets = metered;
                seen_bytes = meter.bytes;
                seen_ignored = ignored;
                seen_excl = meter.excluded;
                let st = *meter.stats();
                m.flows_exported
                    .inc_by(st.flows_exported - seen_stats.flows_exported);
                m.flows_evicted.inc_by(st.evicted - seen_stats.evicted);
                m.flows_half_open
                    .inc_by(st.expired_half_open - seen_stats.expired_half_open);
                seen_stats = st;
                g_active.set(meter.active() as i64);
                if let Ok(k) = sock.kernel_stats() {
                    c_kpackets.inc_by(k.packets - seen_kernel.packets);
                    c_kdrops.inc_by(k.drops - seen_kernel.drops);
                    seen_kernel = k;
                }
                if tick {
                    let secs = last_tick.elapsed().as_secs_f64();
                    g_rate.set(((metered - tick_packets) as f64 / secs) as i64);
                    tick_packets = metered;
                    last_tick = Instant::now();
                }
                if !ex.batch.is_empty() {
                    let batch = std::mem::replace(&mut ex.batch, Vec::with_capacity(EXPORT_BATCH));
                    match tx.try_send(Msg::Records(batch)) {
                        Ok(()) => {}
                        Err(TrySendError::Full(msg)) => {
                            m.queue_full.inc();
                            if tx.send(msg).is_err() {
                                bail!("capture worker {id}: the writer has stopped");
                            }
                        }
                        Err(TrySendError::Disconnected(_)) => {
                            bail!("capture worker {id}: the writer has stopped")
                        }
                    }
                }
            }
            if finishing {
                break;
            }
        }
        match failure {
            Some(e) => Err(anyhow::Error::new(e).context(format!("capture worker {id}"))),
            None => Ok(()),
        }
    }
}

/// The writer: collects records, completes a dataset file per date
/// partition every flush interval (or sooner when many wait), updates the
/// node's totals, and on failure keeps the records (up to a cap) and tries
/// again. Returns the flows lost.
fn write_loop(
    rx: Receiver<Msg>,
    cfg: DatasetConfig,
    node: String,
    flush_interval: Duration,
    max_pending: usize,
    m: &Metrics,
) -> u64 {
    let mut pending: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    let mut n_pending = 0usize;
    let mut last_flush = Instant::now();
    let mut failing_since: Option<Instant> = None;
    let mut last_attempt = Instant::now();
    let mut lost = 0u64;
    let mut first_totals = true;
    let mut seen = NodeTotals::default();
    let mut open = true;
    while open {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Msg::Records(batch)) => {
                for r in batch {
                    if n_pending >= max_pending {
                        lost += 1;
                        m.flows_lost.inc();
                        continue;
                    }
                    pending
                        .entry(utc_date(r.flow.first_seen_ms))
                        .or_default()
                        .push(r);
                    n_pending += 1;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        m.flows_pending.set(n_pending as i64);
        let due = last_flush.elapsed() >= flush_interval || n_pending >= DEFAULT_FLUSH_ROWS;
        let may_try = failing_since.is_none()
            || last_attempt.elapsed() >= Duration::from_secs(RETRY_INTERVAL_S);
        if (due && may_try) || !open {
            last_attempt = Instant::now();
            let ok = flush(&mut pending, &mut n_pending, &cfg, m);
            match (ok, failing_since) {
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
                        "cannot write the dataset, holding up to {max_pending} flows and retrying every {RETRY_INTERVAL_S} s: {e:#}"
                    );
                    failing_since = Some(Instant::now());
                }
                (Err(e), Some(_)) => {
                    tracing::debug!("still cannot write the dataset: {e:#}");
                }
            }
            m.flows_pending.set(n_pending as i64);
            last_flush = Instant::now();
            if failing_since.is_none() {
                write_totals(&cfg, &node, m, &mut seen, &mut first_totals);
            }
        }
    }
    if n_pending > 0 {
        // Shutdown with an unwritable dataset: one last try, then count the loss.
        if let Err(e) = flush(&mut pending, &mut n_pending, &cfg, m) {
            error!("{n_pending} flows could not be written at shutdown: {e:#}");
            lost += n_pending as u64;
            m.flows_lost.inc_by(n_pending as u64);
        } else {
            write_totals(&cfg, &node, m, &mut seen, &mut first_totals);
        }
    }
    lost
}

/// Writes every pending date partition into its own completed file; the
/// partitions written leave `pending` (so a retry never duplicates rows).
fn flush(
    pending: &mut BTreeMap<String, Vec<Record>>,
    n_pending: &mut usize,
    cfg: &DatasetConfig,
    m: &Metrics,
) -> Result<()> {
    let dates: Vec<String> = pending.keys().cloned().collect();
    for date in dates {
        let rows = &pending[&date];
        let mut w = DatasetWriter::open(cfg.clone())?;
        let mut res = Ok(());
        for r in rows {
            if let Err(e) = w.write(r) {
                res = Err(e);
                break;
            }
        }
        if let Err(e) = res {
            w.abort();
            return Err(e.into());
        }
        let (files, bytes) = w.close()?;
        let n = rows.len();
        *n_pending -= n;
        m.flows_written.inc_by(n as u64);
        m.flows_failed_written
            .inc_by(rows.iter().filter(|r| r.flow.is_failed()).count() as u64);
        pending.remove(&date);
        m.dataset_files.inc_by(files);
        m.dataset_bytes.inc_by(bytes);
    }
    Ok(())
}

/// Adds what changed since the last call to the node's `_totals.json`.
fn write_totals(
    cfg: &DatasetConfig,
    node: &str,
    m: &Metrics,
    seen: &mut NodeTotals,
    first: &mut bool,
) {
    let workers = m.workers.get().max(0) as usize;
    let now = NodeTotals {
        node: node.to_owned(),
        captures: 1,
        flows: m.flows_written.get(),
        failed_flows: m.flows_failed_written.get(),
        packets: metrics::sum(&m.packets, workers),
        bytes: metrics::sum(&m.bytes, workers),
        ignored_packets: [("excluded".to_owned(), m.excluded.get())]
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .collect(),
        evicted_flows: m.flows_evicted.get(),
        half_open_expired: m.flows_half_open.get(),
        files: m.dataset_files.get(),
        dataset_bytes: m.dataset_bytes.get(),
        lost_flows: m.flows_lost.get(),
    };
    let delta = NodeTotals {
        node: node.to_owned(),
        captures: u64::from(*first),
        flows: now.flows - seen.flows,
        failed_flows: now.failed_flows - seen.failed_flows,
        packets: now.packets - seen.packets,
        bytes: now.bytes - seen.bytes,
        ignored_packets: now
            .ignored_packets
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v - seen.ignored_packets.get(k).copied().unwrap_or(0),
                )
            })
            .collect(),
        evicted_flows: now.evicted_flows - seen.evicted_flows,
        half_open_expired: now.half_open_expired - seen.half_open_expired,
        files: now.files - seen.files,
        dataset_bytes: now.dataset_bytes - seen.dataset_bytes,
        lost_flows: now.lost_flows - seen.lost_flows,
    };
    if delta.flows == 0 && delta.packets == 0 && !*first {
        return;
    }
    let dir = cfg.root.join(format!("node={node}"));
    match DatasetWriter::add_totals(&dir, &delta) {
        Ok(_) => {
            *seen = now;
            *first = false;
        }
        Err(e) => warn!("updating the node totals: {e}"),
    }
}
