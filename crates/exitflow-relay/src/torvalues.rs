//! Values the kit writes into the torrc, read and checked as tor reads and
//! checks them (tor 0.4.9, `tor --verify-config`; the tests compare every
//! case with tor itself): bandwidths with tor's units, the contact as one
//! quoted string, the relay's addresses.
use std::net::IpAddr;

/// The least relayed bandwidth tor accepts from a relay, bytes/s.
pub const MIN_RELAY_BANDWIDTH: u64 = 76_800;
/// The most tor accepts, bytes/s (it refuses anything past 2^31).
pub const MAX_RELAY_BANDWIDTH: u64 = 1 << 31;

/// tor's units after a bandwidth figure (case-insensitive), in bytes. Its
/// "bits" units are binary: a kbit is 128 bytes.
const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("b", 1),
    ("byte", 1),
    ("bytes", 1),
    ("kb", 1 << 10),
    ("kbyte", 1 << 10),
    ("kbytes", 1 << 10),
    ("kilobyte", 1 << 10),
    ("kilobytes", 1 << 10),
    ("kbit", 1 << 7),
    ("kbits", 1 << 7),
    ("kilobit", 1 << 7),
    ("kilobits", 1 << 7),
    ("m", 1 << 20),
    ("mb", 1 << 20),
    ("mbyte", 1 << 20),
    ("mbytes", 1 << 20),
    ("megabyte", 1 << 20),
    ("megabytes", 1 << 20),
    ("mbit", 1 << 17),
    ("mbits", 1 << 17),
    ("megabit", 1 << 17),
    ("megabits", 1 << 17),
    ("gb", 1 << 30),
    ("gbyte", 1 << 30),
    ("gbytes", 1 << 30),
    ("gigabyte", 1 << 30),
    ("gigabytes", 1 << 30),
    ("gbit", 1 << 27),
    ("gbits", 1 << 27),
    ("gigabit", 1 << 27),
    ("gigabits", 1 << 27),
    ("tb", 1 << 40),
    ("tbyte", 1 << 40),
    ("tbytes", 1 << 40),
    ("terabyte", 1 << 40),
    ("terabytes", 1 << 40),
    ("tbit", 1 << 37),
    ("tbits", 1 << 37),
    ("terabit", 1 << 37),
    ("terabits", 1 << 37),
];

/// Bytes per second of a bandwidth as tor reads it: a figure (digits, one
/// optional decimal point, an optional `+`), optional spaces, a unit of
/// [`UNITS`] (none: bytes). Fractions are cut to whole bytes.
pub fn parse_bandwidth(v: &str) -> Result<u64, String> {
    // Only ASCII spaces and tabs around and inside: the value is written
    // into the torrc as given.
    let v = v.trim_matches([' ', '\t']);
    let body = v.strip_prefix('+').unwrap_or(v);
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (num, unit) = (
        &body[..end],
        body[end..].trim_matches([' ', '\t']).to_ascii_lowercase(),
    );
    let bad = || {
        format!(
            "{v:?}: a number and one of tor's units, as \"20 MBytes\", \"100 Mbits\" or \"1.5 MB\""
        )
    };
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return Err(bad());
    }
    let mult = UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, m)| *m)
        .ok_or_else(bad)?;
    if num.contains('.') {
        let n: f64 = num.parse().map_err(|_| bad())?;
        let bytes = n * mult as f64;
        return Ok(if bytes >= u64::MAX as f64 {
            u64::MAX
        } else {
            bytes as u64
        });
    }
    let n: u128 = num.parse().map_err(|_| bad())?;
    Ok(n.checked_mul(u128::from(mult))
        .and_then(|b| u64::try_from(b).ok())
        .unwrap_or(u64::MAX))
}

/// Checks a rate and burst pair as tor does for `RelayBandwidthRate` and
/// `RelayBandwidthBurst`; the error says which and why.
pub fn check_bandwidth(
    rate: Option<&str>,
    burst: Option<&str>,
) -> Result<(), (&'static str, String)> {
    let parse = |what: &'static str, v: &str| {
        let b = parse_bandwidth(v).map_err(|e| (what, e))?;
        if b > MAX_RELAY_BANDWIDTH {
            return Err((
                what,
                format!("{v:?} is {b} bytes/s; tor takes at most {MAX_RELAY_BANDWIDTH}"),
            ));
        }
        Ok(b)
    };
    let rate = rate
        .map(|v| parse("bandwidth", v).map(|b| (v, b)))
        .transpose()?;
    let burst = burst
        .map(|v| parse("bandwidth burst", v).map(|b| (v, b)))
        .transpose()?;
    // tor takes the burst as the rate when the rate is absent or 0, and
    // holds that to the minimum too.
    let effective = match (rate, burst) {
        (Some((v, b)), _) if b != 0 => Some(("bandwidth", v, b)),
        (_, Some((v, b))) => Some(("bandwidth burst", v, b)),
        _ => None,
    };
    if let Some((what, v, b)) = effective
        && b != 0
        && b < MIN_RELAY_BANDWIDTH
    {
        return Err((
            what,
            format!("{v:?} is {b} bytes/s; tor wants at least {MIN_RELAY_BANDWIDTH} from a relay"),
        ));
    }
    if let (Some((rv, r)), Some((bv, b))) = (rate, burst)
        && b < r
    {
        return Err((
            "bandwidth burst",
            format!("{bv:?} is less than the rate {rv:?}: tor wants the burst at least the rate"),
        ));
    }
    Ok(())
}

/// The contact as the torrc writes it: a quoted string with C escapes,
/// which tor reads whole (unquoted, a `#` would start a comment, and a
/// value that begins with a quote must be one quoted string).
pub fn quoted(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Why `ip` cannot be a public relay's address, if it cannot: tor accepts
/// these in its configuration, but a relay there is unreachable from the
/// Tor network (except in a private test network).
pub fn not_public(ip: IpAddr) -> Option<&'static str> {
    // fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10 (site-local).
    let v6_private =
        |s: u16| (s & 0xfe00) == 0xfc00 || (s & 0xff80) == 0xfe80 || (s & 0xffc0) == 0xfec0;
    if let IpAddr::V6(v6) = ip
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        return not_public(IpAddr::V4(v4));
    }
    match ip {
        _ if ip.is_unspecified() => Some("unspecified"),
        _ if ip.is_loopback() => Some("loopback"),
        _ if ip.is_multicast() => Some("multicast"),
        IpAddr::V4(v4) if v4.is_private() => Some("private (RFC 1918)"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("link-local"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("broadcast"),
        IpAddr::V4(v4) if v4.octets()[0] == 0 => Some("\"this network\" (0.0.0.0/8)"),
        IpAddr::V4(v4) if v4.octets()[0] >= 240 => Some("reserved (240.0.0.0/4)"),
        IpAddr::V4(v4) if v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 => {
            Some("shared address space (carrier-grade NAT)")
        }
        IpAddr::V6(v6) if v6_private(v6.segments()[0]) => Some("private or link-local"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidths_read_as_tor_reads_them() {
        for (v, bytes) in [
            ("20 MBytes", 20 << 20),
            ("20MBytes", 20 << 20),
            ("100 mbit", 100 << 17),
            ("1.5 MBytes", 3 << 19),
            ("75 KBytes", 76_800),
            ("76800", 76_800),
            ("+5 MB", 5 << 20),
            (".5 MB", 1 << 19),
            ("74.99 KB", 76_789),
            ("2 GBytes", 1 << 31),
            ("20 M", 20 << 20),
        ] {
            assert_eq!(parse_bandwidth(v), Ok(bytes), "{v}");
        }
        for v in [
            "fast",
            "614400 bits",
            "100 mb/s",
            "-5 MBytes",
            "1e3 KB",
            "20 MiB",
            "20 MBytes extra",
            "",
            ".",
        ] {
            assert!(parse_bandwidth(v).is_err(), "{v}");
        }
        assert!(check_bandwidth(Some("20 MBytes"), Some("40 MBytes")).is_ok());
        assert!(check_bandwidth(None, Some("10 MBytes")).is_ok());
        // A burst alone, or with a rate of 0, is the rate for tor.
        assert_eq!(
            check_bandwidth(None, Some("10 KB")).unwrap_err().0,
            "bandwidth burst"
        );
        assert_eq!(
            check_bandwidth(Some("0"), Some("10 KB")).unwrap_err().0,
            "bandwidth burst"
        );
        // No overflow: too much is too much.
        assert_eq!(
            parse_bandwidth("309485009821345068724781056 TB"),
            Ok(u64::MAX)
        );
        assert_eq!(
            check_bandwidth(Some("309485009821345068724781056 TB"), None)
                .unwrap_err()
                .0,
            "bandwidth"
        );
        assert!(check_bandwidth(Some("0"), None).is_ok());
        assert_eq!(
            check_bandwidth(Some("74 KBytes"), None).unwrap_err().0,
            "bandwidth"
        );
        assert_eq!(
            check_bandwidth(Some("3 GBytes"), None).unwrap_err().0,
            "bandwidth"
        );
        assert_eq!(
            check_bandwidth(Some("20 MBytes"), Some("10 MBytes"))
                .unwrap_err()
                .0,
            "bandwidth burst"
        );
    }

    #[test]
    fn a_contact_is_one_quoted_string_whatever_it_holds() {
        assert_eq!(
            quoted(r#""jane" <j@x> # y \ z"#),
            r#""\"jane\" <j@x> # y \\ z""#
        );
    }

    #[test]
    fn private_and_local_addresses_are_not_public() {
        for a in [
            "10.1.2.3",
            "127.0.0.1",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "224.0.0.1",
        ] {
            assert!(not_public(a.parse().unwrap()).is_some(), "{a}");
        }
        for a in [
            "192.0.2.10",
            "185.220.101.33",
            "2001:db8::1",
            "2a0b:f4c2::1",
        ] {
            assert_eq!(not_public(a.parse().unwrap()), None, "{a}");
        }
    }
}
