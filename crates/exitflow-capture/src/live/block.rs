//! The packets of one `TPACKET_V3` block, parsed as safe code over the
//! bytes the kernel wrote: every offset is bounds-checked.
use crate::{LinkType, Packet};

pub(super) const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
pub(super) const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
/// Offsets of `num_pkts` and `offset_to_first_pkt` in the block descriptor.
pub(super) const BLOCK_NUM_PKTS: usize = 12;
pub(super) const BLOCK_FIRST_PKT: usize = 16;
/// `sizeof(struct tpacket3_hdr)`.
pub(super) const TPACKET3_HDR_LEN: usize = 48;

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off + 2)
        .map(|s| u16::from_ne_bytes([s[0], s[1]]))
}

/// Walks the packets of one `TPACKET_V3` block (safe code: every offset the
/// kernel wrote is bounds-checked). Returns the packets delivered.
///
/// The kernel strips VLAN tags into the header; they are put back into the
/// frame, as libpcap does, so live frames decode like frames from a file.
pub fn parse_block(
    block: &[u8],
    link_type: LinkType,
    scratch: &mut Vec<u8>,
    f: &mut impl FnMut(Packet<'_>),
) -> usize {
    let (Some(num), Some(first)) = (
        u32_at(block, BLOCK_NUM_PKTS),
        u32_at(block, BLOCK_FIRST_PKT),
    ) else {
        return 0;
    };
    let mut off = first as usize;
    let mut delivered = 0;
    for _ in 0..num {
        let Some(h) = block.get(off..off + TPACKET3_HDR_LEN) else {
            break;
        };
        let next = u32_at(h, 0).unwrap_or(0) as usize;
        let sec = u64::from(u32_at(h, 4).unwrap_or(0));
        let nsec = u64::from(u32_at(h, 8).unwrap_or(0));
        let snaplen = u32_at(h, 12).unwrap_or(0) as usize;
        let len = u32_at(h, 16).unwrap_or(0);
        let status = u32_at(h, 20).unwrap_or(0);
        let mac = usize::from(u16_at(h, 24).unwrap_or(0));
        let tci = u32_at(h, 32).unwrap_or(0) as u16;
        let tpid = u16_at(h, 36).unwrap_or(0);
        if let Some(data) = block.get(off + mac..off + mac + snaplen) {
            let ts_us = sec * 1_000_000 + nsec / 1000;
            if status & TP_STATUS_VLAN_VALID != 0
                && link_type == LinkType::ETHERNET
                && data.len() >= 12
            {
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
                    tpid
                } else {
                    0x8100
                };
                scratch.clear();
                scratch.extend_from_slice(&data[..12]);
                scratch.extend_from_slice(&tpid.to_be_bytes());
                scratch.extend_from_slice(&tci.to_be_bytes());
                scratch.extend_from_slice(&data[12..]);
                f(Packet {
                    ts_us,
                    orig_len: len.saturating_add(4),
                    link_type,
                    data: scratch,
                });
            } else {
                f(Packet {
                    ts_us,
                    orig_len: len,
                    link_type,
                    data,
                });
            }
            delivered += 1;
        }
        if next == 0 {
            break;
        }
        off += next;
    }
    delivered
}
