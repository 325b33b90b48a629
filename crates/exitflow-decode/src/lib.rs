//! Packet decoding for exitflow: from a captured frame to the fields the flow
//! meter keys on.
//!
//! The rules follow the ones NFStream (over nDPI's reader) applies, because its
//! flow table is our compatibility target: the same packets must be counted
//! and the same ones ignored. In short: the innermost 802.1Q tag is the VLAN,
//! MPLS and PPPoE are skipped over, non-first IPv4 fragments are ignored,
//! IPv6 extension headers are walked, and GTP-U, TZSP, CAPWAP and IP-in-IP
//! tunnels are decapsulated (when enabled) so the inner packet is the one
//! metered.
//!
//! Nothing here allocates: [`decode`] borrows from the frame.
#![forbid(unsafe_code)]

use exitflow_capture::LinkType;

mod tunnel;

/// Whether tunnels are decapsulated by default (NFStream's `decode_tunnels=True`).
pub const DEFAULT_DECODE_TUNNELS: bool = true;
/// Frames shorter than this are not decoded (NFStream's rule: 20 bytes of IP
/// plus 8 of transport).
pub const MIN_FRAME: usize = 28;
/// Deepest nesting of encapsulations followed before a packet is given up.
pub const MAX_ENCAPSULATION_DEPTH: usize = 4;

/// IP protocol numbers used here.
pub mod ipproto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// IGMP.
    pub const IGMP: u8 = 2;
    /// IPv4 in IP.
    pub const IPIP: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 in IP.
    pub const IPV6: u8 = 41;
    /// GRE.
    pub const GRE: u8 = 47;
    /// IPsec ESP.
    pub const ESP: u8 = 50;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const NO_NEXT_HEADER: u8 = 59;
    /// OSPF.
    pub const OSPF: u8 = 89;
}

/// TCP header flag bits (RFC 9293, RFC 3168).
pub mod tcp_flags {
    /// No more data from the sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

/// Decoding options.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// Decapsulate GTP-U, TZSP, CAPWAP and IP-in-IP tunnels.
    pub decode_tunnels: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            decode_tunnels: DEFAULT_DECODE_TUNNELS,
        }
    }
}

/// An IP address in a fixed 16-byte form: IPv4 uses the first four bytes and
/// zeros after them, so keys hash and compare without branching on version.
pub type Addr = [u8; 16];

/// The fields of one packet that the flow meter needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketInfo<'a> {
    /// 4 or 6.
    pub ip_version: u8,
    /// Source address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// IP protocol number (after extension headers).
    pub protocol: u8,
    /// Source port; 0 for protocols without ports.
    pub src_port: u16,
    /// Destination port; 0 for protocols without ports.
    pub dst_port: u16,
    /// Innermost 802.1Q VLAN id, 0 when untagged.
    pub vlan_id: u16,
    /// Tunnel identifier as NFStream keys it: 1 GTP-U, 2 CAPWAP, 3 TZSP, else 0.
    pub tunnel_id: u32,
    /// Kind of tunnel the packet came out of.
    pub tunnel: Tunnel,
    /// TCP flags byte (FIN=0x01 … CWR=0x80); 0 for other protocols.
    pub tcp_flags: u8,
    /// TCP sequence number; 0 for other protocols.
    pub tcp_seq: u32,
    /// IP packet length from the header (total length / payload length + 40).
    pub ip_len: u32,
    /// The IP packet was cut short by the capture's snap length: metered, but
    /// its payload is incomplete (inspection skips it, as nDPI does).
    pub truncated: bool,
    /// Transport payload as captured (may be shorter than on the wire).
    pub payload: &'a [u8],
}

/// Kind of tunnel a packet was decapsulated from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tunnel {
    /// Not tunnelled.
    #[default]
    None,
    /// GTP-U (UDP 2152).
    Gtp,
    /// TZSP (UDP 37008).
    Tzsp,
    /// CAPWAP data channel (UDP 5247).
    Capwap,
    /// IPv4 or IPv6 inside IPv4 or IPv6.
    IpInIp,
}

/// Why a frame yielded no packet for the meter. Every variant is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Skip {
    /// The link-layer type is not one we decode.
    UnsupportedLinkType = 0,
    /// The frame carries something other than IPv4/IPv6 (ARP, LLDP, …).
    NotIp,
    /// The frame ends inside a link-layer header.
    TruncatedLink,
    /// The frame ends inside the IP header, or the header is malformed.
    BadIpHeader,
    /// A non-first IPv4 (or IPv6) fragment: ignored, as NFStream does.
    Fragment,
    /// Encapsulations nested deeper than [`MAX_ENCAPSULATION_DEPTH`].
    TooDeep,
    /// The frame is shorter than [`MIN_FRAME`] bytes.
    TooShort,
}

impl Skip {
    /// Number of variants, for counter arrays.
    pub const COUNT: usize = 7;
    /// All variants in counter order.
    pub const ALL: [Skip; Skip::COUNT] = [
        Skip::UnsupportedLinkType,
        Skip::NotIp,
        Skip::TruncatedLink,
        Skip::BadIpHeader,
        Skip::Fragment,
        Skip::TooDeep,
        Skip::TooShort,
    ];

    /// Stable snake-case name for counters and totals.
    pub fn name(self) -> &'static str {
        match self {
            Skip::UnsupportedLinkType => "unsupported_link_type",
            Skip::NotIp => "not_ip",
            Skip::TruncatedLink => "truncated_link",
            Skip::BadIpHeader => "bad_ip_header",
            Skip::Fragment => "ip_fragment",
            Skip::TooDeep => "too_deep",
            Skip::TooShort => "too_short",
        }
    }
}

/// Counters of frames that yielded no packet, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkipCounters(pub [u64; Skip::COUNT]);

impl SkipCounters {
    /// Counts one skipped frame.
    #[inline]
    pub fn add(&mut self, s: Skip) {
        self.0[s as usize] += 1;
    }
    /// Total skipped frames.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    /// `(reason name, count)` pairs, all reasons included.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Skip::ALL.iter().map(|s| (s.name(), self.0[*s as usize]))
    }
    /// Adds another set of counters to this one.
    pub fn merge(&mut self, o: &SkipCounters) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a += b;
        }
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS_UC: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;
const ETH_PPPOE: u16 = 0x8864;

#[inline]
fn be16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

#[inline]
fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

/// Decodes one captured frame.
pub fn decode<'a>(
    link: LinkType,
    frame: &'a [u8],
    opts: &DecodeOptions,
) -> Result<PacketInfo<'a>, Skip> {
    // NFStream drops frames this short before looking at them; so do we.
    if frame.len() < MIN_FRAME {
        return Err(Skip::TooShort);
    }
    let mut vlan = 0u16;
    let ip = link_to_ip(link, frame, &mut vlan)?;
    let mut info = decode_ip(ip, opts, 0)?;
    info.vlan_id = vlan;
    Ok(info)
}

/// Strips the link layer; returns the bytes starting at the IP header.
fn link_to_ip<'a>(link: LinkType, f: &'a [u8], vlan: &mut u16) -> Result<&'a [u8], Skip> {
    match link {
        LinkType::ETHERNET => ethernet_to_ip(f, vlan),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 | LinkType::IPV4 | LinkType::IPV6 => {
            Ok(f)
        }
        LinkType::NULL | LinkType::LOOP => {
            if f.len() < 4 {
                return Err(Skip::TruncatedLink);
            }
            // The family is in the writer's byte order; both are seen in the wild.
            let le = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            let be = be32(f, 0);
            let fam = if le < 256 { le } else { be };
            match fam {
                2 | 24 | 28 | 30 => Ok(&f[4..]),
                _ => Err(Skip::NotIp),
            }
        }
        LinkType::LINUX_SLL => {
            if f.len() < 16 {
                return Err(Skip::TruncatedLink);
            }
            ethertype_to_ip(be16(f, 14), &f[16..], vlan, 0)
        }
        LinkType::LINUX_SLL2 => {
            if f.len() < 20 {
                return Err(Skip::TruncatedLink);
            }
            ethertype_to_ip(be16(f, 0), &f[20..], vlan, 0)
        }
        LinkType::PPP | LinkType::PPP_HDLC => {
            // Cisco HDLC framing shows up under the PPP link type too.
            if f.len() >= 4 && (f[0] == 0x0f || f[0] == 0x8f) {
                return ethertype_to_ip(be16(f, 2), &f[4..], vlan, 0);
            }
            let mut p = f;
            if p.len() >= 2 && p[0] == 0xff && p[1] == 0x03 {
                p = &p[2..];
            }
            if p.is_empty() {
                return Err(Skip::TruncatedLink);
            }
            // Protocol field compression: an odd first byte is a 1-byte protocol.
            let (proto, rest) = if p[0] & 1 == 1 {
                (u16::from(p[0]), &p[1..])
            } else if p.len() >= 2 {
                (be16(p, 0), &p[2..])
            } else {
                return Err(Skip::TruncatedLink);
            };
            ppp_to_ip(proto, rest)
        }
        LinkType::C_HDLC => {
            if f.len() < 4 {
                return Err(Skip::TruncatedLink);
            }
            ethertype_to_ip(be16(f, 2), &f[4..], vlan, 0)
        }
        LinkType::IEEE802_11_RADIOTAP => radiotap_to_ip(f, vlan),
        _ => Err(Skip::UnsupportedLinkType),
    }
}

/// 802.11 frame type "data" (frame control bits 2-3).
const WIFI_TYPE_DATA: u8 = 2;
/// The 802.11 header length NFStream (and nDPI's reader) assume for a data
/// frame to or from the distribution system: a QoS data frame's.
const WIFI_DATA_HEADER: usize = 26;
/// LLC DSAP of a SNAP header, which carries an ethertype.
const LLC_SNAP: u8 = 0xaa;
/// LLC + SNAP header length; the ethertype is its last two bytes.
const LLC_SNAP_LEN: usize = 8;

/// 802.11 behind radiotap, as NFStream reads it (measured on crafted
/// captures): data frames with exactly one of To DS / From DS, a 26-byte
/// header, then LLC/SNAP and its ethertype; other frames are not IP.
fn radiotap_to_ip<'a>(f: &'a [u8], vlan: &mut u16) -> Result<&'a [u8], Skip> {
    if f.len() < 4 {
        return Err(Skip::TruncatedLink);
    }
    let radiotap = usize::from(u16::from_le_bytes([f[2], f[3]]));
    let w = f.get(radiotap..).ok_or(Skip::TruncatedLink)?;
    if w.len() < 2 {
        return Err(Skip::TruncatedLink);
    }
    let (to_ds, from_ds) = (w[1] & 1 != 0, w[1] & 2 != 0);
    if (w[0] >> 2) & 3 != WIFI_TYPE_DATA || to_ds == from_ds {
        return Err(Skip::NotIp);
    }
    let llc = w.get(WIFI_DATA_HEADER..).ok_or(Skip::TruncatedLink)?;
    if llc.len() < LLC_SNAP_LEN {
        return Err(Skip::TruncatedLink);
    }
    if llc[0] != LLC_SNAP {
        return Err(Skip::NotIp);
    }
    ethertype_to_ip(be16(llc, 6), &llc[LLC_SNAP_LEN..], vlan, 0)
}

fn ppp_to_ip(proto: u16, rest: &[u8]) -> Result<&[u8], Skip> {
    match proto {
        0x0021 | 0x0057 => Ok(rest),
        _ => Err(Skip::NotIp),
    }
}

fn ethernet_to_ip<'a>(f: &'a [u8], vlan: &mut u16) -> Result<&'a [u8], Skip> {
    if f.len() < 14 {
        return Err(Skip::TruncatedLink);
    }
    let et = be16(f, 12);
    if et <= 1500 {
        // 802.3 length field: LLC; IP only behind SNAP.
        let llc = &f[14..];
        if llc.len() >= 8 && llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03 {
            return ethertype_to_ip(be16(llc, 6), &llc[8..], vlan, 0);
        }
        return Err(Skip::NotIp);
    }
    ethertype_to_ip(et, &f[14..], vlan, 0)
}

fn ethertype_to_ip<'a>(
    et: u16,
    rest: &'a [u8],
    vlan: &mut u16,
    depth: usize,
) -> Result<&'a [u8], Skip> {
    if depth > 16 {
        return Err(Skip::TooDeep);
    }
    match et {
        ETH_IPV4 | ETH_IPV6 => Ok(rest),
        ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
            if rest.len() < 4 {
                return Err(Skip::TruncatedLink);
            }
            // The innermost tag wins: each level overwrites the previous one.
            *vlan = be16(rest, 0) & 0x0fff;
            ethertype_to_ip(be16(rest, 2), &rest[4..], vlan, depth + 1)
        }
        ETH_MPLS_UC | ETH_MPLS_MC => {
            let mut p = rest;
            loop {
                if p.len() < 4 {
                    return Err(Skip::TruncatedLink);
                }
                let bos = p[2] & 1 == 1;
                p = &p[4..];
                if bos {
                    break;
                }
            }
            match p.first().map(|b| b >> 4) {
                Some(4) | Some(6) => Ok(p),
                Some(_) => Err(Skip::NotIp),
                None => Err(Skip::TruncatedLink),
            }
        }
        ETH_PPPOE => {
            if rest.len() < 8 {
                return Err(Skip::TruncatedLink);
            }
            ppp_to_ip(be16(rest, 6), &rest[8..])
        }
        _ => Err(Skip::NotIp),
    }
}

/// Decodes an IP packet (and any tunnel inside it).
pub(crate) fn decode_ip<'a>(
    p: &'a [u8],
    opts: &DecodeOptions,
    depth: usize,
) -> Result<PacketInfo<'a>, Skip> {
    if depth > MAX_ENCAPSULATION_DEPTH {
        return Err(Skip::TooDeep);
    }
    let Some(first) = p.first() else {
        return Err(Skip::BadIpHeader);
    };
    let mut info = PacketInfo {
        ip_version: 0,
        src: [0; 16],
        dst: [0; 16],
        protocol: 0,
        src_port: 0,
        dst_port: 0,
        vlan_id: 0,
        tunnel_id: 0,
        tunnel: Tunnel::None,
        tcp_flags: 0,
        tcp_seq: 0,
        ip_len: 0,
        truncated: false,
        payload: &[],
    };
    let l4: &[u8];
    match first >> 4 {
        4 => {
            if p.len() < 20 {
                return Err(Skip::BadIpHeader);
            }
            let ihl = usize::from(p[0] & 0x0f) * 4;
            if ihl < 20 || p.len() < ihl {
                return Err(Skip::BadIpHeader);
            }
            let frag = be16(p, 6);
            if frag & 0x1fff != 0 {
                return Err(Skip::Fragment);
            }
            let tot = usize::from(be16(p, 2));
            if tot < ihl {
                // A zero or bogus total length (e.g. segmentation offload): unusable.
                return Err(Skip::BadIpHeader);
            }
            info.ip_version = 4;
            info.protocol = p[9];
            info.src[..4].copy_from_slice(&p[12..16]);
            info.dst[..4].copy_from_slice(&p[16..20]);
            info.ip_len = tot as u32;
            info.truncated = tot > p.len();
            // Trailing padding (Ethernet minimum frame) is not payload; a packet
            // cut short by the snap length is still metered.
            let end = tot.min(p.len());
            l4 = &p[ihl..end];
        }
        6 => {
            if p.len() < 40 {
                return Err(Skip::BadIpHeader);
            }
            info.ip_version = 6;
            info.src.copy_from_slice(&p[8..24]);
            info.dst.copy_from_slice(&p[24..40]);
            let plen = usize::from(be16(p, 4));
            info.ip_len = plen as u32 + 40;
            if 40 + plen > p.len() {
                // Truncated IPv6 is dropped (NFStream does the same). An
                // empty payload is a packet of its next header's protocol.
                return Err(Skip::BadIpHeader);
            }
            let end = 40 + plen;
            let mut next = p[6];
            let mut off = 40;
            // Walk the extension headers to the transport protocol, as
            // nDPI does: only while more than one byte is left, so that a
            // packet that ends after its headers (a Mobility Header with no
            // next header, say) is a packet of the last next header; "no
            // next header" (59) followed by bytes is malformed.
            loop {
                if end - off <= 1 {
                    break;
                }
                match next {
                    0 | 43 | 60 | 135 => {
                        if end < off + 2 {
                            return Err(Skip::BadIpHeader);
                        }
                        let len = (usize::from(p[off + 1]) + 1) * 8;
                        next = p[off];
                        off += len;
                    }
                    44 => {
                        if end < off + 8 {
                            return Err(Skip::BadIpHeader);
                        }
                        let frag_off = be16(p, off + 2) & 0xfff8;
                        if frag_off != 0 {
                            return Err(Skip::Fragment);
                        }
                        next = p[off];
                        off += 8;
                    }
                    ipproto::NO_NEXT_HEADER => return Err(Skip::BadIpHeader),
                    _ => break,
                }
                if off > end {
                    return Err(Skip::BadIpHeader);
                }
            }
            info.protocol = next;
            l4 = &p[off..end];
        }
        _ => return Err(Skip::BadIpHeader),
    }
    match info.protocol {
        // A transport header cut short leaves the ports at 0; the packet still counts.
        ipproto::TCP if l4.len() >= 20 => {
            info.src_port = be16(l4, 0);
            info.dst_port = be16(l4, 2);
            info.tcp_flags = l4[13];
            info.tcp_seq = be32(l4, 4);
            let doff = usize::from(l4[12] >> 4) * 4;
            info.payload = if doff >= 20 && doff <= l4.len() {
                &l4[doff..]
            } else {
                &[]
            };
        }
        ipproto::UDP if l4.len() >= 8 => {
            info.src_port = be16(l4, 0);
            info.dst_port = be16(l4, 2);
            info.payload = &l4[8..];
            if opts.decode_tunnels
                && let Some(inner) = tunnel::udp(&info, opts, depth)?
            {
                return Ok(inner);
            }
        }
        // IP-in-IP is always decapsulated (as NFStream does); its tunnel id stays 0.
        ipproto::IPIP | ipproto::IPV6 => {
            let mut inner = decode_ip(l4, opts, depth + 1)?;
            if inner.tunnel == Tunnel::None {
                inner.tunnel = Tunnel::IpInIp;
            }
            return Ok(inner);
        }
        _ => {
            info.payload = l4;
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests;
