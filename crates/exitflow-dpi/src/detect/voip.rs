//! Voice, video and streaming: RTP/RTCP, Skinny, H.323, RTSP, Zoom,
//! Telegram calls, Tailscale's discovery.
use super::{Match, be16, be32, either_port, first, starts_ci, yes};
use crate::FlowCtx;

/// RTP version 2 in the top bits of the first byte.
const RTP_V2: u8 = 0x80;
/// RTCP packet types (SR 200 ... up to 213).
const RTCP_TYPES: std::ops::RangeInclusive<u8> = 192..=213;
/// RTP packets of a flow before it is called RTP (nDPI waits for three).
const RTP_PACKETS: u8 = 3;
/// RTCP packets (without RTP) before it is called RTCP.
const RTCP_PACKETS: u8 = 4;
/// Tailscale's discovery magic: "TS" and U+1F4AC in UTF-8.
const TAILSCALE_MAGIC: &[u8] = b"TS\xf0\x9f\x92\xac";
/// Telegram calls: a run of this many 0xff bytes in the relay header.
const TELEGRAM_FF_RUN: usize = 12;

/// RTP or RTCP, by header (RFC 3550).
pub(crate) enum Rtp {
    Rtp,
    Rtcp,
}

pub(crate) fn rtp_kind(d: &[u8]) -> Option<Rtp> {
    if d.len() < 8 || d[0] & 0xc0 != RTP_V2 {
        return None;
    }
    if RTCP_TYPES.contains(&d[1]) {
        return ((be16(d, 2)? + 1) * 4 <= d.len()).then_some(Rtp::Rtcp);
    }
    let pt = d[1] & 0x7f;
    if !(pt <= 34 || pt >= 96) || d.len() < 12 {
        return None;
    }
    let mut min = 12 + 4 * usize::from(d[0] & 0x0f);
    if d[0] & 0x10 != 0 {
        min += 4;
        min += 4 * be16(d, min - 2)?;
    }
    (min <= d.len()).then_some(Rtp::Rtp)
}

pub(super) fn rtp_udp(flow: &FlowCtx, d: &[u8]) -> Match {
    // Not on the ports of protocols whose first byte looks alike.
    if flow.dst_port <= 1023
        || [5353, 5355, 9600].contains(&flow.dst_port)
        || either_port(flow, 30303)
    {
        return Match::No;
    }
    match rtp_kind(d) {
        Some(Rtp::Rtp) => Match::Count(RTP_PACKETS),
        _ => Match::No,
    }
}

pub(super) fn rtcp_udp(flow: &FlowCtx, d: &[u8]) -> Match {
    if flow.dst_port <= 1023 {
        return Match::No;
    }
    match rtp_kind(d) {
        Some(Rtp::Rtcp) => Match::Count(RTCP_PACKETS),
        _ => Match::No,
    }
}

pub(super) fn skinny(_: &FlowCtx, d: &[u8]) -> Match {
    // Little-endian length (after 8 bytes), header version, message id.
    if d.len() < 12 {
        return Match::No;
    }
    let le = |at: usize| u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
    let (len, version, id) = (le(0) as usize, le(4), le(8));
    yes(len + 8 == d.len()
        && matches!(version, 0x00 | 0x0a | 0x0b | 0x0f | 0x10..=0x16)
        && matches!(id, 0..=0x9f | 0x100..=0x160 | 0x8000 | 0x8100..=0x8101))
}

pub(super) fn h323(flow: &FlowCtx, d: &[u8]) -> Match {
    // TPKT-framed H.245 (object identifier 0.0.8.245) or Q.931 (H.225.0);
    // RAS on UDP 1719.
    let tpkt = d.len() > 20 && d[0] == 3 && d[1] == 0 && be16(d, 2) == Some(d.len());
    if tpkt {
        let h245 = d[7] == 0x06 && be32(d, 8) == Some(0x0008_8175);
        let q931 = d[4] == 0x08 && d[5] & 0x0f <= 3;
        return yes(h245 || q931);
    }
    yes(either_port(flow, 1719) && d.len() > 20 && d[4] == 0x06 && be32(d, 5) == Some(0x0008_914a))
}

pub(super) fn rtsp(_: &FlowCtx, d: &[u8]) -> Match {
    // A request line ending in RTSP/1.0, or a response (methods and the
    // version are upper-case words).
    if !d.first().is_some_and(u8::is_ascii_uppercase) {
        return Match::No;
    }
    let head = &d[..d.len().min(512)];
    let line = head
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or(head);
    yes(starts_ci(line, b"RTSP/1.0")
        || (line.len() > 9 && line[line.len() - 8..].eq_ignore_ascii_case(b"RTSP/1.0")))
}

pub(super) fn zoom(flow: &FlowCtx, d: &[u8]) -> Match {
    // Zoom's media servers (8801-8810): the SFU header's first packets.
    let sfu = (8801..=8810).contains(&flow.src_port) || (8801..=8810).contains(&flow.dst_port);
    if sfu && d.len() > 8 && matches!(&d[..3], [1 | 2, 0, 2 | 3]) {
        return Match::Yes;
    }
    if sfu && d.len() > 8 && matches!(d[0], 3..=5) {
        return Match::Count(4);
    }
    // Peer to peer: 1f 02 01, an address and a UUID with their lengths, four zero bytes.
    if d.len() > 36 && d.starts_with(&[0x1f, 0x02, 0x01]) && d[d.len() - 4..] == [0, 0, 0, 0] {
        let ip_len = be32(d, 24).unwrap_or(usize::MAX);
        if let Some(uuid_at) = ip_len.checked_add(28)
            && let Some(uuid_len) = be32(d, uuid_at)
        {
            return yes(uuid_at + 4 + uuid_len + 4 == d.len());
        }
    }
    Match::No
}

pub(super) fn telegram_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // Telegram's call relays: exactly twelve 0xff bytes at the first 0xff.
    if d.len() < 40 {
        return Match::No;
    }
    let Some(at) = d.iter().position(|b| *b == 0xff) else {
        return Match::No;
    };
    yes(d[at..].iter().take_while(|b| **b == 0xff).count() == TELEGRAM_FF_RUN)
}

pub(super) fn tailscale(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() > TAILSCALE_MAGIC.len() && d.starts_with(TAILSCALE_MAGIC))
}

pub(super) fn nomachine_udp(_: &FlowCtx, d: &[u8]) -> Match {
    let le16 = |at: usize| u16::from_le_bytes([d[at], d[at + 1]]);
    yes(d.len() > 9 && le16(2) == 1 && usize::from(le16(4)) == d.len() && d[8] == 0 && d[9] == 0)
}

/// BFCP's common header length; its payload length counts 4-byte words after it.
const BFCP_HEADER: usize = 12;

pub(super) fn bfcp(flow: &FlowCtx, d: &[u8]) -> Match {
    // One message per packet: version 1 (2 on UDP, RFC 8855), reserved bits
    // 0, primitive 1-18, and a length that is exactly the packet's.
    let version = d.first().map(|b| b >> 5);
    let version_ok = version == Some(1) || (version == Some(2) && flow.protocol == 17);
    first(
        d.len() >= BFCP_HEADER
            && version_ok
            && d[0] & 0x03 == 0
            && (1..=18).contains(&d[1])
            && be16(d, 2).map(|w| BFCP_HEADER + 4 * w) == Some(d.len()),
    )
}

/// NOE's (Alcatel-Lucent IP phones) long-message opening: 0x0006 and "bl".
const NOE_OPENING: &[u8] = &[0x00, 0x06, 0x62, 0x6c];

pub(super) fn noe(_: &FlowCtx, d: &[u8]) -> Match {
    // A one-byte keep-alive (4 or 5), a 5- or 12-byte 07 00 xx 00 message,
    // or a long message with its opening.
    first(
        matches!(d, [4] | [5])
            || (matches!(d.len(), 5 | 12) && d[0] == 7 && d[1] == 0 && d[2] != 0 && d[3] == 0)
            || (d.len() >= 25 && d.starts_with(NOE_OPENING)),
    )
}

/// KakaoTalk's call servers (KINX, 1.201.0.0/16), as nDPI requires.
const KAKAOTALK_CALL_NET: [u8; 2] = [1, 201];

pub(super) fn kakaotalk_voice(flow: &FlowCtx, d: &[u8]) -> Match {
    // An RTCP sender report's opening (81 c8 00 0c), of which nDPI asks any
    // one byte, to or from KakaoTalk's network.
    first(
        flow.ip_version == 4
            && (flow.src.starts_with(&KAKAOTALK_CALL_NET)
                || flow.dst.starts_with(&KAKAOTALK_CALL_NET))
            && d.len() >= 4
            && (d[0] == 0x81 || d[1] == 0xc8 || d[2] == 0 || d[3] == 0x0c),
    )
}

/// Whether a datagram is one of the call messages nDPI knows LINE's relays
/// by (lengths and openings, or the first word of the short ones).
fn line_call_message(d: &[u8]) -> bool {
    let word = be32(d, 0);
    (d.len() == 110 && d.starts_with(&[0xb6, 0x18, 0x00, 0x6a]))
        || (d.len() >= 738 && matches!(d[0], 0xda | 0xdb) && d[4] == 6 && d[5] == 2)
        || (d.len() >= 150
            && matches!(d[0], 0xd8 | 0xd9)
            && matches!(d[1] & 0xf0, 0x90 | 0xd0 | 0xe0)
            && d[4] == 6
            && d[5] == 2)
        || (d.len() == 46 && word == Some(0xb613_0006))
        || (d.len() == 8 && word == Some(0xb607_0004))
        || (d.len() == 16 && word == Some(0xb609_000c))
        || (d.len() >= 2 && d[0] == 0xd0 && matches!(d[1], 0xb3 | 0xb4 | 0xda | 0xdb))
}

pub(super) fn line_call(flow: &FlowCtx, d: &[u8]) -> Match {
    // One of LINE's call messages to or from an address nDPI lists as
    // LINE's (IPv4). (nDPI's other way, consecutive counters in byte 3 of
    // eight datagrams, is not followed here.)
    if flow.ip_version != 4 || !line_call_message(d) {
        return Match::No;
    }
    let line = crate::registry::known().line;
    let listed = |a: &exitflow_decode::Addr| crate::iplist::lookup(4, a) == Some(line);
    yes(listed(&flow.dst) || listed(&flow.src))
}
