//! Live capture on Linux: `AF_PACKET` sockets with a `TPACKET_V3`
//! memory-mapped receive ring, joined in a `PACKET_FANOUT` group so that
//! several worker threads share one interface, each flow on one worker.
//!
//! The system calls and the ring shared with the kernel are in `sys`, the
//! one place of exitflow with `unsafe` code (each block says why it is
//! sound). Everything else — the settings, the steering program and the
//! parsing of what the kernel wrote (`block`: safe code over a byte slice,
//! bounds-checked, so a kernel ABI surprise is an error or a skipped packet,
//! never a wild read) — is safe code.

use std::io;

use crate::LinkType;

mod block;
mod steer;
mod sys;

pub use block::parse_block;
pub use steer::steering_program;
pub use sys::{LiveSocket, interface_link_type};

/// Size of one ring block (a power of two, a multiple of the page size).
pub const DEFAULT_RING_BLOCK_SIZE: u32 = 1 << 20;
/// Blocks per ring: 64 × 1 MiB = 64 MiB of ring per worker.
pub const DEFAULT_RING_BLOCKS: u32 = 64;
/// A block is handed to user space at the latest this long after its first packet.
pub const DEFAULT_BLOCK_TIMEOUT_MS: u32 = 50;
/// Largest ring accepted per socket.
pub const MAX_RING_BYTES: u64 = 1 << 30;

/// One classic BPF instruction (`struct sock_filter`), as socket filters take them.
pub type FilterInsn = libc::sock_filter;

/// Ring settings of a live socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingConfig {
    /// See [`DEFAULT_RING_BLOCK_SIZE`].
    pub block_size: u32,
    /// See [`DEFAULT_RING_BLOCKS`].
    pub blocks: u32,
    /// See [`DEFAULT_BLOCK_TIMEOUT_MS`].
    pub block_timeout_ms: u32,
    /// Put the interface in promiscuous mode (a relay sees its own traffic without it).
    pub promiscuous: bool,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            block_size: DEFAULT_RING_BLOCK_SIZE,
            blocks: DEFAULT_RING_BLOCKS,
            block_timeout_ms: DEFAULT_BLOCK_TIMEOUT_MS,
            promiscuous: false,
        }
    }
}

/// Why live capture failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A system call failed.
    #[error("{interface}: {what}: {error}{hint}")]
    Os {
        /// The interface.
        interface: String,
        /// The operation.
        what: &'static str,
        /// What the kernel said (in the message, so not also a source).
        error: io::Error,
        /// A hint for the usual cause, or empty.
        hint: &'static str,
    },
    /// The interface does not exist (in this network namespace).
    #[error("{0}: no such network interface")]
    NoSuchInterface(String),
    /// The interface's hardware type has no link type exitflow decodes.
    #[error("{interface}: unsupported hardware type {arphrd} (ARPHRD_*)")]
    UnsupportedLink {
        /// The interface.
        interface: String,
        /// Its `ARPHRD_*` type.
        arphrd: u16,
    },
    /// The ring settings are not usable.
    #[error("ring settings: {0}")]
    BadRing(String),
    /// A filter expression did not compile.
    #[error("filter {expression:?}: {why}")]
    BadFilter {
        /// The expression.
        expression: String,
        /// libpcap's message.
        why: String,
    },
    /// Dropping the process's capabilities failed.
    #[error("dropping capabilities: {why}")]
    Capabilities {
        /// What went wrong.
        why: String,
    },
    /// Switching to the unprivileged user failed.
    #[error("dropping privileges to user {user:?}: {why}")]
    Privileges {
        /// The user asked for.
        user: String,
        /// What went wrong.
        why: String,
    },
}

pub use crate::privileges::{Capabilities, drop_capabilities, drop_privileges};

/// Kernel counters of one socket (`PACKET_STATISTICS`), accumulated since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets the kernel passed to the socket, including those it dropped.
    pub packets: u64,
    /// Packets dropped because the ring was full.
    pub drops: u64,
    /// Times the ring was frozen (full).
    pub freeze_q: u64,
}

pub(crate) fn link_type_of(arphrd: u16, interface: &str) -> Result<LinkType, LiveError> {
    match arphrd {
        // Ethernet, and loopback (which carries Ethernet headers).
        1 | 772 => Ok(LinkType::ETHERNET),
        // No link header: tun/WireGuard (NONE), PPP, raw IP, IP tunnels.
        0xFFFE | 512 | 519 | 768 | 769 | 776 | 778 => Ok(LinkType::RAW),
        _ => Err(LiveError::UnsupportedLink {
            interface: interface.to_owned(),
            arphrd,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::block::*;
    use super::*;

    fn block_with(packets: &[(&[u8], u32, Option<u16>)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let first = 48usize;
        b[BLOCK_NUM_PKTS..BLOCK_NUM_PKTS + 4]
            .copy_from_slice(&(packets.len() as u32).to_ne_bytes());
        b[BLOCK_FIRST_PKT..BLOCK_FIRST_PKT + 4].copy_from_slice(&(first as u32).to_ne_bytes());
        let mut off = first;
        for (i, (data, len, vlan)) in packets.iter().enumerate() {
            let mac = 64usize;
            let size = (mac + data.len()).next_multiple_of(16);
            let next = if i + 1 == packets.len() { 0 } else { size };
            let h = &mut b[off..off + 48];
            h[0..4].copy_from_slice(&(next as u32).to_ne_bytes());
            h[4..8].copy_from_slice(&7u32.to_ne_bytes());
            h[8..12].copy_from_slice(&5000u32.to_ne_bytes());
            h[12..16].copy_from_slice(&(data.len() as u32).to_ne_bytes());
            h[16..20].copy_from_slice(&len.to_ne_bytes());
            let mut status = 0u32;
            if let Some(tci) = vlan {
                status |= TP_STATUS_VLAN_VALID;
                h[32..36].copy_from_slice(&u32::from(*tci).to_ne_bytes());
            }
            h[20..24].copy_from_slice(&status.to_ne_bytes());
            h[24..26].copy_from_slice(&(mac as u16).to_ne_bytes());
            b[off + mac..off + mac + data.len()].copy_from_slice(data);
            off += size;
        }
        b
    }

    #[test]
    fn a_block_yields_its_packets_with_vlan_tags_put_back() {
        let frame: Vec<u8> = (0..60u8).collect();
        let b = block_with(&[(&frame, 60, None), (&frame[..40], 1514, Some(42))]);
        let mut got = Vec::new();
        let mut scratch = Vec::new();
        let n = parse_block(&b, LinkType::ETHERNET, &mut scratch, &mut |p| {
            got.push((p.ts_us, p.orig_len, p.data.to_vec()))
        });
        assert_eq!(n, 2);
        assert_eq!(got[0], (7_000_005, 60, frame.clone()));
        assert_eq!(got[1].1, 1518);
        assert_eq!(&got[1].2[..12], &frame[..12]);
        assert_eq!(&got[1].2[12..16], &[0x81, 0x00, 0, 42]);
        assert_eq!(&got[1].2[16..], &frame[12..40]);
    }

    #[test]
    fn a_lying_block_is_bounds_checked() {
        let frame = [1u8; 100];
        let mut b = block_with(&[(&frame, 100, None)]);
        // Claim many packets and an offset past the end.
        b[BLOCK_NUM_PKTS..BLOCK_NUM_PKTS + 4].copy_from_slice(&1000u32.to_ne_bytes());
        let first = 48;
        b[first..first + 4].copy_from_slice(&100_000u32.to_ne_bytes());
        let mut n = 0;
        parse_block(&b, LinkType::ETHERNET, &mut Vec::new(), &mut |_| n += 1);
        assert_eq!(n, 1);
        b[first + 12..first + 16].copy_from_slice(&u32::MAX.to_ne_bytes());
        let mut n = 0;
        parse_block(&b, LinkType::ETHERNET, &mut Vec::new(), &mut |_| n += 1);
        assert_eq!(n, 0);
        assert_eq!(
            parse_block(&[0u8; 8], LinkType::ETHERNET, &mut Vec::new(), &mut |_| {}),
            0
        );
    }

    #[test]
    fn the_steering_program_jumps_stay_inside_it() {
        let p = steering_program();
        for (i, ins) in p.iter().enumerate() {
            let class = ins.code & 0x07;
            if class == 0x05 {
                let ja = ins.code == 0x05;
                let targets = if ja {
                    vec![i + 1 + ins.k as usize]
                } else {
                    vec![i + 1 + usize::from(ins.jt), i + 1 + usize::from(ins.jf)]
                };
                for t in targets {
                    assert!(t < p.len(), "instruction {i} jumps out");
                }
            }
        }
        assert_eq!(p.last().unwrap().code, 0x06, "ends in a return");
        assert_eq!(p[p.len() - 2].code, 0x16);
        // Not IPv4: on to the IPv6 test (the instruction after the JA).
        let ja = p.iter().position(|i| i.code == 0x05).unwrap();
        assert_eq!(2 + usize::from(p[1].jf), ja + 1);
        assert_eq!(p[ja + 1].k, 0x86DD);
    }

    #[test]
    fn bad_ring_settings_and_missing_interfaces_are_named() {
        let bad = RingConfig {
            block_size: 1000,
            ..RingConfig::default()
        };
        assert!(matches!(
            LiveSocket::open("lo", &bad, None),
            Err(LiveError::BadRing(_))
        ));
        let e = LiveSocket::open("nonexistent0", &RingConfig::default(), None)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "nonexistent0: no such network interface");
        let e = LiveSocket::open("a-very-long-interface-name", &RingConfig::default(), None)
            .err()
            .unwrap();
        assert!(matches!(e, LiveError::NoSuchInterface(_)));
    }
}
