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
/// Largest metrics answer read (a few hundred lines in practice).
pub const MAX_SCRAPE_BYTES: usize = 1 << 20;

/// One scrape: each metric's value summed over its label sets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    values: BTreeMap<String, f64>,
}

impl Sample {
    /// Parses Prometheus/OpenMetrics text (comments and `# EOF` skipped).
    pub fn parse(text: &str) -> Sample {
        let mut values = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let name = series.split('{').next().unwrap_or(series);
            if let Ok(v) = value.parse::<f64>() {
                *values.entry(name.to_owned()).or_insert(0.0) += v;
            }
        }
        Sample { values }
    }

    /// A metric's value (0 when absent).
    pub fn get(&self, name: &str) -> f64 {
        self.values.get(name).copied().unwrap_or(0.0)
    }

    fn n(&self, name: &str) -> u64 {
        self.get(name).max(0.0) as u64
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
    let mut body = Vec::new();
    s.take(MAX_SCRAPE_BYTES as u64)
        .read_to_end(&mut body)
        .map_err(io)?;
    let text = String::from_utf8_lossy(&body);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") {
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
/// (else the capture's own packets/s gauge), at time `now` (Unix seconds).
pub fn render(source: &str, now: u64, cur: &Sample, prev: Option<(&Sample, Duration)>) -> String {
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
    if consensus != 0 && now.saturating_sub(consensus) > 3 * 3600 {
        warnings.push("the consensus is over 3 hours old".into());
    }
    format!(
        "exitflow status — {source}\n\n\
         capture      {workers} workers   {pps} packets/s   {packets} packets   kernel drops {drops}\n\
         flows        active {active}   written {written} (failed {failed})   pending {pending}   evicted {evicted}   lost {lost}\n\
         dataset      {files} files   last file {last}   write errors {werr}\n\
         enrichment   consensus {cons} (reloads {creloads})   GeoIP built {geo} (reloads {greloads})   reload errors {rerr}\n\
         health       {health}\n",
        workers = cur.n("exitflow_workers"),
        pps = thousands(pps.round() as u64),
        packets = thousands(cur.n("exitflow_packets_total")),
        drops = thousands(drops),
        active = thousands(cur.n("exitflow_flows_active")),
        written = thousands(cur.n("exitflow_flows_written_total")),
        failed = thousands(cur.n("exitflow_flows_failed_written_total")),
        pending = thousands(cur.n("exitflow_flows_pending")),
        evicted = thousands(cur.n("exitflow_flows_evicted_total")),
        lost = thousands(lost),
        files = thousands(cur.n("exitflow_dataset_files_total")),
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
        let screen = render("test", 1_000_000, &s, None);
        for want in [
            "2 workers   1,500 packets/s   235,000 packets",
            "active 42   written 12,345",
            "last file 3 min ago",
            "consensus valid from 4 h ago",
            "GeoIP built none",
            "WARNING: 3 flows lost; the consensus is over 3 hours old",
        ] {
            assert!(screen.contains(want), "{want:?} in\n{screen}");
        }
        // Rates from two samples, when there are two.
        let mut later = s.clone();
        later
            .values
            .insert("exitflow_packets_total".into(), 245_000.0);
        let screen = render(
            "test",
            1_000_000,
            &later,
            Some((&s, Duration::from_secs(2))),
        );
        assert!(screen.contains("5,000 packets/s"), "{screen}");
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
