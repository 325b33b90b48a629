//! Industrial and building-automation protocols (nDPI's IoT-Scada
//! category), recognised from their headers as their specifications lay
//! them out.
use super::{Alt, Match, be16, be32, either_port, first, le32, yes};
use crate::FlowCtx;

/// BACnet/IP's BVLC type byte.
const BVLC_BACNET_IP: u8 = 0x81;
/// Beckhoff AMS/TCP header (2 reserved bytes, length) + AMS header.
const AMS_TCP_HEADER: usize = 6;
const AMS_HEADER: usize = 32;
/// ACSE association request/response tags (ANSI C12.22 starts with one).
const ACSE_APDU: u8 = 0x60;
/// HDLC frame flag (IEC 62056-46, DLMS over HDLC).
const HDLC_FLAG: u8 = 0x7e;
/// ISO-on-TCP (RFC 1006) version and COTP data TPDU code.
const TPKT_VERSION: u8 = 3;
const COTP_DT: u8 = 0xf0;
/// S7 protocol ids after the COTP data header.
const S7_PROTOCOL_ID: u8 = 0x32;
const S7PLUS_PROTOCOL_ID: u8 = 0x72;
/// ISO 8327 session SPDU types that open MMS (CONNECT, ACCEPT, DATA/GIVE-TOKENS).
const SESSION_SPDUS: [u8; 4] = [0x0d, 0x0e, 0x01, 0x02];

pub(super) fn bacnet(_: &FlowCtx, d: &[u8]) -> Match {
    // BVLC: type 0x81, function 0x00-0x0c, length of the whole datagram.
    yes(d.len() >= 4 && d[0] == BVLC_BACNET_IP && d[1] <= 0x0c && be16(d, 2) == Some(d.len()))
}

pub(super) fn beckhoff_ads(_: &FlowCtx, d: &[u8]) -> Match {
    // AMS/TCP: reserved 0, LE length; AMS: command up to 9, state flags of
    // an ADS request or response over TCP (4, 5), an error code nDPI 5.0
    // knows, LE data length.
    let (Some(len), Some(data), Some(error)) = (
        le32(d, 2),
        le32(d, AMS_TCP_HEADER + 20),
        le32(d, AMS_TCP_HEADER + 24),
    ) else {
        return Match::No;
    };
    let le16 = |at: usize| u16::from_le_bytes([d[at], d[at + 1]]);
    let (cmd, flags) = (le16(AMS_TCP_HEADER + 16), le16(AMS_TCP_HEADER + 18));
    yes(d[0] == 0
        && d[1] == 0
        && len as usize == d.len() - AMS_TCP_HEADER
        && cmd <= 9
        && matches!(flags, 4 | 5)
        && error <= 0x1e
        && data as usize + AMS_HEADER + AMS_TCP_HEADER == d.len())
}

/// The shortest C12.22 message nDPI 5.0 reads.
const C1222_MIN: usize = 50;

pub(super) fn c1222(_: &FlowCtx, d: &[u8]) -> Match {
    // An ACSE APDU whose one-byte length is the rest, opening with the
    // called AP title (a2 .. 06), as nDPI 5.0 reads it.
    yes(d.len() >= C1222_MIN
        && d[0] == ACSE_APDU
        && usize::from(d[1]) == (d.len() - 2) & 0xff
        && d[2] == 0xa2
        && d[4] == 0x06)
}

pub(super) fn cnp_ip(_: &FlowCtx, d: &[u8]) -> Match {
    // CNP/IP (ISO/IEC 14908-4): length of the packet, version 1, type 0-0x7f.
    yes(d.len() >= 20 && be16(d, 0) == Some(d.len()) && d[2] == 1 && d[3] < 0x80)
}

pub(super) fn dlms_hdlc(_: &FlowCtx, d: &[u8]) -> Match {
    // HDLC frame format type 3 ("1010", no segmentation, a short frame),
    // flags at both ends, and the frame check sequence over what lies
    // between them (nDPI 5.0 checks it; the 62056-47 wrapper it does not
    // name).
    let n = d.len();
    yes(n > 8
        && d[0] == HDLC_FLAG
        && d[n - 1] == HDLC_FLAG
        && d[1] == 0xa0
        && u16::from_le_bytes([d[n - 3], d[n - 2]]) == crc16_x25(&d[1..n - 3]))
}

/// A reflected CRC with all-ones initial value and final XOR: `poly`
/// reversed, `mask` its width.
fn crc_reflected(d: &[u8], poly: u32, mask: u32) -> u32 {
    let mut crc = mask;
    for &b in d {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
        }
    }
    !crc & mask
}

/// CRC-16/X.25 (HDLC's frame check sequence).
fn crc16_x25(d: &[u8]) -> u16 {
    crc_reflected(d, 0x8408, 0xffff) as u16
}

/// CRC-32 (IEEE 802.3, zlib's): TRDP's header check sequence.
fn crc32(d: &[u8]) -> u32 {
    crc_reflected(d, 0xedb8_8320, 0xffff_ffff)
}

pub(super) fn egd(flow: &FlowCtx, d: &[u8]) -> Match {
    // EGD production data: PDU type 13, version 1, the producer id the
    // sender's own address, a status nDPI 5.0 knows, reserved zero.
    let own = super::src_v4(flow).is_some_and(|a| d.get(4..8) == Some(&a[..]));
    yes(d.len() > 32
        && d[0] == 0x0d
        && d[1] == 0x01
        && own
        && be32(d, 24).is_some_and(|s| s < 31)
        && be32(d, 28) == Some(0))
}

pub(super) fn ether_s_bus(_: &FlowCtx, d: &[u8]) -> Match {
    // SAIA Ether-S-Bus: 32-bit length, version 0/1, protocol type 0/1.
    yes(d.len() >= 11 && be32(d, 0) == Some(d.len()) && d[4] <= 1 && d[5] <= 1)
}

pub(super) fn ethersio(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 20 && d.starts_with(b"ESIO") && d[4] == 0 && d[5] <= 2 && d[6] == 0)
}

pub(super) fn fins_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // FINS header: ICF (bit 7 set, command/response bit 6), RSV 0, gateways 2 or 7.
    yes(d.len() >= 12 && d[0] & 0xbe == 0x80 && d[1] == 0 && matches!(d[2], 2 | 7))
}

pub(super) fn fins_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 16
        && d.starts_with(b"FINS")
        && be32(d, 4).map(|l| l + 8) <= Some(d.len() + 2048))
}

pub(super) fn hart_ip(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1-2, message type 0-3 (request, response, publish, NAK),
    // message id 0-3 or 128, byte count of the whole message.
    yes(d.len() >= 8
        && matches!(d[0], 1 | 2)
        && d[1] <= 3
        && matches!(d[2], 0..=3 | 128)
        && be16(d, 6) == Some(d.len()))
}

pub(super) fn hislip(_: &FlowCtx, d: &[u8]) -> Match {
    // "HS", message type 0-25, a 64-bit payload length that fits.
    // (the length the segment's rest, as nDPI 5.0 wants.)
    yes(d.len() >= 16
        && d.starts_with(b"HS")
        && d[2] <= 25
        && be32(d, 8) == Some(0)
        && be32(d, 12).and_then(|n| n.checked_add(16)) == Some(d.len()))
}

/// TPKT + COTP data: the protocol id that follows, if any.
fn cotp_data_id(d: &[u8]) -> Option<u8> {
    (d.len() >= 8
        && d[0] == TPKT_VERSION
        && d[1] == 0
        && be16(d, 2) == Some(d.len())
        && d[4] == 2
        && d[5] == COTP_DT)
        .then(|| d[7])
}

/// The shortest S7 message nDPI 5.0 reads (TPKT, COTP, the S7 header).
const S7_MIN: usize = 18;

pub(super) fn iso_on_tcp_data(_: &FlowCtx, d: &[u8]) -> Match {
    // The first data TPDU tells S7, S7 Plus and MMS (a session SPDU) apart.
    // S7: a job, an acknowledgement or user data (ROSCTR 1-3, 7) with
    // reserved zero, as nDPI 5.0 wants.
    match cotp_data_id(d) {
        Some(S7_PROTOCOL_ID) => {
            yes(d.len() >= S7_MIN && matches!(d[8], 1..=3 | 7) && d[9] == 0 && d[10] == 0)
        }
        Some(S7PLUS_PROTOCOL_ID) => Match::As(Alt::S7CommPlus),
        Some(id) if SESSION_SPDUS.contains(&id) => Match::As(Alt::Mms),
        Some(_) => Match::No,
        // Any other TPKT (a connection request or confirm): nDPI's rule
        // reads on to the first data TPDU; anything else ends it.
        None if tpkt_whole(d) && d.get(5) != Some(&COTP_DT) => Match::Wait,
        None => Match::No,
    }
}

/// A TPKT header whose length is the payload's.
fn tpkt_whole(d: &[u8]) -> bool {
    d.len() >= 4 && d[0] == TPKT_VERSION && d[1] == 0 && be16(d, 2) == Some(d.len())
}

/// HSRP's ports (IPv4; IPv6's) and groups (version 0, version 2, IPv6).
pub(super) const HSRP_PORT: u16 = 1985;
pub(super) const HSRP_V6_PORT: u16 = 2029;
const HSRP_V0_GROUP: [u8; 4] = [224, 0, 0, 2];
const HSRP_V2_GROUP: [u8; 4] = [224, 0, 0, 102];
const HSRP_V6_GROUP: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x66];

pub(super) fn hsrp(flow: &FlowCtx, d: &[u8]) -> Match {
    // Between two routers on HSRP's port, to its group, as nDPI 5.0 wants:
    // version 0 (a 20-byte hello), version 2 (a group state TLV of
    // version 2), IPv6 (version 2's TLVs on its own port and group).
    if flow.src_port != flow.dst_port {
        return Match::No;
    }
    let group = &flow.dst[..4];
    yes(match (flow.ip_version, flow.dst_port) {
        (4, HSRP_PORT) => {
            (group == HSRP_V0_GROUP && d.len() >= 20 && d[0] == 0 && d[7] == 0)
                || (group == HSRP_V2_GROUP && d.len() >= 42 && d[2] == 2 && d[5] == 4)
        }
        (6, HSRP_V6_PORT) => flow.dst == HSRP_V6_GROUP && d.first().is_some_and(|v| *v <= 4),
        _ => false,
    })
}

/// The port Veeder-Root tank gauges listen on (nDPI 5.0 wants it).
pub(super) const ATG_PORT: u16 = 10001;

pub(super) fn atg(_: &FlowCtx, d: &[u8]) -> Match {
    // Veeder-Root tank gauges: SOH, a command letter (I/S/i/s), the
    // command, CRLF, as the flow's first payload (nDPI 5.0 rules ATG out
    // on any other first payload, the gauge's answer included).
    let request = d.len() >= 8
        && d[0] == 0x01
        && matches!(d[1], b'I' | b'S' | b'i' | b's')
        && d.ends_with(b"\r\n");
    if request { Match::First } else { Match::No }
}

pub(super) fn rtps(_: &FlowCtx, d: &[u8]) -> Match {
    // DDS-RTPS: "RTPS" (or "RTPX"), protocol version 1.x or 2.x.
    yes(d.len() >= 16
        && (d.starts_with(b"RTPS") || d.starts_with(b"RTPX"))
        && matches!(d[4], 1 | 2))
}

/// TRDP's process data and message data headers, each ended by its
/// CRC-32 (little endian).
const TRDP_PD_HEADER: usize = 40;
const TRDP_MD_HEADER: usize = 116;

pub(super) fn trdp(flow: &FlowCtx, d: &[u8]) -> Match {
    // IEC 61375-2-3, as nDPI 5.0 checks it: process data (UDP) or message
    // data, the dataset length the rest (message data pad it to 4 bytes),
    // and the header's check sequence.
    let fcs = |n: usize| le32(d, n - 4) == Some(crc32(&d[..n - 4]));
    let Some(dataset) = be32(d, 20) else {
        return Match::No;
    };
    yes(match d.get(6) {
        Some(b'P') => {
            flow.protocol == 17
                && d.len() >= TRDP_PD_HEADER
                && dataset + TRDP_PD_HEADER == d.len()
                && be32(d, 24) == Some(0)
                && fcs(TRDP_PD_HEADER)
        }
        Some(b'M') => {
            d.len() >= TRDP_MD_HEADER
                && TRDP_MD_HEADER + dataset + (4 - dataset % 4) % 4 == d.len()
                && fcs(TRDP_MD_HEADER)
        }
        _ => false,
    })
}

/// Modbus function code of Schneider's UMAS.
const UMAS_FUNCTION: u8 = 0x5a;

pub(super) fn modbus(_: &FlowCtx, d: &[u8]) -> Match {
    // MBAP: protocol id 0, length of the rest, a function code (UMAS rides on 0x5a).
    let mbap = d.len() >= 8 && be16(d, 2) == Some(0) && be16(d, 4).map(|l| l + 6) == Some(d.len());
    match (mbap, d.get(7).map(|f| f & 0x7f)) {
        (true, Some(UMAS_FUNCTION)) => Match::WithApp(Alt::Umas),
        (true, Some(f)) if f != 0 && f <= 0x2b => Match::Yes,
        _ => Match::No,
    }
}

pub(super) fn melsec(_: &FlowCtx, d: &[u8]) -> Match {
    // SLMP/MC: subheader 0x57/0xd7, network and station, LE data length.
    yes(d.len() > 40
        && matches!(d[0], 0x57 | 0xd7)
        && be32(d, 3) == Some(0x1111)
        && usize::from(u16::from_le_bytes([d[19], d[20]])) + 21 == d.len())
}

/// Check Point's cluster protocol port (on both sides of its datagrams).
pub(super) const CPHA_PORT: u16 = 8116;

pub(super) fn cpha(flow: &FlowCtx, d: &[u8]) -> Match {
    // Check Point cluster sync: magic 0x1a90, between members' CPHA ports,
    // sent from 0.0.0.0 as nDPI 5.0 wants.
    yes(d.len() > 20
        && d[0] == 0x1a
        && d[1] == 0x90
        && flow.src_port == CPHA_PORT
        && flow.dst_port == CPHA_PORT
        && super::src_v4(flow) == Some([0; 4]))
}

pub(super) fn ubntac2(_: &FlowCtx, d: &[u8]) -> Match {
    // Ubiquiti discovery: version 2, command 6, length of the TLVs.
    yes(d.len() >= 4 && d[0] == 0x02 && d[1] == 0x06 && be16(d, 2).map(|l| l + 4) == Some(d.len()))
}

/// CRC-16/CCITT-FALSE (IEEE C37.118 frames end with it).
fn crc16_ccitt(d: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &b in d {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

pub(super) fn c37118(_: &FlowCtx, d: &[u8]) -> Match {
    // Sync byte 0xaa, frame type 0-5, frame size, and a CRC that checks.
    yes(d.len() >= 17
        && d[0] == 0xaa
        && d[1] >> 4 < 6
        && be16(d, 2) == Some(d.len())
        && be16(d, d.len() - 2) == Some(usize::from(crc16_ccitt(&d[..d.len() - 2]))))
}

/// TP-Link Smart Home's autokey cipher: the first key byte.
const TPLINK_KEY: u8 = 171;

pub(super) fn tplink_shp(flow: &FlowCtx, d: &[u8]) -> Match {
    // JSON under the autokey XOR, after a 4-byte length on TCP: the first
    // two bytes decrypt to `{"` or `{}`.
    let o = if flow.protocol == 6 { 4 } else { 0 };
    let (Some(&a), Some(&b)) = (d.get(o), d.get(o + 1)) else {
        return Match::No;
    };
    first(a ^ TPLINK_KEY == b'{' && matches!(b ^ a, b'"' | b'}'))
}

pub(super) fn tristation(_: &FlowCtx, d: &[u8]) -> Match {
    // Opcode, channel, little-endian length of the data after the 6-byte
    // header, direction 0-1, connection id.
    first(d.len() >= 6 && d[4] <= 1 && usize::from(u16::from_le_bytes([d[2], d[3]])) == d.len() - 6)
}

/// EtherNet/IP implicit I/O's port, on both sides.
pub(super) const CIP_IO_PORT: u16 = 2222;

pub(super) fn cip_io(flow: &FlowCtx, d: &[u8]) -> Match {
    // Common Packet Format: an item count, then (type, length, data) items
    // that fill the datagram. nDPI sums the offset in 8 bits; so does this,
    // so that the same datagrams pass.
    if !(flow.src_port == CIP_IO_PORT
        && flow.dst_port == CIP_IO_PORT
        && (12..64).contains(&d.len())
        && d[1] == 0)
    {
        return Match::No;
    }
    let (mut off, mut items) = (2u8, d[0]);
    while items > 0 && d.len() > usize::from(off) + 4 {
        let at = usize::from(off);
        let len = u16::from_le_bytes([d[at + 2], d[at + 3]]);
        off = off.wrapping_add(4).wrapping_add(len as u8);
        items -= 1;
    }
    first(usize::from(off) == d.len())
}

/// Matter's UDP ports (either side).
pub(super) const MATTER_PORTS: [u16; 2] = [5540, 5542];

pub(super) fn matter(flow: &FlowCtx, d: &[u8]) -> Match {
    // IPv6 only. Message flags: version 0-1, reserved bit clear, DSIZ 0-2;
    // security flags: reserved bits clear, session type 0-2; an unsecured
    // session (type 0) has session id 0, a group or CASE one not.
    if flow.ip_version != 6 || !MATTER_PORTS.iter().any(|p| either_port(flow, *p)) || d.len() < 16 {
        return Match::No;
    }
    let (flags, security) = (d[0], d[3]);
    let session_type = security & 0x03;
    let session_zero = d[1] == 0 && d[2] == 0;
    first(
        flags >> 4 <= 1
            && flags & 0x08 == 0
            && flags & 0x03 <= 2
            && security & 0x1c == 0
            && session_type <= 2
            && (session_type == 0) == session_zero,
    )
}

#[cfg(test)]
mod tests {
    /// The catalogued check values ("123456789") of the two CRCs the TRDP
    /// and HDLC rules verify.
    #[test]
    fn crcs_give_their_catalogued_check_values() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(super::crc16_x25(b"123456789"), 0x906e);
    }
}
