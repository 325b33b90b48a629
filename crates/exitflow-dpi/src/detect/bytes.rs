//! Byte readers and small tests the detectors share.
use super::Match;
use crate::FlowCtx;

pub(super) fn yes(b: bool) -> Match {
    if b { Match::Yes } else { Match::No }
}

pub(crate) fn either_port(flow: &FlowCtx, port: u16) -> bool {
    flow.src_port == port || flow.dst_port == port
}

/// Both of the flow's ports are among `ports` (nDPI's rules for protocols
/// spoken between two daemons on their well-known ports).
pub(super) fn both_ports_in(flow: &FlowCtx, ports: &[u16]) -> bool {
    ports.contains(&flow.src_port) && ports.contains(&flow.dst_port)
}

/// The flow's IPv4 source address, if it is IPv4.
pub(super) fn src_v4(flow: &FlowCtx) -> Option<[u8; 4]> {
    (flow.ip_version == 4).then(|| [flow.src[0], flow.src[1], flow.src[2], flow.src[3]])
}

/// The flow's destination is a multicast group (224.0.0.0/4, ff00::/8).
pub(super) fn dst_multicast(flow: &FlowCtx) -> bool {
    match flow.ip_version {
        4 => flow.dst[0] & 0xf0 == 0xe0,
        _ => flow.dst[0] == 0xff,
    }
}

pub(super) fn be24(d: &[u8], at: usize) -> Option<usize> {
    d.get(at..at + 3)
        .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
}

pub(super) fn be16(d: &[u8], at: usize) -> Option<usize> {
    d.get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
}

pub(super) fn be32(d: &[u8], at: usize) -> Option<usize> {
    d.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

pub(super) fn le16(d: &[u8], at: usize) -> Option<usize> {
    d.get(at..at + 2)
        .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
}

pub(super) fn le32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A BER element with tag `tag` at the start of `d`: where its contents
/// start and how long they are (definite lengths up to four bytes).
pub(super) fn ber_element(d: &[u8], tag: u8) -> Option<(usize, usize)> {
    if *d.first()? != tag {
        return None;
    }
    let first = *d.get(1)?;
    match first {
        0..=0x7f => Some((2, usize::from(first))),
        0x81 => Some((3, usize::from(*d.get(2)?))),
        0x82 => Some((4, be16(d, 2)?)),
        0x83 => Some((5, usize::from(*d.get(2)?) << 16 | be16(d, 3)?)),
        0x84 => Some((6, be32(d, 2)?)),
        _ => None,
    }
}

pub(crate) fn starts_ci(d: &[u8], p: &[u8]) -> bool {
    d.len() >= p.len() && d[..p.len()].eq_ignore_ascii_case(p)
}

/// Kerberos message tags (AS-REQ, AS-REP, TGS-REQ, TGS-REP, KRB-ERROR).
pub(super) const KRB_TAGS: [u8; 5] = [0x6a, 0x6b, 0x6c, 0x6d, 0x7e];
/// DHCP's magic cookie (RFC 2131).
pub(super) const DHCP_COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
/// Telnet IAC followed by WILL/WONT/DO/DONT.
pub(super) const TELNET_IAC: u8 = 0xff;

/// The first byte of an uncompressed elliptic-curve public key (SEC 1).
pub(super) const ECIES_KEY_MARKER: u8 = 0x04;
/// The ports Ethereum nodes listen on for RLPx (nDPI's range).
pub(super) const ETHEREUM_TCP_PORTS: (u16, u16) = (30300, 30305);
/// Dropbox's LAN sync port.
pub(super) const DROPBOX_LAN_SYNC_PORT: u16 = 17500;
/// Teredo's server port (RFC 4380); nDPI checks Teredo only with it on
/// either side, so that ONC-RPC or Geneve carrying IPv6 is not Teredo.
pub(super) const TEREDO_PORT: u16 = 3544;

/// [`Match::First`] if `b`: for nDPI's rules that judge a flow's first
/// payload only.
pub(super) fn first(b: bool) -> Match {
    if b { Match::First } else { Match::No }
}

/// git-daemon's port: nDPI looks for git's pkt-lines only there.
pub(super) const GIT_PORT: u16 = 9418;
