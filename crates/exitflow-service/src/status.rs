//! `exitflow status`: what nyx is for tor — one screen read from the
//! capture's metrics endpoint: packets/s, flows active and written, kernel
//! drops, the last file, the consensus's and GeoIP's age, losses.
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::ServiceError;
use crate::metrics::MAX_REQUEST_BYTES;

/// How long a scrape may take.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(3);
/// Free space under which the health line warns.
pub const LOW_DISK_BYTES: u64 = 1 << 30;
/// Largest metrics answer read (a few hundred lines in practice).
pub const MAX_SCRAPE_BYTES: usize = 1 << 20;

/// One scrape: each series (name and labels, as written) and its value; a
/// metric's value is the sum over its series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    series: BTreeMap<String, f64>,
}

impl Sample {
    /// Parses Prometheus/OpenMetrics text (comments and `# EOF` skipped).
    pub fn parse(text: &str) -> Sample {
        let mut series = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if let Ok(v) = value.parse::<f64>() {
                *series.entry(key.to_owned()).or_insert(0.0) += v;
            }
        }
        Sample { series }
    }

    /// A metric's value summed over the series that carry `label`
    /// (`type="BEGIN"`, as written).
    pub fn get_labelled(&self, name: &str, label: &str) -> f64 {
        self.series
            .iter()
            .filter(|(k, _)| k.split('{').next() == Some(name) && k.contains(label))
            .map(|(_, v)| v)
            .sum()
    }

    /// The value of label `key` of the first series of `name`.
    pub fn label(&self, name: &str, key: &str) -> Option<String> {
        let (series, _) = self
            .series
            .iter()
            .find(|(k, _)| k.split('{').next() == Some(name))?;
        let rest = series.split(&format!("{key}=\"")).nth(1)?;
        Some(rest.split('"').next()?.to_owned())
    }

    /// A metric's value summed over its series (0 when absent).
    pub fn get(&self, name: &str) -> f64 {
        self.get_labelled(name, "")
    }

    fn n(&self, name: &str) -> u64 {
        self.get(name).max(0.0) as u64
    }

    /// `n` with thousands separators, or `–` when the endpoint does not
    /// show the metric (flow counts an hourly profile hides).
    fn shown(&self, name: &str) -> String {
        if self
            .series
            .keys()
            .any(|k| k.split('{').next() == Some(name))
        {
            thousands(self.n(name))
        } else {
            "–".to_owned()
        }
    }
}

/// Fetches the metrics text from the endpoint at `addr`.
pub fn scrape(addr: SocketAddr) -> Result<String, ServiceError> {
    let io = |source| ServiceError::Io {
        what: format!("metrics endpoint {addr}"),
        source,
    };
    let mut s = TcpStream::connect_timeout(&addr, SCRAPE_TIMEOUT).map_err(io)?;
    s.set_read_timeout(Some(SCRAPE_TIMEOUT)).map_err(io)?;
    s.set_write_timeout(Some(SCRAPE_TIMEOUT)).map_err(io)?;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    debug_assert!(req.len() < MAX_REQUEST_BYTES);
    s.write_all(req.as_bytes()).map_err(io)?;
    // Read to the end, or to Content-Length: tor's MetricsPort keeps the
    // connection open after its answer.
    // One deadline for the whole answer: an endpoint that trickles a byte
    // per timeout does not hold `status`.
    let deadline = std::time::Instant::now() + 2 * SCRAPE_TIMEOUT;
    let mut body = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut scanned: usize = 0;
    let mut header: Option<(usize, Option<usize>)> = None;
    loop {
        if std::time::Instant::now() > deadline {
            return Err(ServiceError::Config(format!(
                "metrics endpoint {addr}: no whole answer within {:?}",
                2 * SCRAPE_TIMEOUT
            )));
        }
        let n = s.read(&mut chunk).map_err(io)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        if body.len() > MAX_SCRAPE_BYTES {
            body.truncate(MAX_SCRAPE_BYTES);
            break;
        }
        // The header's end, searched once through what is new; then its
        // Content-Length says when the answer is whole.
        if header.is_none() {
            let from = scanned.saturating_sub(3);
            scanned = body.len();
            if let Some(i) = body[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                let end = from + i;
                let head = String::from_utf8_lossy(&body[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                header = Some((end, length));
            }
        }
        if let Some((end, Some(len))) = header
            && body.len() >= end + 4 + len
        {
            break;
        }
    }
    let text = String::from_utf8_lossy(&body);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // (tor's MetricsPort answers in HTTP/1.0.)
    if !(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200")) {
        return Err(ServiceError::Config(format!(
            "metrics endpoint {addr}: answered {:?}, not exitflow's metrics",
            head.lines().next().unwrap_or("")
        )));
    }
    Ok(rest.to_owned())
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as "812 KiB", "3.4 GiB".
fn size(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// "3 min ago", "5 h ago", "2 days ago"; "never" for 0.
fn age(now: u64, then: u64) -> String {
    if then == 0 {
        return "never".into();
    }
    let s = now.saturating_sub(then);
    match s {
        0..120 => format!("{s} s ago"),
        120..7200 => format!("{} min ago", s / 60),
        7200..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// The screen for `cur`, with rates over `interval` since `prev` when given
/// (else the capture's own packets/s gauge), at time `now` (Unix seconds);
/// with `tor`, a scrape of tor's own MetricsPort, its counts beside ours.
pub fn render(
    source: &str,
    now: u64,
    cur: &Sample,
    prev: Option<(&Sample, Duration)>,
    tor: Option<&Sample>,
) -> String {
    let pps = match prev {
        Some((p, dt)) if dt.as_secs_f64() > 0.0 => {
            (cur.get("exitflow_packets_total") - p.get("exitflow_packets_total")).max(0.0)
                / dt.as_secs_f64()
        }
        _ => cur.get("exitflow_packet_rate"),
    };
    let lost = cur.n("exitflow_flows_lost_total");
    let drops = cur.n("exitflow_kernel_drops_total");
    let errors = cur.n("exitflow_write_errors_total") + cur.n("exitflow_reload_errors_total");
    let mut warnings = Vec::new();
    if lost > 0 {
        warnings.push(format!("{} flows lost", thousands(lost)));
    }
    if drops > 0 {
        warnings.push(format!(
            "{} packets dropped by the kernel",
            thousands(drops)
        ));
    }
    if errors > 0 {
        warnings.push(format!("{errors} write or reload errors (see the log)"));
    }
    let consensus = cur.n("exitflow_consensus_valid_after_seconds");
    let geoip = cur.n("exitflow_geoip_built_seconds");
    let own = cur.n("exitflow_own_addresses");
    // What makes the roles and countries right: without these the data is
    // written, but not what the study needs.
    if consensus == 0 {
        warnings.push("no consensus: relays count as exit or relay-host".into());
    } else if now.saturating_sub(consensus) > 3 * 3600 {
        warnings.push("the consensus is over 3 hours old".into());
    }
    if geoip == 0 {
        warnings.push("no GeoIP database: every country unknown".into());
    }
    if own == 0 {
        warnings.push("no address of the relay known: nothing is exit".into());
    }
    let free = cur.n("exitflow_dataset_free_bytes");
    if free > 0 && free < LOW_DISK_BYTES {
        warnings.push(format!("{} free on the dataset's disk", size(free)));
    }
    let started = cur.n("exitflow_start_time_seconds");
    let relay = format!(
        "relay        own addresses {own} (exit addresses {exit})   exitflow {ver}   up {up}\n",
        exit = cur.n("exitflow_exit_addresses"),
        ver = cur
            .label("exitflow_build_info", "version")
            .unwrap_or_else(|| "?".into()),
        up = if started == 0 {
            "?".to_owned()
        } else {
            age(now, started).trim_end_matches(" ago").to_owned()
        },
    );
    let role = |r: &str| {
        if cur.label("exitflow_flows_role_total", "role").is_none() {
            return "–".to_owned();
        }
        thousands(cur.get_labelled("exitflow_flows_role_total", &format!("role=\"{r}\"")) as u64)
    };
    let roles = format!(
        "roles        exit {}   relay {}   resolver {}   relay-host {}   management {}   other {}\n",
        role("exit"),
        role("relay"),
        role("resolver"),
        role("relay-host"),
        role("management"),
        role("other"),
    );
    let tor_line = tor.map_or_else(String::new, |t| {
        let n = |kind: &str| {
            thousands(t.get_labelled("tor_relay_streams_total", &format!("type=\"{kind}\"")) as u64)
        };
        format!(
            "tor          streams begun {}   resolves {}   (its MetricsPort)\n",
            n("BEGIN"),
            n("RESOLVE")
        )
    });
    format!(
        "exitflow status — {source}\n\n\
         capture      {workers} workers   {pps} packets/s   {packets} packets   kernel drops {drops}\n\
         flows        active {active}   written {written} (failed {failed})   pending {pending}   evicted {evicted}   lost {lost}\n\
         dataset      {files} files   {dbytes} written   {free} free   last file {last}   write errors {werr}\n\
         enrichment   consensus {cons} (reloads {creloads})   GeoIP built {geo} (reloads {greloads})   reload errors {rerr}\n\
         {roles}{relay}{tor_line}\
         health       {health}\n",
        workers = cur.n("exitflow_workers"),
        pps = thousands(pps.round() as u64),
        packets = thousands(cur.n("exitflow_packets_total")),
        drops = thousands(drops),
        active = cur.shown("exitflow_flows_active"),
        written = thousands(cur.n("exitflow_flows_written_total")),
        failed = thousands(cur.n("exitflow_flows_failed_written_total")),
        pending = cur.shown("exitflow_flows_pending"),
        evicted = cur.shown("exitflow_flows_evicted_total"),
        lost = thousands(lost),
        files = thousands(cur.n("exitflow_dataset_files_total")),
        dbytes = size(cur.n("exitflow_dataset_bytes_total")),
        free = size(cur.n("exitflow_dataset_free_bytes")),
        last = age(now, cur.n("exitflow_last_file_seconds")),
        werr = cur.n("exitflow_write_errors_total"),
        cons = if consensus == 0 {
            "none".to_owned()
        } else {
            format!("valid from {}", age(now, consensus))
        },
        creloads = cur.n("exitflow_consensus_reloads_total"),
        geo = if geoip == 0 {
            "none".to_owned()
        } else {
            age(now, geoip)
        },
        greloads = cur.n("exitflow_geoip_reloads_total"),
        rerr = cur.n("exitflow_reload_errors_total"),
        health = if warnings.is_empty() {
            "OK".to_owned()
        } else {
            format!("WARNING: {}", warnings.join("; "))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, bind, serve, worker};
    use std::sync::Arc;

    #[test]
    fn a_scrape_of_the_real_endpoint_renders_every_line() {
        let m = Arc::new(Metrics::default());
        m.workers.set(2);
        m.packets.get_or_create(&worker(0)).inc_by(1_000);
        m.packets.get_or_create(&worker(1)).inc_by(234_000);
        m.packet_rate.get_or_create(&worker(0)).set(1_500);
        m.flows_active.get_or_create(&worker(1)).set(42);
        m.flows_written.inc_by(12_345);
        m.flows_lost.inc_by(3);
        m.last_file.set(1_000_000 - 180);
        m.consensus_valid_after.set(1_000_000 - 4 * 3600);
        let l = bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let addr = l.local_addr().unwrap();
        let reg = m.registry();
        std::thread::spawn(move || serve(l, reg, None));
        let s = Sample::parse(&scrape(addr).unwrap());
        assert_eq!(s.get("exitflow_packets_total"), 235_000.0);
        let screen = render("test", 1_000_000, &s, None, None);
        for want in [
            "2 workers   1,500 packets/s   235,000 packets",
            "active 42   written 12,345",
            "last file 3 min ago",
            "consensus valid from 4 h ago",
            "GeoIP built none",
            "WARNING: 3 flows lost; the consensus is over 3 hours old; no GeoIP database: every country unknown; no address of the relay known",
            "exitflow 0.1.0",
        ] {
            assert!(screen.contains(want), "{want:?} in\n{screen}");
        }
        // Rates from two samples, when there are two.
        let mut later = s.clone();
        later
            .series
            .retain(|k, _| !k.starts_with("exitflow_packets_total"));
        later
            .series
            .insert("exitflow_packets_total".into(), 245_000.0);
        let screen = render(
            "test",
            1_000_000,
            &later,
            Some((&s, Duration::from_secs(2))),
            None,
        );
        assert!(screen.contains("5,000 packets/s"), "{screen}");
        // A disk nearly full is said.
        let full = Sample::parse("exitflow_dataset_free_bytes 1000000\n");
        assert!(
            render("t", 1_000_000, &full, None, None)
                .contains("977 KiB free on the dataset's disk")
        );
        // Health is OK only with a consensus, a GeoIP database and an own
        // address; tor's counts beside ours when its MetricsPort is read.
        m.flows_lost.inc_by(0);
        let healthy = Sample::parse(
            "exitflow_consensus_valid_after_seconds 999000\nexitflow_geoip_built_seconds 900000\n\
             exitflow_dataset_free_bytes 5368709120\nexitflow_dataset_bytes_total 812000\n\
             exitflow_own_addresses 2\nexitflow_exit_addresses 1\nexitflow_start_time_seconds 996400\n\
             exitflow_flows_role_total{role=\"exit\"} 6\nexitflow_flows_role_total{role=\"relay\"} 40\n",
        );
        let tor = Sample::parse(
            "tor_relay_streams_total{type=\"BEGIN\"} 6\ntor_relay_streams_total{type=\"RESOLVE\"} 2\n\
             tor_relay_streams_total{type=\"BEGIN_DIR\"} 40\n",
        );
        let screen = render("test", 1_000_000, &healthy, None, Some(&tor));
        assert_eq!(size(1_536), "1.5 KiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
        for want in [
            "health       OK",
            "own addresses 2 (exit addresses 1)",
            "up 60 min",
            "streams begun 6   resolves 2",
            "793 KiB written   5.0 GiB free",
            "roles        exit 6   relay 40   resolver 0",
        ] {
            assert!(screen.contains(want), "{want:?} in\n{screen}");
        }
    }

    /// tor's MetricsPort answers in HTTP/1.0 with a Content-Length and
    /// keeps the connection open: the scrape ends at the length, at once.
    #[test]
    fn an_answer_on_a_connection_left_open_ends_at_its_length() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let body = "tor_relay_streams_total{type=\"BEGIN\"} 6\n";
            c.write_all(
                format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
            )
            .unwrap();
            // The body in two pieces, then nothing, the connection open.
            c.write_all(&body.as_bytes()[..10]).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            c.write_all(&body.as_bytes()[10..]).unwrap();
            std::thread::sleep(Duration::from_secs(5));
        });
        let t = std::time::Instant::now();
        let s = Sample::parse(&scrape(addr).unwrap());
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(
            s.get_labelled("tor_relay_streams_total", "type=\"BEGIN\""),
            6.0
        );
        drop(server);
    }

    #[test]
    fn something_else_on_the_port_is_named() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            c.write_all(b"HTTP/1.1 404 Not Found\r\n\r\n").unwrap();
        });
        let e = scrape(addr).unwrap_err().to_string();
        assert!(e.contains("404") && e.contains(&addr.to_string()), "{e}");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(age(100, 0), "never");
    }
}
