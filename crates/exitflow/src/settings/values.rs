//! Values given on the command line that need parsing: administration
//! hosts, dates, time zones.
use std::net::{IpAddr, SocketAddr};

use anyhow::Result;

/// `HOST` or `HOST:PORT` (`[V6]:PORT`) of an administration host.
pub fn parse_admin(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = s.parse() {
        return Ok((ip, None));
    }
    let sa: SocketAddr = s
        .parse()
        .map_err(|_| format!("{s:?}: expected HOST or HOST:PORT with an IP address"))?;
    Ok((sa.ip(), Some(sa.port())))
}

/// Milliseconds since the epoch of a UTC date `YYYY-MM-DD`.
pub fn date_ms(s: &str) -> Result<u64> {
    exitflow_output::dataset::parse_utc_date(s)
        .ok_or_else(|| anyhow::anyhow!("{s:?}: expected a date YYYY-MM-DD"))
}

/// `NODE=+HH:MM`: a node's UTC offset in minutes.
pub fn parse_tz(s: &str) -> Result<(String, i32), String> {
    let bad = || format!("{s:?}: expected NODE=+HH:MM or NODE=-HH:MM");
    let (node, off) = s.split_once('=').ok_or_else(bad)?;
    let (sign, rest) = match off.as_bytes().first() {
        Some(b'+') => (1, &off[1..]),
        Some(b'-') => (-1, &off[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok((node.to_owned(), sign * (h * 60 + m)))
}
