//! The few torrc settings exitflow needs: the relay's ports, addresses and
//! data directory (where tor keeps its consensus).
use crate::exitpolicy::{DEFAULT_EXIT_POLICY, ExitPolicy, Rule, parse_rules, reduced_rules};
use crate::{EnrichError, LineError};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// What a torrc says about the relay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Torrc {
    /// ORPort (the first listening one).
    pub or_port: Option<u16>,
    /// DirPort.
    pub dir_port: Option<u16>,
    /// Addresses from `Address`, `ORPort ADDR:PORT`, `OutboundBindAddress*`.
    pub addresses: Vec<IpAddr>,
    /// `OutboundBindAddressExit`: addresses tor reserves for exit traffic
    /// (also in `addresses`).
    pub exit_addresses: Vec<IpAddr>,
    /// `DataDirectory`.
    pub data_directory: Option<PathBuf>,
    /// `ExitRelay` as written (`0`, `1`, `auto`).
    pub exit_relay: Option<String>,
    /// `ReducedExitPolicy 1`.
    pub reduced_exit_policy: bool,
    /// `IPv6Exit 1`.
    pub ipv6_exit: bool,
    /// The `ExitPolicy` rules, in order.
    pub exit_policy: Vec<Rule>,
}

impl Torrc {
    /// The ports this relay lets out, as tor would compute them: no exit
    /// unless `ExitRelay 1` (or `auto` with an exit policy option set); the
    /// operator's rules, then tor's reduced or default policy unless they
    /// end with a rule for every address and port.
    pub fn exit_policy(&self) -> ExitPolicy {
        let set = !self.exit_policy.is_empty() || self.reduced_exit_policy || self.ipv6_exit;
        match self.exit_relay.as_deref() {
            Some("0") => return ExitPolicy::reject_all(),
            Some("1") => {}
            _ if !set => return ExitPolicy::reject_all(),
            _ => {}
        }
        let mut rules = self.exit_policy.clone();
        let closed = rules
            .last()
            .is_some_and(|r| r.every_address && r.ports == (1, u16::MAX));
        if !closed {
            if self.reduced_exit_policy {
                rules.extend(reduced_rules());
            } else {
                rules
                    .extend(parse_rules(DEFAULT_EXIT_POLICY).expect("tor's default policy parses"));
            }
        }
        ExitPolicy::from_rules(&rules)
    }
}

/// Parses torrc text. Unknown options are ignored; malformed values of the
/// options read here are errors with their line number.
pub fn parse(text: &str) -> Result<Torrc, LineError> {
    let mut t = Torrc::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        let mut f = line.split_whitespace();
        let (Some(key), Some(val)) = (f.next(), f.next()) else {
            continue;
        };
        let flags: Vec<&str> = f.collect();
        let port = |v: &str| -> Result<(Option<IpAddr>, u16), LineError> {
            if let Ok(p) = v.parse::<u16>() {
                return Ok((None, p));
            }
            v.parse::<SocketAddr>()
                .map(|sa| (Some(sa.ip()), sa.port()))
                .map_err(|_| LineError::new(n, format!("{key}: bad value {v:?}")))
        };
        match key.to_ascii_lowercase().as_str() {
            "orport" => {
                let (ip, p) = port(val)?;
                if !flags.iter().any(|f| f.eq_ignore_ascii_case("NoListen")) && t.or_port.is_none()
                {
                    t.or_port = Some(p);
                }
                t.addresses.extend(ip.filter(|ip| !ip.is_unspecified()));
            }
            "dirport" => {
                let (ip, p) = port(val)?;
                if !flags.iter().any(|f| f.eq_ignore_ascii_case("NoListen")) && p != 0 {
                    t.dir_port = Some(p);
                }
                t.addresses.extend(ip.filter(|ip| !ip.is_unspecified()));
            }
            "address"
            | "outboundbindaddress"
            | "outboundbindaddressexit"
            | "outboundbindaddressor" => {
                // Address may be a host name; only literal addresses are used.
                // (tor also takes an IPv6 address in brackets.)
                let bare = val.trim_start_matches('[').trim_end_matches(']');
                if let Ok(ip) = bare.parse::<IpAddr>() {
                    t.addresses.push(ip);
                    if key.eq_ignore_ascii_case("outboundbindaddressexit") {
                        t.exit_addresses.push(ip);
                    }
                }
            }
            "datadirectory" => t.data_directory = Some(PathBuf::from(val)),
            "exitrelay" => t.exit_relay = Some(val.to_ascii_lowercase()),
            "reducedexitpolicy" => t.reduced_exit_policy = val == "1",
            "ipv6exit" => t.ipv6_exit = val == "1",
            "exitpolicy" => {
                // The value runs to the end of the line (rules may be
                // separated by ", ").
                let value = line[key.len()..].trim();
                t.exit_policy
                    .extend(parse_rules(value).map_err(|e| LineError::new(n, e))?);
            }
            _ => {}
        }
    }
    t.addresses.sort();
    t.addresses.dedup();
    t.exit_addresses.sort();
    t.exit_addresses.dedup();
    Ok(t)
}

/// Reads and parses a torrc file; errors name the file and the line.
pub fn load(path: &Path) -> Result<Torrc, EnrichError> {
    let text = std::fs::read_to_string(path).map_err(|source| EnrichError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|source| EnrichError::Malformed {
        path: path.to_owned(),
        source,
    })
}

/// The consensus file in a tor data directory, microdesc flavour first.
pub fn find_consensus(data_dir: &Path) -> Option<PathBuf> {
    ["cached-microdesc-consensus", "cached-consensus"]
        .iter()
        .map(|n| data_dir.join(n))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_studys_torrc() {
        // Appendix A.1 of the reference study, plus a data directory.
        let t = parse(
            "SocksPort 0\nControlPort 9051\nCookieAuthentication 1\nORPort 443\nIPv6Exit 0\n\
             Nickname <nickname>\nRelayBandwidthRate 2000KB\nDirPort 80\n\
             DirPortFrontPage /etc/tor/tor-exit-notice.html\nExitPolicy accept *:*\nExitRelay 1\n\
             DataDirectory /var/lib/tor\n",
        )
        .unwrap();
        assert_eq!((t.or_port, t.dir_port), (Some(443), Some(80)));
        assert_eq!(t.exit_policy().to_string(), "accept 1-65535");
        // As printed in the appendix ("*:~", a rendering slip): tor refuses it, and so do we.
        let e = parse("ExitRelay 1\nExitPolicy accept *:~\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(t.data_directory.as_deref(), Some(Path::new("/var/lib/tor")));
    }

    #[test]
    fn addresses_flags_and_errors() {
        let t = parse(
            "ORPort [2001:db8::1]:9001 NoListen\nORPort 192.0.2.1:9001 # main\nAddress 192.0.2.1\n\
             OutboundBindAddressExit 198.51.100.2\nAddress relay.example.org\n",
        )
        .unwrap();
        assert_eq!(t.or_port, Some(9001));
        assert_eq!(t.addresses.len(), 3, "{:?}", t.addresses);
        assert_eq!(parse("DirPort eighty\n").unwrap_err().line, 1);
    }

    #[test]
    fn exit_policies_follow_tors_rules() {
        let pol = |t: &str| parse(t).unwrap().exit_policy().to_string();
        assert_eq!(pol("ORPort 443\n"), "reject 1-65535", "not an exit");
        assert_eq!(
            pol("ExitRelay 0\nExitPolicy accept *:*\n"),
            "reject 1-65535"
        );
        assert_eq!(
            pol("ExitRelay 1\n"),
            "reject 25,119,135-139,445,563,1214,4661-4666,6346-6429,6699,6881-6999"
        );
        assert_eq!(
            pol("ExitPolicy accept *:80,accept *:443\nExitPolicy reject *:*\n"),
            "accept 80,443"
        );
        // Augmenting the reduced policy: 25 is rejected there, 6881 opened here.
        let r = parse("ExitRelay 1\nReducedExitPolicy 1\nExitPolicy accept *:6881\n")
            .unwrap()
            .exit_policy();
        assert!(r.accepts(6881) && r.accepts(443) && !r.accepts(25) && !r.accepts(6882));
        assert_eq!(
            parse("ExitPolicy accept *:80 reject\n").unwrap_err().line,
            1
        );
    }
}
