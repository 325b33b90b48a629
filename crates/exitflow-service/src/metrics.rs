//! Live-capture metrics, served in the Prometheus text format on a
//! localhost endpoint. Workers update them once per ring block or per second,
//! never per packet, so the packet path takes no shared lock.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Where the endpoint listens unless configured otherwise (localhost only:
/// the numbers describe a relay's traffic and are not for the world).
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9477";
/// Largest HTTP request read from a scraper.
pub const MAX_REQUEST_BYTES: usize = 8192;

/// Label set of per-worker metrics.
pub type WorkerLabel = Vec<(String, String)>;

/// Every metric of `exitflow capture`.
#[derive(Default)]
pub struct Metrics {
    /// Packets taken from the ring, per worker.
    pub packets: Family<WorkerLabel, Counter>,
    /// Bytes (wire length) taken from the ring, per worker.
    pub bytes: Family<WorkerLabel, Counter>,
    /// Packets the kernel offered to the socket (PACKET_STATISTICS), per worker.
    pub kernel_packets: Family<WorkerLabel, Counter>,
    /// Packets the kernel dropped because the ring was full, per worker.
    pub kernel_drops: Family<WorkerLabel, Counter>,
    /// Packets per second over the last second, per worker.
    pub packet_rate: Family<WorkerLabel, Gauge>,
    /// Frames not metered (not IP, malformed, excluded), all workers.
    pub ignored: Counter,
    /// Frames not metered because the configuration excludes them.
    pub excluded: Counter,
    /// Flows in the flow tables, per worker.
    pub flows_active: Family<WorkerLabel, Gauge>,
    /// Flows that left the flow tables (expired, evicted, drained).
    pub flows_exported: Counter,
    /// Flows evicted from a full flow table (the cap was hit).
    pub flows_evicted: Counter,
    /// Unanswered connection attempts ended by the half-open timeout.
    pub flows_half_open: Counter,
    /// STUN flows forgotten by the DPI engine's full STUN cache (a later
    /// flow between the same peers is then named from its own packets).
    pub flows_dpi_stun_cache_evicted: Counter,
    /// tinc connections forgotten by the DPI engine's full tinc cache (their
    /// UDP flow is then named from its own packets).
    pub flows_dpi_tinc_cache_evicted: Counter,
    /// Flows written into completed dataset files.
    pub flows_written: Counter,
    /// Flows written with at most 4 packets (the study's failed connections).
    pub flows_failed_written: Counter,
    /// Flows lost: the write buffer was full while the dataset could not be written.
    pub flows_lost: Counter,
    /// Flows written with a column generalised (k-anonymity).
    pub flows_generalised: Counter,
    /// Flows not written as rows: fewer than k rows of their hour shared them.
    pub flows_suppressed: Counter,
    /// Strict: flows counted under `Other` (cells of fewer than k flows).
    pub flows_folded: Counter,
    /// Flows waiting to be written.
    pub flows_pending: Gauge,
    /// Times a worker waited because the export queue was full.
    pub queue_full: Counter,
    /// Dataset files completed.
    pub dataset_files: Counter,
    /// Bytes of dataset files completed.
    pub dataset_bytes: Counter,
    /// Failed attempts to write the dataset (a full disk, say).
    pub write_errors: Counter,
    /// GeoIP databases reloaded after their file changed.
    pub geoip_reloads: Counter,
    /// GeoIP or consensus files that changed but did not load (the previous copy stays).
    pub reload_errors: Counter,
    /// Consensus reloads after its file changed.
    pub consensus_reloads: Counter,
    /// Workers (capture threads).
    pub workers: Gauge,
    /// When the last dataset file was completed (seconds since the epoch,
    /// rounded down to the profile's granularity: no finer than the data).
    pub last_file: Gauge,
    /// `valid-after` of the consensus in use (seconds since the epoch).
    pub consensus_valid_after: Gauge,
    /// Build time of the oldest GeoIP database in use (seconds since the epoch).
    pub geoip_built: Gauge,
    /// Addresses of the relay known (configuration, torrc, consensus entry).
    pub own_addresses: Gauge,
    /// Of those, addresses reserved for exit traffic.
    pub exit_addresses: Gauge,
    /// When the capture started (seconds since the epoch).
    pub start_time: Gauge,
    /// Flows metered, by Tor role (a flow family: under an hourly profile
    /// shown as of the last boundary).
    pub flows_role: Family<WorkerLabel, Counter>,
    /// Bytes still free on the dataset's file system (a flow family: under
    /// an hourly profile it moves with the snapshot, as spills would tell
    /// the flow rate otherwise).
    pub dataset_free: Gauge,
}

impl Metrics {
    /// The registry exposing every metric.
    pub fn registry(self: &Arc<Self>) -> Registry {
        let mut r = Registry::with_prefix("exitflow");
        let m = self.clone();
        r.register("packets", "Packets taken from the ring", m.packets.clone());
        r.register(
            "bytes",
            "Bytes (wire length) taken from the ring",
            m.bytes.clone(),
        );
        r.register(
            "kernel_packets",
            "Packets the kernel offered to the socket",
            m.kernel_packets.clone(),
        );
        r.register(
            "kernel_drops",
            "Packets the kernel dropped: ring full",
            m.kernel_drops.clone(),
        );
        r.register(
            "packet_rate",
            "Packets per second over the last second",
            m.packet_rate.clone(),
        );
        r.register("packets_ignored", "Frames not metered", m.ignored.clone());
        r.register(
            "packets_excluded",
            "Frames not metered because the configuration excludes them",
            m.excluded.clone(),
        );
        r.register(
            "flows_active",
            "Flows in the flow table",
            m.flows_active.clone(),
        );
        r.register(
            "flows_exported",
            "Flows that left the flow tables",
            m.flows_exported.clone(),
        );
        r.register(
            "flows_evicted",
            "Flows evicted from a full flow table",
            m.flows_evicted.clone(),
        );
        r.register(
            "flows_half_open_expired",
            "Unanswered connection attempts ended by the half-open timeout",
            m.flows_half_open.clone(),
        );
        r.register(
            "flows_dpi_stun_cache_evicted",
            "STUN flows the DPI engine's full STUN cache forgot",
            m.flows_dpi_stun_cache_evicted.clone(),
        );
        r.register(
            "flows_dpi_tinc_cache_evicted",
            "tinc connections the DPI engine's full tinc cache forgot",
            m.flows_dpi_tinc_cache_evicted.clone(),
        );
        r.register(
            "flows_written",
            "Flows written into completed dataset files",
            m.flows_written.clone(),
        );
        r.register(
            "flows_failed_written",
            "Flows written with at most 4 packets (failed connections)",
            m.flows_failed_written.clone(),
        );
        r.register(
            "flows_generalised",
            "Flows written with a column generalised so that k rows of their hour share them",
            m.flows_generalised.clone(),
        );
        r.register(
            "flows_suppressed",
            "Flows not written as rows: fewer than k rows of their hour shared them even generalised",
            m.flows_suppressed.clone(),
        );
        r.register(
            "flows_folded",
            "Strict profile: flows counted under Other, their cell holding fewer than k flows of its hour",
            m.flows_folded.clone(),
        );
        r.register(
            "flows_lost",
            "Flows lost because the write buffer was full while the dataset could not be written",
            m.flows_lost.clone(),
        );
        r.register(
            "flows_pending",
            "Flows waiting to be written",
            m.flows_pending.clone(),
        );
        r.register(
            "export_queue_full",
            "Times a worker waited on a full export queue",
            m.queue_full.clone(),
        );
        r.register(
            "dataset_files",
            "Dataset files completed",
            m.dataset_files.clone(),
        );
        r.register(
            "dataset_bytes",
            "Bytes of dataset files completed",
            m.dataset_bytes.clone(),
        );
        r.register(
            "write_errors",
            "Failed attempts to write the dataset",
            m.write_errors.clone(),
        );
        r.register(
            "geoip_reloads",
            "GeoIP databases reloaded",
            m.geoip_reloads.clone(),
        );
        r.register(
            "reload_errors",
            "Changed GeoIP or consensus files that did not load",
            m.reload_errors.clone(),
        );
        r.register(
            "consensus_reloads",
            "Consensus reloads",
            m.consensus_reloads.clone(),
        );
        r.register("workers", "Capture worker threads", m.workers.clone());
        r.register(
            "last_file_seconds",
            "When the last dataset file was completed, rounded down to the profile's granularity",
            m.last_file.clone(),
        );
        r.register(
            "consensus_valid_after_seconds",
            "valid-after of the consensus in use",
            m.consensus_valid_after.clone(),
        );
        r.register(
            "geoip_built_seconds",
            "Build time of the oldest GeoIP database in use",
            m.geoip_built.clone(),
        );
        r.register(
            "own_addresses",
            "Addresses of the relay known (configuration, torrc, consensus entry)",
            m.own_addresses.clone(),
        );
        r.register(
            "exit_addresses",
            "Addresses reserved for exit traffic (OutboundBindAddressExit)",
            m.exit_addresses.clone(),
        );
        r.register(
            "flows_role",
            "Flows metered, by Tor role",
            m.flows_role.clone(),
        );
        r.register(
            "dataset_free_bytes",
            "Bytes free on the dataset's file system",
            m.dataset_free.clone(),
        );
        r.register(
            "start_time_seconds",
            "When the capture started",
            m.start_time.clone(),
        );
        r.register(
            "build",
            "The running exitflow",
            prometheus_client::metrics::info::Info::new(vec![(
                "version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )]),
        );
        r
    }
}

/// The label of worker `i`.
pub fn worker(i: usize) -> WorkerLabel {
    vec![("worker".to_owned(), i.to_string())]
}

/// Sums a per-worker counter over `n` workers.
pub fn sum(f: &Family<WorkerLabel, Counter>, n: usize) -> u64 {
    (0..n).map(|i| f.get_or_create(&worker(i)).get()).sum()
}

/// The whole time a scraper gets to send its request and read the answer:
/// the endpoint serves one connection at a time, so a client that dribbles
/// bytes delays the next scrape by at most this.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(2);

/// Reads an HTTP request head until its blank line, the size cap, or the deadline.
fn read_request(s: &mut TcpStream, deadline: Instant) -> Vec<u8> {
    let mut req = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while req.len() < MAX_REQUEST_BYTES && !req.windows(4).any(|w| w == b"\r\n\r\n") {
        // A timeout per read would let a byte every second keep the
        // connection forever: each read gets only what is left.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    req
}

/// Serves `GET /metrics` on `listener` until the process ends (one thread,
/// one request at a time, each within [`CONNECTION_DEADLINE`]: a scraper
/// every few seconds is the load).
/// Families that follow flows as they start and end (counts of flows,
/// the dataset's files, the last file's time). Under an hourly profile the
/// endpoint shows them as they were at the last boundary of the profile's
/// time bucket ([`FlowSnapshot`]): a scrape must not tell when a flow
/// ended more finely than the dataset does.
pub const FLOW_FAMILIES: [&str; 4] = [
    "exitflow_flows_",
    "exitflow_export_queue_full",
    "exitflow_dataset_",
    "exitflow_last_file",
];

/// Of the flow families, those an hourly profile shows at all: what the
/// dataset's files show anyway (rows and files written) and flows lost (an
/// operator must see a loss). The others — flows exported, active,
/// pending, evicted, per role, generalised, withheld — would give, hour
/// against hour, each hour's exact count of withheld rows (exported less
/// written), finer than the node totals (`exitflow_output::totals`).
pub const HOURLY_SHOWN: [&str; 6] = [
    "exitflow_flows_written_total",
    "exitflow_flows_failed_written_total",
    "exitflow_flows_lost_total",
    "exitflow_export_queue_full",
    "exitflow_dataset_",
    "exitflow_last_file",
];

/// The flow families' text as of the last bucket boundary.
#[derive(Clone, Default)]
pub struct FlowSnapshot(Arc<std::sync::Mutex<String>>);

impl FlowSnapshot {
    /// Takes the snapshot now (at a boundary, and once at start).
    pub fn take(&self, registry: &Registry) {
        let mut text = String::new();
        if encode(&mut text, registry).is_ok() {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = text;
        }
    }

    /// `live` with every flow-family sample taken from the snapshot (a
    /// sample the snapshot does not have is left out), and only those of
    /// [`HOURLY_SHOWN`].
    pub fn merge(&self, live: &str) -> String {
        let snap = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let is_flow = |l: &str| FLOW_FAMILIES.iter().any(|p| l.starts_with(p));
        let shown = |l: &str| HOURLY_SHOWN.iter().any(|p| l.starts_with(p));
        let key = |l: &str| l.rsplit_once(' ').map_or(l, |(k, _)| k).to_owned();
        let old: std::collections::HashMap<String, &str> = snap
            .lines()
            .filter(|l| is_flow(l))
            .map(|l| (key(l), l))
            .collect();
        let mut out = String::with_capacity(live.len());
        for l in live.lines() {
            let l = if is_flow(l) {
                if !shown(l) {
                    continue;
                }
                match old.get(&key(l)) {
                    Some(o) => *o,
                    None => continue,
                }
            } else {
                l
            };
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

/// Answers `GET /metrics` until the listener fails; under an hourly
/// profile with the flow families of `snapshot`.
pub fn serve(listener: TcpListener, registry: Registry, snapshot: Option<FlowSnapshot>) {
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        let deadline = Instant::now() + CONNECTION_DEADLINE;
        let req = read_request(&mut s, deadline);
        let line = req.split(|&b| b == b'\r').next().unwrap_or(&[]);
        let (status, ctype, body) = if line.starts_with(b"GET /metrics ") {
            let mut body = String::new();
            match encode(&mut body, &registry) {
                Ok(()) => (
                    "200 OK",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    match &snapshot {
                        Some(s) => s.merge(&body),
                        None => body,
                    },
                ),
                Err(_) => ("500 Internal Server Error", "text/plain", String::new()),
            }
        } else {
            ("404 Not Found", "text/plain", "try /metrics\n".to_owned())
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        // A reader that does not take the answer is cut off at the same deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        if s.set_write_timeout(Some(left.max(Duration::from_millis(1))))
            .is_ok()
        {
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body.as_bytes());
        }
    }
}

/// Binds the endpoint (before privileges are dropped). The numbers describe
/// the relay's traffic minute by minute: an address other than loopback is
/// refused unless `allow_remote` says the operator means it.
pub fn bind(addr: SocketAddr, allow_remote: bool) -> Result<TcpListener, crate::ServiceError> {
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(crate::ServiceError::Config(format!(
            "metrics endpoint {addr}: not a loopback address; the metrics tell the relay's \
             traffic second by second. Bind to 127.0.0.1 (and scrape through an SSH tunnel), \
             or set metrics_allow_remote = true (--metrics-allow-remote) to mean it"
        )));
    }
    TcpListener::bind(addr).map_err(|source| crate::ServiceError::Io {
        what: format!("metrics endpoint {addr}"),
        source,
    })
}

#[cfg(test)]
mod tests {

    /// Privacy gate finding 7 (metrics): under an hourly profile a scrape
    /// shows the flow families as of the last boundary, whatever flows
    /// ended since; the rest (packets, reloads) stays live.
    #[test]
    fn hourly_profiles_show_flow_counts_as_of_the_last_boundary() {
        let m = Arc::new(Metrics::default());
        let reg = m.registry();
        let snap = FlowSnapshot::default();
        m.flows_written.inc_by(7);
        snap.take(&reg);
        m.flows_written.inc_by(5);
        m.flows_exported.inc_by(3);
        m.geoip_reloads.inc();
        let mut live = String::new();
        encode(&mut live, &reg).unwrap();
        let shown = snap.merge(&live);
        let value = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit_once(' '))
                .map(|(_, v)| v.to_owned())
        };
        assert_eq!(
            value(&live, "exitflow_flows_written_total").as_deref(),
            Some("12")
        );
        assert_eq!(
            value(&shown, "exitflow_flows_written_total").as_deref(),
            Some("7")
        );
        // Exported flows (less written: the hour's withheld rows) are not
        // shown at all, nor flows per role, active or pending.
        assert_eq!(
            value(&live, "exitflow_flows_exported_total").as_deref(),
            Some("3")
        );
        for hidden in [
            "exitflow_flows_exported_total",
            "exitflow_flows_suppressed_total",
            "exitflow_flows_generalised_total",
            "exitflow_flows_active",
            "exitflow_flows_pending",
            "exitflow_flows_evicted_total",
            "exitflow_flows_dpi_stun_cache_evicted_total",
            "exitflow_flows_dpi_tinc_cache_evicted_total",
        ] {
            assert_eq!(value(&shown, hidden), None, "{hidden}:\n{shown}");
        }
        assert_eq!(
            value(&shown, "exitflow_flows_lost_total").as_deref(),
            Some("0")
        );
        assert_eq!(
            value(&shown, "exitflow_geoip_reloads_total").as_deref(),
            Some("1")
        );
        assert!(shown.ends_with("# EOF\n"), "{shown}");
        snap.take(&reg);
        assert_eq!(
            value(&snap.merge(&live), "exitflow_flows_written_total").as_deref(),
            Some("12")
        );
    }

    use super::*;

    #[test]
    fn the_endpoint_serves_the_metrics_and_nothing_else() {
        let m = Arc::new(Metrics::default());
        m.packets.get_or_create(&worker(1)).inc_by(42);
        m.flows_written.inc_by(7);
        let l = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let addr = l.local_addr().unwrap();
        let reg = m.registry();
        std::thread::spawn(move || serve(l, reg, None));
        let get = |path: &str| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let body = get("/metrics");
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(
            body.contains("exitflow_packets_total{worker=\"1\"} 42"),
            "{body}"
        );
        assert!(body.contains("exitflow_flows_written_total 7"), "{body}");
        assert!(get("/").starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn a_client_dribbling_bytes_delays_a_scrape_by_at_most_the_deadline() {
        // Regression: a byte every 1.5 s used to hold the endpoint for 11.5 s
        // (a timeout per read, none per connection).
        let m = Arc::new(Metrics::default());
        let l = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let addr = l.local_addr().unwrap();
        let reg = m.registry();
        std::thread::spawn(move || serve(l, reg, None));
        let slow = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let start = Instant::now();
            for b in b"GET /metrics HTTP/1.1\r\n" {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
                if start.elapsed() > CONNECTION_DEADLINE * 4 {
                    break;
                }
            }
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let waited = start.elapsed();
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
        assert!(
            waited < CONNECTION_DEADLINE + Duration::from_secs(1),
            "the scrape waited {waited:?} behind a slow client"
        );
        // The slow client was cut off (its writes failed) long before it
        // could finish its request.
        assert!(slow.join().unwrap() < CONNECTION_DEADLINE * 4);
    }

    #[test]
    fn a_non_loopback_bind_is_refused_unless_asked_for() {
        let e = bind("0.0.0.0:0".parse().unwrap(), false).unwrap_err();
        assert!(e.to_string().contains("not a loopback address"), "{e}");
        assert!(bind("0.0.0.0:0".parse().unwrap(), true).is_ok());
    }
}
