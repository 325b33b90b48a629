//! Packet sources for exitflow.
//!
//! [`CaptureReader`] streams packets out of a pcap or pcapng file (or any
//! [`std::io::Read`], such as standard input) in constant memory. The format is
//! detected from the magic number, never from the file name: the test corpus
//! has `.pcap` files that are pcapng and the other way round.
//!
//! [`live`] (Linux) captures from a network interface through a memory-mapped
//! `AF_PACKET` ring and gives up privileges once its sockets are open: the
//! only `unsafe` code in exitflow, confined to those modules (and the
//! optional libpcap filter compiler).
#![deny(unsafe_code)]

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

#[cfg(unix)]
pub mod disk;
#[cfg(all(target_os = "linux", feature = "libpcap"))]
pub mod filter;
#[cfg(target_os = "linux")]
pub mod live;
#[cfg(target_os = "linux")]
mod privileges;

/// Initial read buffer; large enough for any ordinary frame plus headers.
pub const DEFAULT_READ_BUFFER: usize = 1 << 20;
/// Hard cap on the read buffer: a block larger than this is an error, not an
/// allocation an attacker (or a corrupt file) controls.
pub const MAX_READ_BUFFER: usize = 64 << 20;

/// Link-layer type of a packet (pcap `LINKTYPE_*` value, kept as an integer so
/// unknown values survive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback (`DLT_NULL`): 4-byte host-order address family.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP in HDLC-like framing (RFC 1662) or bare PPP.
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (BSD/OpenBSD `DLT_RAW` value 12).
    pub const RAW_12: LinkType = LinkType(12);
    /// Raw IP (value 14 on some BSDs).
    pub const RAW_14: LinkType = LinkType(14);
    /// PPP in HDLC-like framing (`DLT_PPP_SERIAL`).
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// Raw IPv4 or IPv6, version from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// Cisco HDLC.
    pub const C_HDLC: LinkType = LinkType(104);
    /// OpenBSD loopback: 4-byte network-order address family.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// IEEE 802.11 frames behind a radiotap header.
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture time, microseconds since the Unix epoch.
    pub ts_us: u64,
    /// Length of the packet on the wire (pcap `len`), which may exceed `data.len()`.
    pub orig_len: u32,
    /// Link-layer type of `data`.
    pub link_type: LinkType,
    /// The captured bytes (pcap `caplen` of them).
    pub data: &'a [u8],
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("{path}")]
    Io {
        /// The capture's path.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The first bytes are neither a pcap nor a pcapng header.
    #[error("{path}: not a pcap or pcapng file (unrecognised magic number)")]
    NotACapture {
        /// The capture's path.
        path: PathBuf,
    },
    /// The file is empty.
    #[error("{path}: empty file")]
    Empty {
        /// The capture's path.
        path: PathBuf,
    },
    /// A block is malformed beyond recovery; packets before it were delivered.
    #[error("{path}: malformed data at byte offset {offset}: {reason}")]
    Malformed {
        /// The capture's path.
        path: PathBuf,
        /// Byte offset of the block that failed to parse.
        offset: u64,
        /// What the parser said.
        reason: String,
    },
    /// A single block is larger than [`MAX_READ_BUFFER`].
    #[error("{path}: block at byte offset {offset} is larger than {MAX_READ_BUFFER} bytes")]
    BlockTooLarge {
        /// The capture's path.
        path: PathBuf,
        /// Byte offset of the block.
        offset: u64,
    },
}

/// Counters kept while reading one capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Packets delivered.
    pub packets: u64,
    /// Bytes of file consumed.
    pub bytes_read: u64,
    /// Packets referring to an interface that was never described (skipped).
    pub unknown_interface: u64,
    /// The file ended inside a block (a truncated capture); counted, not fatal.
    pub truncated_tail: bool,
}

struct Interface {
    link_type: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    offset_s: i64,
}

/// Streaming pcap/pcapng reader.
pub struct CaptureReader<'r> {
    path: PathBuf,
    inner: Box<dyn PcapReaderIterator + Send + 'r>,
    /// Classic pcap: link type and whether timestamps are nanoseconds.
    legacy: Option<(LinkType, bool)>,
    interfaces: Vec<Interface>,
    pending: usize,
    buffer_size: usize,
    stats: ReadStats,
    done: bool,
}

impl CaptureReader<'static> {
    /// Opens a capture file; `-` reads standard input.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        if path.as_os_str() == "-" {
            return CaptureReader::from_reader(path, std::io::stdin());
        }
        let f = File::open(path).map_err(|source| CaptureError::Io {
            path: path.to_owned(),
            source,
        })?;
        CaptureReader::from_reader(path, f)
    }
}

impl<'r> CaptureReader<'r> {
    /// Reads a capture from any byte stream; `path` is used in error messages.
    pub fn from_reader<R: Read + Send + 'r>(path: &Path, reader: R) -> Result<Self, CaptureError> {
        let path = path.to_owned();
        let inner = match pcap_parser::create_reader(DEFAULT_READ_BUFFER, reader) {
            Ok(r) => r,
            Err(PcapError::Eof) => return Err(CaptureError::Empty { path }),
            Err(PcapError::ReadError) => {
                return Err(CaptureError::Io {
                    path,
                    source: std::io::Error::other("read failed"),
                });
            }
            Err(_) => return Err(CaptureError::NotACapture { path }),
        };
        Ok(CaptureReader {
            path,
            inner,
            legacy: None,
            interfaces: Vec::new(),
            pending: 0,
            buffer_size: DEFAULT_READ_BUFFER,
            stats: ReadStats::default(),
            done: false,
        })
    }

    /// The path this reader was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters so far.
    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// Delivers every packet to `f` until the capture ends or `f` returns
    /// `false`.
    ///
    /// A file that ends inside a block ends the capture normally and sets
    /// [`ReadStats::truncated_tail`]; a malformed block is an error, after the
    /// packets before it were delivered.
    pub fn for_each(&mut self, mut f: impl FnMut(Packet<'_>) -> bool) -> Result<(), CaptureError> {
        while !self.done {
            if self.pending > 0 {
                self.inner.consume(self.pending);
                self.stats.bytes_read += self.pending as u64;
                self.pending = 0;
            }
            let step = match self.inner.next() {
                Ok((len, block)) => {
                    self.pending = len;
                    let pkt = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            self.legacy =
                                Some((LinkType(h.network.0 as u32), h.is_nanosecond_precision()));
                            None
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let (lt, nanos) = self.legacy.unwrap_or((LinkType::ETHERNET, false));
                            let frac_us = if nanos {
                                u64::from(b.ts_usec) / 1000
                            } else {
                                u64::from(b.ts_usec)
                            };
                            let caplen = (b.caplen as usize).min(b.data.len());
                            Some(Packet {
                                ts_us: u64::from(b.ts_sec) * 1_000_000 + frac_us,
                                orig_len: b.origlen,
                                link_type: lt,
                                data: &b.data[..caplen],
                            })
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            // A new section restarts the interface numbering.
                            self.interfaces.clear();
                            None
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            self.interfaces.push(Interface {
                                link_type: LinkType(idb.linktype.0 as u32),
                                resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                                offset_s: idb.ts_offset(),
                            });
                            None
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            match self.interfaces.get(epb.if_id as usize) {
                                Some(ifc) => {
                                    let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                    let secs = (ts / ifc.resolution) as i64 + ifc.offset_s;
                                    let frac = u128::from(ts % ifc.resolution);
                                    let frac_us =
                                        (frac * 1_000_000 / u128::from(ifc.resolution)) as u64;
                                    let caplen = (epb.caplen as usize).min(epb.data.len());
                                    Some(Packet {
                                        ts_us: (secs.max(0) as u64) * 1_000_000 + frac_us,
                                        orig_len: epb.origlen,
                                        link_type: ifc.link_type,
                                        data: &epb.data[..caplen],
                                    })
                                }
                                None => {
                                    self.stats.unknown_interface += 1;
                                    None
                                }
                            }
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            match self.interfaces.first() {
                                // Simple packet blocks carry no timestamp.
                                Some(ifc) => {
                                    let caplen = (spb.origlen as usize).min(spb.data.len());
                                    Some(Packet {
                                        ts_us: 0,
                                        orig_len: spb.origlen,
                                        link_type: ifc.link_type,
                                        data: &spb.data[..caplen],
                                    })
                                }
                                None => {
                                    self.stats.unknown_interface += 1;
                                    None
                                }
                            }
                        }
                        PcapBlockOwned::NG(_) => None,
                    };
                    if let Some(pkt) = pkt {
                        self.stats.packets += 1;
                        if !f(pkt) {
                            return Ok(());
                        }
                    }
                    continue;
                }
                Err(PcapError::Eof) => Step::End,
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::BufferTooSmall) => Step::Grow,
                Err(PcapError::UnexpectedEof) => {
                    self.stats.truncated_tail = true;
                    Step::End
                }
                Err(e) => Step::Fail(e.to_string()),
            };
            match step {
                Step::End => self.done = true,
                Step::Refill => self.refill()?,
                Step::Grow => {
                    let want = self.buffer_size * 2;
                    if want > MAX_READ_BUFFER || !self.inner.grow(want) {
                        self.done = true;
                        return Err(CaptureError::BlockTooLarge {
                            path: self.path.clone(),
                            offset: self.stats.bytes_read,
                        });
                    }
                    self.buffer_size = want;
                    self.refill()?;
                }
                Step::Fail(reason) => {
                    self.done = true;
                    return Err(CaptureError::Malformed {
                        path: self.path.clone(),
                        offset: self.stats.bytes_read,
                        reason,
                    });
                }
            }
        }
        Ok(())
    }

    fn refill(&mut self) -> Result<(), CaptureError> {
        if self.inner.refill().is_err() {
            self.done = true;
            return Err(CaptureError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("read failed"),
            });
        }
        Ok(())
    }
}

enum Step {
    End,
    Refill,
    Grow,
    Fail(String),
}

#[cfg(test)]
mod tests;
