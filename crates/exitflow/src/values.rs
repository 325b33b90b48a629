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

/// `NODE=ZONE`: a node's time zone, a UTC offset (`+HH:MM`, `-HH:MM`) or
/// an IANA name (`Europe/Berlin`: daylight saving followed).
pub fn parse_tz(s: &str) -> Result<(String, exitflow_analyze::Zone), String> {
    let (node, zone) = s.split_once('=').ok_or_else(|| {
        format!("{s:?}: expected NODE=+HH:MM, NODE=-HH:MM or NODE=Area/City (an IANA time zone)")
    })?;
    Ok((node.to_owned(), exitflow_analyze::Zone::parse(zone)?))
}
