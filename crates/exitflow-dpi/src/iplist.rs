//! nDPI's IP-prefix lists (`data/ip_lists.tsv`): the service a server
//! (destination) address belongs to (Google, AWS_EC2, Telegram, Tor relays, VPN
//! providers...), for flows that inspection could not name, as nDPI's
//! guess by address does. Longest prefix wins; private and multicast IPv4
//! addresses never match (nDPI skips them).
use std::collections::HashMap;
use std::sync::OnceLock;

use exitflow_decode::Addr;

use crate::registry::{ProtoId, registry};

const LISTS: &str = include_str!("../data/ip_lists.tsv");

/// Prefix tables, one map per prefix length, longest first.
struct Lists {
    v4: Vec<(u8, HashMap<u32, ProtoId>)>,
    v6: Vec<(u8, HashMap<u128, ProtoId>)>,
}

fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len)))
    }
}

fn lists() -> &'static Lists {
    static L: OnceLock<Lists> = OnceLock::new();
    L.get_or_init(|| {
        let mut v4: HashMap<u8, HashMap<u32, ProtoId>> = HashMap::new();
        let mut v6: HashMap<u8, HashMap<u128, ProtoId>> = HashMap::new();
        for line in LISTS.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (cidr, name) = line
                .split_once('\t')
                .expect("data/ip_lists.tsv: prefix<TAB>name");
            let (addr, len) = cidr.split_once('/').expect("data/ip_lists.tsv: a/len");
            let len: u8 = len.parse().expect("data/ip_lists.tsv: prefix length");
            let id = registry()
                .id(name.trim())
                .unwrap_or_else(|| panic!("data/ip_lists.tsv: {name} missing from protocols.txt"));
            match addr
                .parse::<std::net::IpAddr>()
                .expect("data/ip_lists.tsv: address")
            {
                std::net::IpAddr::V4(a) => {
                    v4.entry(len)
                        .or_default()
                        .insert(mask4(u32::from(a), len), id);
                }
                std::net::IpAddr::V6(a) => {
                    v6.entry(len)
                        .or_default()
                        .insert(mask6(u128::from(a), len), id);
                }
            }
        }
        let mut v4: Vec<_> = v4.into_iter().collect();
        let mut v6: Vec<_> = v6.into_iter().collect();
        v4.sort_by_key(|e| std::cmp::Reverse(e.0));
        v6.sort_by_key(|e| std::cmp::Reverse(e.0));
        Lists { v4, v6 }
    })
}

/// Whether a protocol has prefixes in the lists.
pub fn has(id: ProtoId) -> bool {
    let l = lists();
    l.v4.iter().any(|(_, m)| m.values().any(|p| *p == id))
        || l.v6.iter().any(|(_, m)| m.values().any(|p| *p == id))
}

/// The protocol nDPI's lists give an address (IPv4 in the first four bytes
/// of `a` when `ip_version` is 4).
pub fn lookup(ip_version: u8, a: &Addr) -> Option<ProtoId> {
    let l = lists();
    if ip_version == 4 {
        let v = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
        let ip = std::net::Ipv4Addr::from(v);
        if ip.is_private() || ip.is_multicast() || ip.is_loopback() || ip.is_link_local() {
            return None;
        }
        l.v4.iter()
            .find_map(|(len, m)| m.get(&mask4(v, *len)).copied())
    } else {
        let v = u128::from_be_bytes(*a);
        l.v6.iter()
            .find_map(|(len, m)| m.get(&mask6(v, *len)).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> Addr {
        let mut x = [0u8; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    #[test]
    fn longest_prefix_names_the_address_and_private_ranges_never_match() {
        let name = |a: [u8; 4]| lookup(4, &v4(a)).map(|p| p.name());
        assert_eq!(name([8, 8, 8, 8]), Some("Google"));
        assert_eq!(name([149, 154, 167, 50]), Some("Telegram"));
        assert_eq!(name([3, 0, 0, 1]), Some("AWS_EC2"));
        // 31.13.64.0/18 is Facebook; 31.13.64.60/31 inside it WhatsApp.
        assert_eq!(name([31, 13, 64, 60]), Some("WhatsApp"));
        assert_eq!(name([31, 13, 64, 1]), Some("Facebook"));
        assert_eq!(name([10, 0, 0, 1]), None);
        assert_eq!(name([192, 0, 2, 1]), None);
        let v6: std::net::Ipv6Addr = "2600:1f18::1".parse().unwrap();
        assert_eq!(lookup(6, &v6.octets()).map(|p| p.name()), Some("AWS_EC2"));
    }
}
