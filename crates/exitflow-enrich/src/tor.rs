//! A small, strict parser for the relay list of a Tor consensus (dir-spec
//! "network status document", full or microdescriptor flavour): which
//! addresses and OR ports belong to relays.
use crate::{EnrichError, ExitPolicy, LineError};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;

/// The relays of one consensus.
#[derive(Clone, Debug, Default)]
pub struct Consensus {
    /// Flavour: `"ns"` (full) or `"microdesc"`.
    pub flavour: String,
    /// `valid-after` time as written.
    pub valid_after: String,
    /// Number of relays (`r` lines).
    pub relays: usize,
    /// OR ports (and DirPorts) per relay address.
    ports: HashMap<IpAddr, HashSet<u16>>,
    /// Exit policy summaries (`p` lines, full flavour), per address and ORPort.
    policies: HashMap<(IpAddr, u16), ExitPolicy>,
    /// Each relay's addresses (its `r` line's and `a` lines'), by identity
    /// as the `r` line writes it (unpadded base64 of the fingerprint).
    identities: HashMap<String, Vec<IpAddr>>,
}

/// The unpadded base64 a consensus `r` line writes for the relay whose
/// fingerprint (40 hex digits, as in tor's `fingerprint` file) is `hex`.
pub fn identity_of_fingerprint(hex: &str) -> Option<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let hex: String = hex.chars().filter(|c| *c != ' ').collect();
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect::<Option<_>>()?;
    let mut out = String::with_capacity(27);
    for chunk in bytes.chunks(3) {
        let v = chunk
            .iter()
            .enumerate()
            .fold(0u32, |v, (i, b)| v | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    Some(out)
}

/// The fingerprint in tor's `fingerprint` file (`Nickname HEX`).
pub fn read_fingerprint_file(path: &Path) -> Result<String, EnrichError> {
    let text = std::fs::read_to_string(path).map_err(|source| EnrichError::Io {
        path: path.to_owned(),
        source,
    })?;
    text.split_whitespace()
        .nth(1)
        .filter(|h| identity_of_fingerprint(h).is_some())
        .map(str::to_owned)
        .ok_or_else(|| EnrichError::Malformed {
            path: path.to_owned(),
            source: LineError::new(1, "expected 'Nickname FINGERPRINT' (40 hex digits)"),
        })
}

impl Consensus {
    /// Reads and parses a consensus file.
    pub fn load(path: &Path) -> Result<Consensus, EnrichError> {
        let bytes = std::fs::read(path).map_err(|source| EnrichError::Io {
            path: path.to_owned(),
            source,
        })?;
        Consensus::parse(&bytes).map_err(|source| EnrichError::Malformed {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses a consensus; errors carry a 1-based line number.
    pub fn parse(bytes: &[u8]) -> Result<Consensus, LineError> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            LineError::new(line, "not UTF-8")
        })?;
        let mut c = Consensus::default();
        let mut seen_version = false;
        let mut last_r: Option<(IpAddr, u16)> = None;
        let mut last_id: Option<String> = None;
        for (i, line) in text.split('\n').enumerate() {
            let n = i + 1;
            if line.contains('\r') {
                return Err(LineError::new(
                    n,
                    "carriage return: lines must end with LF only",
                ));
            }
            if line.is_empty() || line.starts_with('@') {
                continue;
            }
            let mut f = line.split(' ');
            let kw = f.next().unwrap_or("");
            if !seen_version {
                if kw != "network-status-version" || f.next() != Some("3") {
                    return Err(LineError::new(
                        n,
                        "expected 'network-status-version 3' first",
                    ));
                }
                c.flavour = f.next().unwrap_or("ns").to_owned();
                seen_version = true;
                continue;
            }
            match kw {
                "vote-status" if f.next() != Some("consensus") => {
                    return Err(LineError::new(n, "not a consensus (vote-status)"));
                }
                "valid-after" => c.valid_after = f.collect::<Vec<_>>().join(" "),
                "r" => {
                    let parts: Vec<&str> = f.collect();
                    // Full: nick id digest date time ip or dir; microdesc: no digest.
                    let base = match parts.len() {
                        8 => 5,
                        7 => 4,
                        _ => {
                            return Err(LineError::new(
                                n,
                                format!("'r' line with {} fields", parts.len()),
                            ));
                        }
                    };
                    let ip: IpAddr = parts[base]
                        .parse()
                        .map_err(|_| LineError::new(n, format!("bad address {:?}", parts[base])))?;
                    let port = |s: &str| {
                        s.parse::<u16>()
                            .map_err(|_| LineError::new(n, format!("bad port {s:?}")))
                    };
                    let (or, dir) = (port(parts[base + 1])?, port(parts[base + 2])?);
                    let e = c.ports.entry(ip).or_default();
                    e.insert(or);
                    if dir != 0 {
                        e.insert(dir);
                    }
                    c.relays += 1;
                    last_r = Some((ip, or));
                    c.identities.insert(parts[1].to_owned(), vec![ip]);
                    last_id = Some(parts[1].to_owned());
                }
                "p" => {
                    let Some(relay) = last_r else {
                        return Err(LineError::new(n, "'p' line before any 'r' line"));
                    };
                    let policy =
                        ExitPolicy::parse_summary(&line[2..]).map_err(|e| LineError::new(n, e))?;
                    c.policies.insert(relay, policy);
                }
                "a" => {
                    if last_r.is_none() {
                        return Err(LineError::new(n, "'a' line before any 'r' line"));
                    }
                    let v = f.next().unwrap_or("");
                    let (addr, port) = v
                        .rsplit_once(':')
                        .ok_or_else(|| LineError::new(n, format!("bad 'a' address {v:?}")))?;
                    let ip: IpAddr = addr
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| LineError::new(n, format!("bad 'a' address {v:?}")))?;
                    let p: u16 = port
                        .parse()
                        .map_err(|_| LineError::new(n, format!("bad port in {v:?}")))?;
                    c.ports.entry(ip).or_default().insert(p);
                    if let Some(v) = last_id.as_ref().and_then(|id| c.identities.get_mut(id)) {
                        v.push(ip);
                    }
                }
                _ => {}
            }
        }
        if !seen_version {
            return Err(LineError::new(1, "empty document"));
        }
        if c.relays == 0 {
            return Err(LineError::new(
                text.lines().count(),
                "no relays ('r' lines)",
            ));
        }
        Ok(c)
    }

    /// The addresses of the relay whose fingerprint is `hex` (its own
    /// entry, found by tor's `fingerprint` file); empty when it is not in
    /// this consensus.
    pub fn addresses_of(&self, hex: &str) -> &[IpAddr] {
        identity_of_fingerprint(hex)
            .and_then(|id| self.identities.get(&id))
            .map_or(&[], Vec::as_slice)
    }

    /// The exit policy summary of the relay at `ip` with `or_port` (full
    /// flavour only: the microdescriptor consensus has none).
    pub fn exit_policy(&self, ip: IpAddr, or_port: u16) -> Option<&ExitPolicy> {
        self.policies.get(&(ip, or_port))
    }

    /// `valid-after` in seconds since the epoch (UTC), if well formed.
    pub fn valid_after_unix(&self) -> Option<u64> {
        let (date, time) = self.valid_after.split_once(' ')?;
        let d: Vec<i64> = date
            .split('-')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        let t: Vec<u64> = time
            .split(':')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        let ([y, m, day], [hh, mm, ss]) = (d.as_slice(), t.as_slice()) else {
            return None;
        };
        // Days from the civil date (proleptic Gregorian).
        let (y, m) = if *m <= 2 { (y - 1, m + 9) } else { (*y, m - 3) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
        Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
    }

    /// Whether an address belongs to a relay.
    pub fn is_relay(&self, ip: IpAddr) -> bool {
        self.ports.contains_key(&ip)
    }

    /// Whether (address, port) is a relay's OR or directory port.
    pub fn is_relay_port(&self, ip: IpAddr, port: u16) -> bool {
        self.ports.get(&ip).is_some_and(|p| p.contains(&port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "network-status-version 3 microdesc\nvote-status consensus\nvalid-after 2026-11-27 12:00:00\n\
        r a AAAA 2026-11-27 11:00:00 198.51.100.1 9001 9030\na [2001:db8::1]:9001\n\
        r b BBBB 2026-11-27 11:00:00 203.0.113.5 443 0\n";

    #[test]
    fn a_relay_is_found_by_the_fingerprint_in_tors_fingerprint_file() {
        // 'AAAA' is not 27 characters: a real identity from a fingerprint.
        let hex = "9695DFC35FFEB861329B9F1AB04C46397020CE31";
        let id = identity_of_fingerprint(hex).unwrap();
        assert_eq!(id, "lpXfw1/+uGEym58asExGOXAgzjE");
        assert_eq!(
            identity_of_fingerprint("9695 DFC3 5FFE B861 329B 9F1A B04C 4639 7020 CE31").as_deref(),
            Some(id.as_str())
        );
        assert_eq!(
            identity_of_fingerprint("9695DFC35FFEB861329B9F1AB04C46397020CE3"),
            None
        );
        assert_eq!(
            identity_of_fingerprint("X695DFC35FFEB861329B9F1AB04C46397020CE31"),
            None
        );
        let doc = format!(
            "network-status-version 3\nvote-status consensus\n\
             r me {id} digest 2026-11-27 11:00:00 192.0.2.7 443 80\na [2001:db8::7]:443\n\
             r other BBBB digest 2026-11-27 11:00:00 203.0.113.5 443 0\n"
        );
        let c = Consensus::parse(doc.as_bytes()).unwrap();
        let want: Vec<IpAddr> = vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()];
        assert_eq!(c.addresses_of(hex), want.as_slice());
        assert!(
            c.addresses_of("0000000000000000000000000000000000000000")
                .is_empty()
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("fingerprint");
        std::fs::write(&f, format!("me {hex}\n")).unwrap();
        assert_eq!(read_fingerprint_file(&f).unwrap(), hex);
        std::fs::write(&f, "me nothex\n").unwrap();
        let e = read_fingerprint_file(&f).unwrap_err();
        // The message names the file; its source says what is wrong.
        let cause = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        assert!(
            e.to_string().contains("fingerprint") && cause.contains("40 hex"),
            "{e}: {cause}"
        );
    }

    #[test]
    fn relays_their_ports_and_ipv6_addresses_are_read() {
        let c = Consensus::parse(DOC.as_bytes()).unwrap();
        assert_eq!((c.relays, c.flavour.as_str()), (2, "microdesc"));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(c.is_relay_port(ip("198.51.100.1"), 9001));
        assert!(c.is_relay_port(ip("198.51.100.1"), 9030), "DirPort");
        assert!(!c.is_relay_port(ip("198.51.100.1"), 80));
        assert!(c.is_relay(ip("2001:db8::1")));
        assert!(!c.is_relay(ip("192.0.2.1")));
    }

    #[test]
    fn malformed_documents_say_which_line() {
        for (doc, line) in [
            ("", 1),
            ("network-status-version 3\r\n", 1),
            ("vote-status consensus\n", 1),
            ("network-status-version 3\nvote-status vote\n", 2),
            (
                "network-status-version 3\nvote-status consensus\nr a B 2026-11-27 11:00:00 300.1.1.1 9001 0\n",
                3,
            ),
            (
                "network-status-version 3\nvote-status consensus\na [2001:db8::1]:9001\n",
                3,
            ),
            (
                "network-status-version 3\nvote-status consensus\np accept 80\n",
                3,
            ),
            (
                "network-status-version 3\nvote-status consensus\nr a B C 2026-11-27 11:00:00 192.0.2.1 9001 0\np allow 80\n",
                4,
            ),
        ] {
            let e = Consensus::parse(doc.as_bytes()).unwrap_err();
            assert_eq!(e.line, line, "{doc:?}: {e}");
        }
    }

    #[test]
    fn a_file_error_names_the_file_and_keeps_the_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cached-consensus");
        std::fs::write(&p, "garbage\n").unwrap();
        let e = Consensus::load(&p).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("cached-consensus"), "{text}");
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert!(source.starts_with("line 1:"), "{source}");
        assert!(matches!(
            Consensus::load(&d.path().join("missing")),
            Err(EnrichError::Io { .. })
        ));
    }

    #[test]
    fn exit_policy_summaries_of_the_full_flavour_are_kept_per_relay() {
        let doc = "network-status-version 3\nvote-status consensus\n\
                   r a AAAA BBBB 2026-11-27 11:00:00 192.0.2.1 9001 0\np accept 80,443\n\
                   r b CCCC DDDD 2026-11-27 11:00:00 192.0.2.1 443 0\np reject 1-65535\n";
        let c = Consensus::parse(doc.as_bytes()).unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            c.exit_policy(ip, 9001).unwrap().to_string(),
            "accept 80,443"
        );
        assert!(c.exit_policy(ip, 443).unwrap().is_reject_all());
        assert!(c.exit_policy(ip, 80).is_none());
    }

    #[test]
    fn valid_after_is_read_as_unix_time() {
        let c = Consensus {
            valid_after: "2019-05-01 01:00:00".into(),
            ..Default::default()
        };
        assert_eq!(c.valid_after_unix(), Some(1_556_672_400));
        let bad = Consensus {
            valid_after: "yesterday".into(),
            ..Default::default()
        };
        assert_eq!(bad.valid_after_unix(), None);
    }
}
