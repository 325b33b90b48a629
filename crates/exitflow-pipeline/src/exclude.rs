//! Traffic the operator excludes from measurement (the relay's own
//! management, a monitoring host, a port): matched after decoding and before
//! the flow table, so excluded packets never become flows.
use std::net::IpAddr;

use exitflow_decode::{PacketInfo, ipproto};

use crate::PipelineError;

/// A network: address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: [u8; 16],
    v4: bool,
    bits: u8,
}

impl Net {
    /// Parses `ADDR` (a host) or `ADDR/BITS`.
    pub fn parse(s: &str) -> Result<Net, PipelineError> {
        let bad = |reason: String| PipelineError::Exclusion {
            spec: s.to_owned(),
            reason,
        };
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let ip: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| bad("expected an IP address or ADDR/BITS".into()))?;
        let (addr, v4, max) = match ip {
            IpAddr::V4(v) => {
                let mut x = [0u8; 16];
                x[..4].copy_from_slice(&v.octets());
                (x, true, 32)
            }
            IpAddr::V6(v) => (v.octets(), false, 128),
        };
        let bits = match bits {
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&b| b <= max)
                .ok_or_else(|| bad(format!("prefix length must be 0..={max}")))?,
            None => max,
        };
        Ok(Net { addr, v4, bits })
    }

    fn contains(&self, a: &[u8; 16], ip_version: u8) -> bool {
        if self.v4 != (ip_version == 4) {
            return false;
        }
        let full = usize::from(self.bits / 8);
        if a[..full] != self.addr[..full] {
            return false;
        }
        let rest = self.bits % 8;
        rest == 0 || {
            let mask = 0xFFu8 << (8 - rest);
            a[full] & mask == self.addr[full] & mask
        }
    }
}

/// The exclusions in force.
#[derive(Clone, Debug, Default)]
pub struct Exclusions {
    nets: Vec<Net>,
    ports: Vec<u16>,
}

impl Exclusions {
    /// From host/network strings and ports.
    pub fn new(nets: &[String], ports: &[u16]) -> Result<Exclusions, PipelineError> {
        let nets = nets
            .iter()
            .map(|s| Net::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ports = ports.to_vec();
        ports.sort_unstable();
        ports.dedup();
        Ok(Exclusions { nets, ports })
    }

    /// Whether nothing is excluded (the common case: one branch per packet).
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.ports.is_empty()
    }

    /// Whether the packet is excluded: either address in an excluded
    /// network, or either port excluded.
    pub fn excludes(&self, p: &PacketInfo<'_>) -> bool {
        if self.is_empty() {
            return false;
        }
        self.nets
            .iter()
            .any(|n| n.contains(&p.src, p.ip_version) || n.contains(&p.dst, p.ip_version))
            || (p.protocol == ipproto::TCP || p.protocol == ipproto::UDP)
                && (self.ports.binary_search(&p.src_port).is_ok()
                    || self.ports.binary_search(&p.dst_port).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    #[test]
    fn nets_match_by_prefix_and_family() {
        let n = Net::parse("10.1.128.0/17").unwrap();
        assert!(n.contains(&v4([10, 1, 200, 3]), 4));
        assert!(!n.contains(&v4([10, 1, 127, 3]), 4));
        assert!(!n.contains(&v4([10, 1, 200, 3]), 6));
        let h = Net::parse("2001:db8::1").unwrap();
        let a: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert!(h.contains(&a.octets(), 6));
        let b: std::net::Ipv6Addr = "2001:db8::2".parse().unwrap();
        assert!(!h.contains(&b.octets(), 6));
        assert!(
            Net::parse("0.0.0.0/0")
                .unwrap()
                .contains(&v4([1, 2, 3, 4]), 4)
        );
        for bad in ["10.0.0.0/33", "host", "10.0.0.0/x", "::/129"] {
            assert!(Net::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn packets_are_excluded_by_address_or_port() {
        let e = Exclusions::new(&["192.0.2.7".into()], &[22]).unwrap();
        let mut p = PacketInfo {
            ip_version: 4,
            src: v4([198, 51, 100, 1]),
            dst: v4([203, 0, 113, 5]),
            protocol: 6,
            src_port: 40000,
            dst_port: 443,
            vlan_id: 0,
            tunnel_id: 0,
            tunnel: Default::default(),
            tcp_flags: 0,
            tcp_seq: 0,
            ip_len: 40,
            truncated: false,
            payload: &[],
        };
        assert!(!e.excludes(&p));
        p.dst_port = 22;
        assert!(e.excludes(&p));
        p.dst_port = 443;
        p.dst = v4([192, 0, 2, 7]);
        assert!(e.excludes(&p));
        assert!(!Exclusions::default().excludes(&p));
    }
}
