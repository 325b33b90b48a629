//! Live capture on Linux: `AF_PACKET` sockets with a `TPACKET_V3`
//! memory-mapped receive ring, joined in a `PACKET_FANOUT` group so that
//! several worker threads share one interface, each flow on one worker.
//!
//! This is the one module of exitflow with `unsafe` code: system calls and
//! the ring shared with the kernel. Each block says why it is sound. Parsing
//! of what the kernel wrote is safe code over a byte slice, bounds-checked,
//! so a kernel ABI surprise is an error or a skipped packet, never a wild read.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{LinkType, Packet};

/// Size of one ring block (a power of two, a multiple of the page size).
pub const DEFAULT_RING_BLOCK_SIZE: u32 = 1 << 20;
/// Blocks per ring: 64 × 1 MiB = 64 MiB of ring per worker.
pub const DEFAULT_RING_BLOCKS: u32 = 64;
/// A block is handed to user space at the latest this long after its first packet.
pub const DEFAULT_BLOCK_TIMEOUT_MS: u32 = 50;
/// Largest ring accepted per socket.
pub const MAX_RING_BYTES: u64 = 1 << 30;

// Linux UAPI values (linux/if_packet.h, linux/if_ether.h, linux/if_arp.h);
// they are ABI and never change.
const SOL_PACKET: libc::c_int = 263;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_FANOUT: libc::c_int = 18;
const TPACKET_V3: libc::c_int = 2;
const PACKET_FANOUT_DATA: libc::c_int = 22;
const PACKET_FANOUT_CBPF: u32 = 6;
const PACKET_MR_PROMISC: libc::c_ushort = 1;
const ETH_P_ALL: u16 = 0x0003;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
/// Offset of `hdr.bh1.block_status` in `struct tpacket_block_desc`.
const BLOCK_STATUS: usize = 8;
/// Offsets of `num_pkts` and `offset_to_first_pkt` in the block descriptor.
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
/// `sizeof(struct tpacket3_hdr)`.
const TPACKET3_HDR_LEN: usize = 48;

#[repr(C)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

#[repr(C)]
struct PacketMreq {
    mr_ifindex: libc::c_int,
    mr_type: libc::c_ushort,
    mr_alen: libc::c_ushort,
    mr_address: [u8; 8],
}

#[repr(C)]
struct IfreqHwaddr {
    ifr_name: [libc::c_char; libc::IFNAMSIZ],
    ifr_hwaddr: libc::sockaddr,
    _pad: [u8; 8],
}

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

/// One `AF_PACKET` socket with its receive ring, bound to an interface.
pub struct LiveSocket {
    fd: OwnedFd,
    ring: NonNull<u8>,
    ring_len: usize,
    block_size: usize,
    blocks: usize,
    next: usize,
    link_type: LinkType,
    interface: String,
    stats: KernelStats,
    scratch: Vec<u8>,
}

// SAFETY: the mapping belongs to this value alone (no other handle to it
// exists) and is only touched through `&mut self`; moving it to another
// thread moves that exclusive ownership with it.
unsafe impl Send for LiveSocket {}

fn os(interface: &str, what: &'static str) -> LiveError {
    let error = io::Error::last_os_error();
    let hint = match error.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (live capture needs root or the CAP_NET_RAW capability)"
        }
        Some(libc::ENOMEM) => " (the ring is too large for this machine's limits)",
        _ => "",
    };
    LiveError::Os {
        interface: interface.to_owned(),
        what,
        error,
        hint,
    }
}

fn setsockopt<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
    interface: &str,
    what: &'static str,
) -> Result<(), LiveError> {
    // SAFETY: `value` is a live, initialised `T` and the length passed is
    // exactly its size; the kernel only reads it during the call.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(os(interface, what));
    }
    Ok(())
}

impl LiveSocket {
    /// Opens a socket on `interface` with a receive ring; with `fanout_group`
    /// it joins that fanout group (hash mode: both directions of a flow land
    /// on the same socket).
    pub fn open(
        interface: &str,
        cfg: &RingConfig,
        fanout_group: Option<u16>,
    ) -> Result<LiveSocket, LiveError> {
        LiveSocket::open_filtered(interface, cfg, fanout_group, None)
    }

    /// [`LiveSocket::open`] with a classic BPF socket filter (from
    /// `filter::compile` with the `libpcap` feature), attached before the
    /// socket is bound so that no unfiltered packet slips in.
    pub fn open_filtered(
        interface: &str,
        cfg: &RingConfig,
        fanout_group: Option<u16>,
        filter: Option<&[libc::sock_filter]>,
    ) -> Result<LiveSocket, LiveError> {
        let page = 4096u32;
        if !cfg.block_size.is_power_of_two() || cfg.block_size < 16 * page {
            return Err(LiveError::BadRing(format!(
                "block size {} is not a power of two of at least 64 KiB",
                cfg.block_size
            )));
        }
        let ring_len = u64::from(cfg.block_size) * u64::from(cfg.blocks);
        if cfg.blocks < 2 || ring_len > MAX_RING_BYTES {
            return Err(LiveError::BadRing(format!(
                "{} blocks of {} bytes: need at least 2 blocks and at most {MAX_RING_BYTES} bytes",
                cfg.blocks, cfg.block_size
            )));
        }
        if interface.is_empty() || interface.len() >= libc::IFNAMSIZ {
            return Err(LiveError::NoSuchInterface(interface.to_owned()));
        }
        let name = CString::new(interface)
            .map_err(|_| LiveError::NoSuchInterface(interface.to_owned()))?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(LiveError::NoSuchInterface(interface.to_owned()));
        }
        // Protocol 0: the socket receives nothing until it is bound below, so
        // no packet of another interface slips in before the bind.
        // SAFETY: a plain socket(2) call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os(interface, "socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a descriptor just returned to us and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let link_type = link_type_of(hardware_type(&fd, &name, interface)?, interface)?;

        setsockopt(
            &fd,
            SOL_PACKET,
            PACKET_VERSION,
            &TPACKET_V3,
            interface,
            "PACKET_VERSION",
        )?;
        let frame_size = 2048u32;
        let req = TpacketReq3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.blocks,
            tp_frame_size: frame_size,
            tp_frame_nr: cfg.block_size / frame_size * cfg.blocks,
            tp_retire_blk_tov: cfg.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(
            &fd,
            SOL_PACKET,
            PACKET_RX_RING,
            &req,
            interface,
            "PACKET_RX_RING",
        )?;
        let ring_len = ring_len as usize;
        // SAFETY: maps the ring the kernel has just allocated for this socket,
        // with exactly the length requested; MAP_FAILED is checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(os(interface, "mmap of the ring"));
        }
        let ring = NonNull::new(p.cast::<u8>()).ok_or_else(|| os(interface, "mmap"))?;
        // From here on `Drop` unmaps the ring on every path.
        let sock = LiveSocket {
            fd,
            ring,
            ring_len,
            block_size: cfg.block_size as usize,
            blocks: cfg.blocks as usize,
            next: 0,
            link_type,
            interface: interface.to_owned(),
            stats: KernelStats::default(),
            scratch: Vec::new(),
        };

        if let Some(prog) = filter {
            let fprog = libc::sock_fprog {
                len: prog.len() as libc::c_ushort,
                filter: prog.as_ptr().cast_mut(),
            };
            // The kernel copies the program during the call; `prog` outlives it.
            setsockopt(
                &sock.fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                &fprog,
                interface,
                "SO_ATTACH_FILTER",
            )?;
        }
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as libc::c_int;
        // SAFETY: `sll` is an initialised sockaddr_ll and the length is its size.
        let r = unsafe {
            libc::bind(
                sock.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(os(interface, "bind"));
        }
        if cfg.promiscuous {
            let mreq = PacketMreq {
                mr_ifindex: ifindex as libc::c_int,
                mr_type: PACKET_MR_PROMISC,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(
                &sock.fd,
                SOL_PACKET,
                PACKET_ADD_MEMBERSHIP,
                &mreq,
                interface,
                "promiscuous mode",
            )?;
        }
        if let Some(group) = fanout_group {
            let arg = u32::from(group) | (PACKET_FANOUT_CBPF << 16);
            setsockopt(
                &sock.fd,
                SOL_PACKET,
                PACKET_FANOUT,
                &arg,
                interface,
                "PACKET_FANOUT",
            )?;
            let prog = steering_program();
            let fprog = libc::sock_fprog {
                len: prog.len() as libc::c_ushort,
                filter: prog.as_ptr().cast_mut(),
            };
            // The kernel copies the program during the call; `prog` outlives it.
            setsockopt(
                &sock.fd,
                SOL_PACKET,
                PACKET_FANOUT_DATA,
                &fprog,
                interface,
                "PACKET_FANOUT_DATA (steering program)",
            )?;
        }
        Ok(sock)
    }

    /// The link type of the frames delivered.
    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    fn block_status(&self, block: usize) -> &AtomicU32 {
        debug_assert!(block < self.blocks);
        // SAFETY: `block < self.blocks`, so the word lies inside the mapping,
        // which lives as long as `self`. The mapping is page-aligned and
        // blocks are a multiple of the page size apart, so the word is 4-byte
        // aligned. The kernel updates this word concurrently, which is why it
        // is only ever accessed atomically.
        unsafe {
            AtomicU32::from_ptr(
                self.ring
                    .as_ptr()
                    .add(block * self.block_size + BLOCK_STATUS)
                    .cast::<u32>(),
            )
        }
    }

    fn ready(&self) -> bool {
        self.block_status(self.next).load(Ordering::Acquire) & TP_STATUS_USER != 0
    }

    /// Waits up to `timeout` for the next block of packets and passes each
    /// to `f`, then returns the block to the kernel. Returns the number of
    /// packets delivered: 0 when the wait timed out or a signal arrived.
    pub fn next_block(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(Packet<'_>),
    ) -> Result<usize, LiveError> {
        if !self.ready() {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: one valid pollfd, count 1.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(0);
                }
                return Err(LiveError::Os {
                    interface: self.interface.clone(),
                    what: "poll",
                    error: e,
                    hint: "",
                });
            }
            if !self.ready() {
                if r > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    // The interface went away or down: report it rather than
                    // spin on a socket that will never be readable again.
                    return Err(self.socket_error());
                }
                return Ok(0);
            }
        }
        let start = self.next * self.block_size;
        // SAFETY: the acquire load in `ready` saw TP_STATUS_USER: the kernel
        // has handed this block to user space and does not write to it until
        // we store TP_STATUS_KERNEL below, after the slice's last use. The
        // range lies inside the mapping (`next < blocks`).
        let block: &[u8] =
            unsafe { std::slice::from_raw_parts(self.ring.as_ptr().add(start), self.block_size) };
        let n = parse_block(block, self.link_type, &mut self.scratch, &mut f);
        self.block_status(self.next)
            .store(TP_STATUS_KERNEL, Ordering::Release);
        self.next = (self.next + 1) % self.blocks;
        Ok(n)
    }

    fn socket_error(&self) -> LiveError {
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` is a writable int and `len` its size.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        let error = if r == 0 && err != 0 {
            io::Error::from_raw_os_error(err)
        } else {
            io::Error::other("the socket reports an error or hang-up")
        };
        LiveError::Os {
            interface: self.interface.clone(),
            what: "capture",
            error,
            hint: " (the interface went down or was removed)",
        }
    }

    /// The kernel's counters for this socket, accumulated since it was opened
    /// (the kernel resets its own on every read).
    pub fn kernel_stats(&mut self) -> Result<KernelStats, LiveError> {
        let mut st = TpacketStatsV3::default();
        let mut len = std::mem::size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `st` is writable and `len` is its size; the kernel writes at most `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_STATISTICS,
                (&mut st as *mut TpacketStatsV3).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(os(&self.interface, "PACKET_STATISTICS"));
        }
        self.stats.packets += u64::from(st.tp_packets);
        self.stats.drops += u64::from(st.tp_drops);
        self.stats.freeze_q += u64::from(st.tp_freeze_q_cnt);
        Ok(self.stats)
    }
}

impl Drop for LiveSocket {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`; no slice into it
        // outlives `next_block`, so nothing refers to it any more.
        unsafe {
            libc::munmap(self.ring.as_ptr().cast(), self.ring_len);
        }
    }
}

/// The classic BPF program that picks a fanout member for each packet: a
/// hash of the XOR of the source and destination addresses (IPv4 or IPv6,
/// read relative to the network header so received and sent packets agree).
/// XOR makes it symmetric, so both directions of every flow (and tunnels, by
/// their outer addresses) reach the same worker. The kernel's own flow hash
/// is not symmetric for every packet (it split IPv4-in-IPv6 flows across
/// workers in the corpus replay), hence this program. Frames whose network
/// header is not IP (QinQ, MPLS, PPPoE, ARP, ...) all go to the first worker.
pub fn steering_program() -> Vec<libc::sock_filter> {
    const LD_B_ABS: u16 = 0x30;
    const LD_H_ABS: u16 = 0x28;
    const LD_W_ABS: u16 = 0x20;
    const TAX: u16 = 0x07;
    const XOR_X: u16 = 0xac;
    const RSH_K: u16 = 0x74;
    const MUL_K: u16 = 0x24;
    const JEQ_K: u16 = 0x15;
    const JA: u16 = 0x05;
    const RET_A: u16 = 0x16;
    const RET_K: u16 = 0x06;
    // SKF_NET_OFF: loads relative to the network header.
    const NET: u32 = (-0x0010_0000i32) as u32;
    // SKF_AD_OFF + SKF_AD_PROTOCOL: skb->protocol.
    const PROTO: u32 = (-0x1000i32) as u32;
    // Jump targets, resolved once the program is laid out.
    #[derive(Clone, Copy, PartialEq)]
    enum L {
        Next,
        V6,
        Mix,
        Ret0,
    }
    let mut prog: Vec<(u16, L, L, u32)> = vec![
        (LD_H_ABS, L::Next, L::Next, PROTO),
        (JEQ_K, L::Next, L::V6, 0x0800),
        (LD_B_ABS, L::Next, L::Next, NET),
        (RSH_K, L::Next, L::Next, 4),
        (JEQ_K, L::Next, L::Ret0, 4),
        (LD_W_ABS, L::Next, L::Next, NET + 12),
        (TAX, L::Next, L::Next, 0),
        (LD_W_ABS, L::Next, L::Next, NET + 16),
        (XOR_X, L::Next, L::Next, 0),
        (JA, L::Mix, L::Next, 0),
    ];
    let v6 = prog.len();
    prog.extend([
        (JEQ_K, L::Next, L::Ret0, 0x86DD),
        (LD_B_ABS, L::Next, L::Next, NET),
        (RSH_K, L::Next, L::Next, 4),
        (JEQ_K, L::Next, L::Ret0, 6),
        (LD_W_ABS, L::Next, L::Next, NET + 8),
    ]);
    for word in 1..8u32 {
        prog.push((TAX, L::Next, L::Next, 0));
        prog.push((LD_W_ABS, L::Next, L::Next, NET + 8 + 4 * word));
        prog.push((XOR_X, L::Next, L::Next, 0));
    }
    let mix = prog.len();
    prog.push((MUL_K, L::Next, L::Next, 0x9E37_79B1));
    prog.push((RSH_K, L::Next, L::Next, 16));
    prog.push((RET_A, L::Next, L::Next, 0));
    let ret0 = prog.len();
    prog.push((RET_K, L::Next, L::Next, 0));
    let at = |l: L, i: usize| -> usize {
        let target = match l {
            L::Next => i + 1,
            L::V6 => v6,
            L::Mix => mix,
            L::Ret0 => ret0,
        };
        target - (i + 1)
    };
    prog.iter()
        .enumerate()
        .map(|(i, &(code, jt, jf, k))| {
            if code == JA {
                libc::sock_filter {
                    code,
                    jt: 0,
                    jf: 0,
                    k: at(jt, i) as u32,
                }
            } else {
                libc::sock_filter {
                    code,
                    jt: at(jt, i) as u8,
                    jf: at(jf, i) as u8,
                    k,
                }
            }
        })
        .collect()
}

/// The link type live frames of `interface` have (to compile a filter for it).
pub fn interface_link_type(interface: &str) -> Result<LinkType, LiveError> {
    if interface.is_empty() || interface.len() >= libc::IFNAMSIZ {
        return Err(LiveError::NoSuchInterface(interface.to_owned()));
    }
    let name =
        CString::new(interface).map_err(|_| LiveError::NoSuchInterface(interface.to_owned()))?;
    // SAFETY: a plain socket(2) call; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(os(interface, "socket(AF_PACKET)"));
    }
    // SAFETY: `raw` is a descriptor just returned to us and owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    link_type_of(hardware_type(&fd, &name, interface)?, interface)
}

fn link_type_of(arphrd: u16, interface: &str) -> Result<LinkType, LiveError> {
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

fn hardware_type(fd: &OwnedFd, name: &CString, interface: &str) -> Result<u16, LiveError> {
    // SAFETY: the struct is plain old data; all-zero is a valid value.
    let mut ifr: IfreqHwaddr = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads the NUL-terminated name (shorter than
    // IFNAMSIZ, checked by the caller) and writes a sockaddr into `ifr`,
    // which is at least as large as the kernel's struct ifreq.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut ifr) };
    if r < 0 {
        return Err(os(interface, "SIOCGIFHWADDR"));
    }
    Ok(ifr.ifr_hwaddr.sa_family)
}

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

#[cfg(test)]
mod tests {
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
