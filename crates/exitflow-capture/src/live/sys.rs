//! The system calls and the ring shared with the kernel: the one place of
//! exitflow with `unsafe` code. Each block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{
    KernelStats, LiveError, MAX_RING_BYTES, RingConfig, link_type_of, parse_block, steering_program,
};
use crate::{LinkType, Packet};

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
/// Offset of `hdr.bh1.block_status` in `struct tpacket_block_desc`.
const BLOCK_STATUS: usize = 8;

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
