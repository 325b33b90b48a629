//! nDPI's IP-prefix lists (`ip_lists.tsv`, [`crate::data`]): the service a server
//! (destination) address belongs to (Google, AWS_EC2, Telegram, Tor relays, VPN
//! providers...), for flows that inspection could not name, as nDPI's
//! guess by address does. Longest prefix wins; private and multicast IPv4
//! addresses never match (nDPI skips them).
use exitflow_decode::Addr;

use crate::registry::ProtoId;

/// Prefixes flattened into disjoint address ranges, each with the most
/// specific prefix's protocol, sorted: a lookup is one binary search.
pub(crate) struct Lists {
    v4: Vec<(u128, u128, ProtoId)>,
    v6: Vec<(u128, u128, ProtoId)>,
}

/// Flattens nested prefixes `(first, last, len, id)`.
fn flatten(mut p: Vec<(u128, u128, u8, ProtoId)>) -> Vec<(u128, u128, ProtoId)> {
    // Wider prefixes first among those starting at the same address.
    p.sort_by_key(|&(first, _, len, _)| (first, len));
    let mut out = Vec::with_capacity(p.len() * 2);
    let mut open: Vec<(u128, ProtoId)> = Vec::new();
    // First address not yet emitted; None past the end of the address space.
    let mut cur: Option<u128> = Some(0);
    let emit = |from: Option<u128>, to: u128, id: ProtoId, out: &mut Vec<(u128, u128, ProtoId)>| {
        if let Some(f) = from
            && f <= to
        {
            out.push((f, to, id));
        }
    };
    for (first, last, _, id) in p {
        while let Some(&(end, oid)) = open.last() {
            if end >= first {
                break;
            }
            emit(cur, end, oid, &mut out);
            cur = end.checked_add(1);
            open.pop();
        }
        if let Some(&(_, oid)) = open.last()
            && first > 0
        {
            emit(cur, first - 1, oid, &mut out);
        }
        cur = Some(first);
        open.push((last, id));
    }
    while let Some((end, oid)) = open.pop() {
        emit(cur, end, oid, &mut out);
        cur = end.checked_add(1);
    }
    out
}

/// One line of the lists: `(first, last, prefix length, id)`, IPv4 or not;
/// `None` for a comment or blank line.
type Prefix = (bool, (u128, u128, u8, ProtoId));

fn parse_line(line: &str, r: &crate::registry::Registry) -> Result<Option<Prefix>, String> {
    if line.starts_with('#') || line.trim().is_empty() {
        return Ok(None);
    }
    let (cidr, name) = line
        .split_once('\t')
        .ok_or_else(|| format!("{line:?}: want prefix<TAB>name"))?;
    let (addr, len) = cidr
        .split_once('/')
        .ok_or_else(|| format!("{cidr:?}: want address/length"))?;
    let id = r
        .id(name.trim())
        .ok_or_else(|| format!("{name} is not in the protocol table"))?;
    let addr: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an address"))?;
    let (bits, a) = match addr {
        std::net::IpAddr::V4(a) => (32u32, u128::from(u32::from(a))),
        std::net::IpAddr::V6(a) => (128u32, u128::from(a)),
    };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| u32::from(*l) <= bits)
        .ok_or_else(|| format!("{len:?} is not a prefix length of {addr}"))?;
    let host = bits - u32::from(len);
    let span = if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    let first = a & !span;
    Ok(Some((bits == 32, (first, first | span, len, id))))
}

/// Builds the lists from the tables' text, every line checked against
/// registry `r`.
pub(crate) fn build(
    t: &crate::data::Text,
    r: &crate::registry::Registry,
) -> Result<Lists, crate::data::DataError> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for (n, line) in t.ip_lists.lines().enumerate() {
        let parsed = parse_line(line, r).map_err(|what| crate::data::DataError::Bad {
            path: t.dir.join(crate::data::IP_LISTS_FILE),
            line: n + 1,
            what,
        })?;
        match parsed {
            Some((true, p)) => v4.push(p),
            Some((false, p)) => v6.push(p),
            None => {}
        }
    }
    Ok(Lists {
        v4: flatten(v4),
        v6: flatten(v6),
    })
}

fn lists() -> &'static Lists {
    &crate::data::tables().lists
}

fn find(ranges: &[(u128, u128, ProtoId)], a: u128) -> Option<ProtoId> {
    let i = ranges.partition_point(|r| r.0 <= a);
    let r = ranges.get(i.checked_sub(1)?)?;
    (a <= r.1).then_some(r.2)
}

/// Whether a protocol has prefixes in the lists.
pub fn has(id: ProtoId) -> bool {
    let l = lists();
    l.v4.iter().chain(&l.v6).any(|r| r.2 == id)
}

/// The protocol nDPI's lists give an address (IPv4 in the first four bytes
/// of `a` when `ip_version` is 4).
pub fn lookup(ip_version: u8, a: &Addr) -> Option<ProtoId> {
    let l = lists();
    if ip_version == 4 {
        let ip = std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]);
        if ip.is_private() || ip.is_multicast() || ip.is_loopback() || ip.is_link_local() {
            return None;
        }
        find(&l.v4, u128::from(u32::from(ip)))
    } else {
        find(&l.v6, u128::from_be_bytes(*a))
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

    #[test]
    fn nested_prefixes_flatten_to_the_most_specific() {
        let (a, b, c) = (ProtoId(1), ProtoId(2), ProtoId(3));
        // 0/0 ⊃ 16/28 ⊃ 16/30, and 32/28 beside them; the last address too.
        let r = flatten(vec![
            (0, u128::MAX, 0, a),
            (16, 31, 28, b),
            (16, 19, 30, c),
            (32, 47, 28, b),
            (u128::MAX, u128::MAX, 128, c),
        ]);
        for (addr, want) in [
            (0, a),
            (15, a),
            (16, c),
            (19, c),
            (20, b),
            (31, b),
            (32, b),
            (48, a),
            (u128::MAX - 1, a),
            (u128::MAX, c),
        ] {
            assert_eq!(find(&r, addr), Some(want), "{addr}");
        }
    }
}
