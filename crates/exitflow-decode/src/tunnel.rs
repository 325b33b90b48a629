//! UDP tunnels: GTP-U, TZSP and CAPWAP data.
use super::*;

/// GTP-U user plane port.
pub const GTP_U_PORT: u16 = 2152;
/// TZSP port.
pub const TZSP_PORT: u16 = 37008;
/// CAPWAP data channel port.
pub const CAPWAP_DATA_PORT: u16 = 5247;

/// Tunnel id of GTP-U packets (NFStream's value: the kind, not the TEID).
pub const TUNNEL_ID_GTP: u32 = 1;
/// Tunnel id of CAPWAP packets.
pub const TUNNEL_ID_CAPWAP: u32 = 2;
/// Tunnel id of TZSP packets.
pub const TUNNEL_ID_TZSP: u32 = 3;

/// Decapsulates a UDP tunnel; `Ok(None)` when the datagram is not one (or
/// does not parse as one, in which case it is metered as plain UDP).
pub(crate) fn udp<'a>(
    outer: &PacketInfo<'a>,
    opts: &DecodeOptions,
    depth: usize,
) -> Result<Option<PacketInfo<'a>>, Skip> {
    let p = outer.payload;
    let is = |port: u16| outer.src_port == port || outer.dst_port == port;
    if is(GTP_U_PORT) {
        // GTPv1, T-PDU (message type 255).
        if p.len() >= 8 && (p[0] >> 5) == 1 && p[1] == 0xff {
            let mut off = 8;
            if p[0] & 0x07 != 0 {
                // Sequence number, N-PDU number and next-extension type.
                off += 4;
                let mut next_ext = p.get(off - 1).copied().unwrap_or(0);
                while next_ext != 0 {
                    let Some(&len) = p.get(off) else {
                        return Ok(None);
                    };
                    if len == 0 {
                        return Ok(None);
                    }
                    off += usize::from(len) * 4;
                    next_ext = match p.get(off - 1) {
                        Some(v) => *v,
                        None => return Ok(None),
                    };
                }
            }
            if off < p.len() && matches!(p[off] >> 4, 4 | 6) {
                let mut inner = decode_ip(&p[off..], opts, depth + 1)?;
                inner.tunnel = Tunnel::Gtp;
                // NFStream keys on the tunnel kind, not the TEID.
                inner.tunnel_id = TUNNEL_ID_GTP;
                return Ok(Some(inner));
            }
        }
        return Ok(None);
    }
    if is(TZSP_PORT) {
        // version 1, type 0 (received) or 1 (transmitted), encapsulated Ethernet.
        if p.len() >= 4 && p[0] == 1 && p[1] <= 1 && be16(p, 2) == 1 {
            let mut off = 4;
            loop {
                match p.get(off) {
                    Some(1) => {
                        off += 1;
                        break;
                    }
                    Some(0) => off += 1,
                    Some(_) => {
                        let Some(&len) = p.get(off + 1) else {
                            return Ok(None);
                        };
                        off += 2 + usize::from(len);
                    }
                    None => return Ok(None),
                }
            }
            let mut vlan = 0;
            if let Ok(ip) = ethernet_to_ip(p.get(off..).unwrap_or(&[]), &mut vlan) {
                let mut inner = decode_ip(ip, opts, depth + 1)?;
                inner.tunnel = Tunnel::Tzsp;
                inner.tunnel_id = TUNNEL_ID_TZSP;
                return Ok(Some(inner));
            }
        }
        return Ok(None);
    }
    if is(CAPWAP_DATA_PORT) && p.len() >= 8 && p[0] == 0 {
        // Preamble version 0; HLEN (5 bits after the preamble) in 4-byte words.
        let hlen = usize::from(p[1] >> 3) * 4;
        let f = p.get(hlen..).unwrap_or(&[]);
        // 802.11 data frame: 24-byte header (26 with QoS), then LLC/SNAP. The frame
        // control field is not trusted: some controllers send it byte-swapped.
        for h in [24, 26] {
            let llc = f.get(h..).unwrap_or(&[]);
            if llc.len() >= 8 && llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03 {
                let mut vlan = 0;
                if let Ok(ip) = ethertype_to_ip(be16(llc, 6), &llc[8..], &mut vlan, 0) {
                    let mut inner = decode_ip(ip, opts, depth + 1)?;
                    inner.tunnel = Tunnel::Capwap;
                    inner.tunnel_id = TUNNEL_ID_CAPWAP;
                    return Ok(Some(inner));
                }
            }
        }
    }
    Ok(None)
}
