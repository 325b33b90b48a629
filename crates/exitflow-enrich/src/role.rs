//! The Tor role of a flow seen on an exit relay.
use std::net::IpAddr;

use crate::tor::Consensus;

/// IP protocol numbers (IANA).
const TCP: u8 = 6;
const UDP: u8 = 17;
/// DNS.
const DNS_PORT: u16 = 53;

/// What a flow is, from the relay's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Leaves Tor: TCP from our exit address (or, when none is reserved,
    /// from any of our addresses) to a destination that is not a relay.
    Exit,
    /// Between relays (a consensus relay is the peer, or our ORPort is used).
    Relay,
    /// Our directory port.
    Dirport,
    /// Administration of the machine: SSH to it, configured admin hosts.
    Management,
    /// The relay's own resolver asking upstream servers (UDP to port 53):
    /// tor resolves names for its users, but a Tor stream is TCP, so these
    /// queries are the relay's, not its users' traffic.
    Resolver,
    /// The relay machine's own traffic that is neither tor's nor its
    /// resolver's: software and GeoIP updates, NTP, ICMP. With an address
    /// reserved for exit traffic (tor's `OutboundBindAddressExit`), all TCP
    /// from the machine's other addresses.
    RelayHost,
    /// Anything else (to the relay's unused ports, scans, broadcasts).
    Other,
}

impl Role {
    /// Every role, in the order reports list them.
    pub const ALL: [Role; 7] = [
        Role::Exit,
        Role::Relay,
        Role::Dirport,
        Role::Management,
        Role::Resolver,
        Role::RelayHost,
        Role::Other,
    ];
}

impl Role {
    /// Name used in datasets.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Exit => "exit",
            Role::Relay => "relay",
            Role::Dirport => "dirport",
            Role::Management => "management",
            Role::Resolver => "resolver",
            Role::RelayHost => "relay-host",
            Role::Other => "other",
        }
    }
}

/// The relay's own configuration.
#[derive(Clone, Debug, Default)]
pub struct RoleConfig {
    /// The relay's own addresses (the exit addresses among them).
    pub own: Vec<IpAddr>,
    /// Addresses reserved for exit traffic (`OutboundBindAddressExit`):
    /// when there are any, only TCP from them is `exit`.
    pub exit: Vec<IpAddr>,
    /// Its ORPort.
    pub or_port: Option<u16>,
    /// Its DirPort.
    pub dir_port: Option<u16>,
    /// Administration hosts, optionally restricted to a port.
    pub admin: Vec<(IpAddr, Option<u16>)>,
}

/// One end of a flow.
#[derive(Clone, Copy, Debug)]
pub struct End {
    /// Address.
    pub ip: IpAddr,
    /// Port (0 without ports).
    pub port: u16,
}

impl RoleConfig {
    fn is_own(&self, ip: IpAddr) -> bool {
        self.own.contains(&ip)
    }

    /// The role of a flow of IP protocol `protocol` from `src` (its first
    /// packet's sender) to `dst`. Only TCP leaves Tor: a flow of another
    /// protocol from the relay is the machine's own (its resolver's
    /// queries, NTP), never exit traffic. With exit addresses reserved, the
    /// rule holds by construction: tor's exit connections come from them
    /// and nothing else does, so TCP from another address of the machine
    /// (unbound's TCP queries, apt) is the machine's.
    pub fn classify(
        &self,
        protocol: u8,
        src: End,
        dst: End,
        consensus: Option<&Consensus>,
    ) -> Role {
        let admin = |e: End| {
            self.admin
                .iter()
                .any(|(ip, port)| *ip == e.ip && port.is_none_or(|p| p == e.port))
        };
        if admin(src) || admin(dst) {
            return Role::Management;
        }
        // SSH to the relay itself: the operator (the study's jump host).
        if self.is_own(dst.ip) && dst.port == 22 || self.is_own(src.ip) && src.port == 22 {
            return Role::Management;
        }
        let ours = |e: End, p: Option<u16>| self.is_own(e.ip) && p.is_some_and(|p| p == e.port);
        if ours(dst, self.dir_port) || ours(src, self.dir_port) {
            return Role::Dirport;
        }
        if ours(dst, self.or_port) || ours(src, self.or_port) {
            return Role::Relay;
        }
        if let Some(c) = consensus
            && (c.is_relay_port(dst.ip, dst.port) || c.is_relay_port(src.ip, src.port))
        {
            return Role::Relay;
        }
        if self.is_own(src.ip) && !self.is_own(dst.ip) {
            // tor's OutboundBindAddressExit is per family: an IPv4 exit
            // address leaves IPv6 exits on the main IPv6 address.
            let reserved = self.exit.iter().any(|a| a.is_ipv6() == src.ip.is_ipv6());
            let from_exit = self.exit.contains(&src.ip);
            return match protocol {
                TCP if from_exit || !reserved => Role::Exit,
                _ if from_exit => Role::Other,
                TCP | UDP if dst.port == DNS_PORT => Role::Resolver,
                _ => Role::RelayHost,
            };
        }
        Role::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(ip: &str, port: u16) -> End {
        End {
            ip: ip.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn roles() {
        let c = Consensus::parse(
            b"network-status-version 3 microdesc\nvote-status consensus\nr a AAAA 2019-05-01 00:00:00 198.51.100.5 9001 0\n",
        )
        .unwrap();
        let cfg = RoleConfig {
            own: vec!["192.0.2.1".parse().unwrap()],
            exit: Vec::new(),
            or_port: Some(443),
            dir_port: Some(80),
            admin: vec![("203.0.113.9".parse().unwrap(), None)],
        };
        let r = |s, d| cfg.classify(TCP, s, d, Some(&c));
        assert_eq!(
            r(e("192.0.2.1", 40000), e("93.184.216.34", 443)),
            Role::Exit
        );
        assert_eq!(
            r(e("192.0.2.1", 40000), e("198.51.100.5", 9001)),
            Role::Relay
        );
        assert_eq!(
            r(e("198.51.100.77", 40000), e("192.0.2.1", 443)),
            Role::Relay
        );
        assert_eq!(
            r(e("198.51.100.77", 40000), e("192.0.2.1", 80)),
            Role::Dirport
        );
        assert_eq!(
            r(e("198.51.100.77", 40000), e("192.0.2.1", 22)),
            Role::Management
        );
        assert_eq!(
            r(e("203.0.113.9", 40000), e("192.0.2.1", 8080)),
            Role::Management
        );
        // SSH from the relay to the world is exit traffic.
        assert_eq!(r(e("192.0.2.1", 40000), e("93.184.216.34", 22)), Role::Exit);
        assert_eq!(r(e("93.184.216.34", 1), e("198.51.100.6", 2)), Role::Other);
        // The relay's resolver and other UDP of the machine: never exit traffic.
        let u = |s, d| cfg.classify(UDP, s, d, Some(&c));
        assert_eq!(
            u(e("192.0.2.1", 40000), e("93.184.216.34", 53)),
            Role::Resolver
        );
        assert_eq!(
            u(e("192.0.2.1", 40000), e("93.184.216.34", 123)),
            Role::RelayHost
        );
        assert_eq!(
            cfg.classify(1, e("192.0.2.1", 0), e("93.184.216.34", 0), None),
            Role::RelayHost
        );
        // Without a reserved exit address, the relay's TCP to port 53 cannot
        // be told from a Tor user's: it counts as exit.
        assert_eq!(r(e("192.0.2.1", 40000), e("93.184.216.34", 53)), Role::Exit);
    }

    /// Issue 20, findings 2 and 3: with an address reserved for exit
    /// traffic, only TCP from it is exit; the machine's own TCP (unbound's
    /// fallback to TCP, apt, GeoIP updates) from its other address is
    /// `resolver` or `relay-host`, also without a consensus.
    #[test]
    fn with_a_reserved_exit_address_only_its_tcp_is_exit() {
        let cfg = RoleConfig {
            own: vec![
                "192.0.2.1".parse().unwrap(),
                "192.0.2.2".parse().unwrap(),
                "2001:db8::2".parse().unwrap(),
            ],
            exit: vec!["192.0.2.2".parse().unwrap(), "2001:db8::2".parse().unwrap()],
            or_port: Some(443),
            dir_port: Some(80),
            admin: Vec::new(),
        };
        let cases = [
            // Tor's exits leave from the exit address.
            (TCP, "192.0.2.2", "93.184.216.34", 443, Role::Exit),
            (TCP, "2001:db8::2", "2001:db8:ffff::1", 443, Role::Exit),
            (TCP, "192.0.2.2", "93.184.216.34", 53, Role::Exit),
            // The machine's own, from its main address.
            (TCP, "192.0.2.1", "93.184.216.34", 53, Role::Resolver),
            (UDP, "192.0.2.1", "93.184.216.34", 53, Role::Resolver),
            (TCP, "192.0.2.1", "151.101.2.132", 443, Role::RelayHost),
            (UDP, "192.0.2.1", "151.101.2.132", 123, Role::RelayHost),
            // Relays without a consensus: tor connects from its main address.
            (TCP, "192.0.2.1", "198.51.100.5", 9001, Role::RelayHost),
            // Nothing but tor's TCP uses the exit address.
            (UDP, "192.0.2.2", "93.184.216.34", 53, Role::Other),
            // Inbound to an unused port.
            (TCP, "93.184.216.34", "192.0.2.2", 8080, Role::Other),
        ];
        // Review finding: with only an IPv4 exit address, tor's IPv6 exits
        // leave from the main IPv6 address and are still exit traffic.
        let v4_only = RoleConfig {
            own: vec![
                "192.0.2.1".parse().unwrap(),
                "192.0.2.2".parse().unwrap(),
                "2001:db8::1".parse().unwrap(),
            ],
            exit: vec!["192.0.2.2".parse().unwrap()],
            ..cfg.clone()
        };
        assert_eq!(
            v4_only.classify(
                TCP,
                e("2001:db8::1", 40000),
                e("2001:db8:ffff::1", 443),
                None
            ),
            Role::Exit
        );
        assert_eq!(
            v4_only.classify(TCP, e("192.0.2.1", 40000), e("93.184.216.34", 443), None),
            Role::RelayHost
        );
        for (proto, src, dst, port, want) in cases {
            let got = cfg.classify(proto, e(src, 40000), e(dst, port), None);
            assert_eq!(got, want, "{proto} {src} → {dst}:{port}");
        }
        assert_eq!(
            Role::ALL
                .iter()
                .filter(|r| r.as_str() == "relay-host")
                .count(),
            1
        );
    }
}
