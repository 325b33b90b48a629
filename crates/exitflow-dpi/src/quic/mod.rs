//! QUIC: the client's Initial packets are decrypted (their keys derive from
//! public values) to read the TLS ClientHello inside CRYPTO frames — split
//! over packets and reordered, as current browsers send them.
pub(crate) mod gquic;
pub mod parser;

use crate::parse::Parse;
use crate::tls::parser::{ClientHello, HS_CLIENT_HELLO, MAX_HANDSHAKE, client_hello};
use parser::{LongHeader, MAX_DATAGRAM, crypto_frames, decrypt_initial, long_header};

/// Bytes of CRYPTO stream kept per flow (one ClientHello).
pub const MAX_CRYPTO: usize = MAX_HANDSHAKE;
/// Distinct CRYPTO ranges tracked per flow (counter: `QuicState::overflows`).
pub const MAX_RANGES: usize = 32;

/// The server port nDPI 5.0 watches for QUIC met after its handshake
/// (short-header packets only).
pub const SHORT_HEADER_PORT: u16 = 443;
/// The bytes after the first that must repeat in each short-header packet
/// (the destination connection id, whatever its length).
pub const SHORT_HEADER_DCID: usize = 8;
/// The shortest datagram the short-header rule looks at.
pub const SHORT_HEADER_MIN_LEN: usize = 10;
/// Matching datagrams to the server that name the flow QUIC.
pub const SHORT_HEADER_PACKETS: u8 = 3;
/// QUIC's fixed bit (RFC 9000 §17): set in every packet of versions 1 and 2.
pub const FIXED_BIT: u8 = 0x40;

/// What the short-header rule made of a datagram to the server.
#[derive(Debug, PartialEq, Eq)]
pub enum ShortHeader {
    /// The third datagram with the first one's connection id: QUIC.
    Named,
    /// So far every datagram agrees.
    Alive,
    /// A datagram did not: the rule is out for the flow.
    Gone,
}

/// Whether a datagram could be a short-header packet the rule reads (not
/// worth the flow's state otherwise).
pub fn short_header_shaped(d: &[u8]) -> bool {
    d.len() >= SHORT_HEADER_MIN_LEN && d[0] & FIXED_BIT != 0
}

/// nDPI's rule for QUIC met after its handshake (the capture began late,
/// or the Initials were lost): each datagram the client sends to port 443
/// has the fixed bit and the same eight bytes after the first; the third
/// such names the flow. Any other datagram to the server ends the rule
/// (measured with nDPI 5.0 through NFStream); the caller keeps that end
/// (after [`ShortHeader::Gone`] it asks no more).
#[derive(Default)]
pub struct ShortHeaders {
    dcid: [u8; SHORT_HEADER_DCID],
    /// Datagrams that agreed.
    seen: u8,
}

impl ShortHeaders {
    /// One datagram sent to the server's port.
    pub fn to_server(&mut self, d: &[u8]) -> ShortHeader {
        let dcid = d
            .get(1..1 + SHORT_HEADER_DCID)
            .filter(|_| short_header_shaped(d));
        match dcid {
            Some(id) if self.seen == 0 => self.dcid.copy_from_slice(id),
            Some(id) if id == self.dcid => {}
            _ => {
                // Out: no longer alive (the pending check reads `seen`).
                self.seen = 0;
                return ShortHeader::Gone;
            }
        }
        self.seen += 1;
        if self.seen >= SHORT_HEADER_PACKETS {
            ShortHeader::Named
        } else {
            ShortHeader::Alive
        }
    }

    /// Datagrams agreed and the third is awaited.
    pub fn alive(&self) -> bool {
        self.seen > 0
    }
}

/// Per-flow QUIC state: the client's CRYPTO stream as it arrives.
#[derive(Default)]
pub struct QuicState {
    /// The short-header rule's state.
    pub short: ShortHeaders,
    dcid: Option<([u8; 20], u8)>,
    crypto: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    /// Version seen.
    pub version: u32,
    /// CRYPTO data dropped because a cap was hit.
    pub overflows: u32,
}

/// What a client datagram gave.
pub enum Step {
    /// Not QUIC.
    NotQuic,
    /// QUIC; no complete ClientHello yet.
    Quic,
    /// The ClientHello, in the state's buffer: call [`QuicState::client_hello`].
    ClientHello,
}

impl QuicState {
    /// Processes one client-to-server datagram.
    pub fn client_datagram(&mut self, mut d: &[u8]) -> Step {
        let mut any = false;
        let mut out = [0u8; MAX_DATAGRAM];
        // Coalesced packets: walk them by their Length fields.
        while !d.is_empty() {
            let h: LongHeader<'_> = match long_header(d) {
                Parse::Done(h) => h,
                _ => break,
            };
            any = true;
            self.version = h.version;
            let end = h.pn_offset.saturating_add(h.length).min(d.len());
            if h.initial {
                let (dcid, n) = *self.dcid.get_or_insert_with(|| {
                    let mut b = [0u8; 20];
                    b[..h.dcid.len()].copy_from_slice(h.dcid);
                    (b, h.dcid.len() as u8)
                });
                if let Some(frames) = decrypt_initial(d, &h, &dcid[..usize::from(n)], &mut out) {
                    let _ = crypto_frames(frames, |off, data| self.insert(off as usize, data));
                }
            }
            d = &d[end..];
        }
        if !any {
            return Step::NotQuic;
        }
        if self.hello_len().is_some() {
            Step::ClientHello
        } else {
            Step::Quic
        }
    }

    fn insert(&mut self, off: usize, data: &[u8]) {
        let end = off.saturating_add(data.len());
        if end > MAX_CRYPTO || self.ranges.len() >= MAX_RANGES {
            self.overflows += 1;
            return;
        }
        if self.crypto.len() < end {
            self.crypto.resize(end, 0);
        }
        self.crypto[off..end].copy_from_slice(data);
        self.ranges.push((off, end));
        self.ranges.sort_unstable();
        // Merge overlapping or touching ranges in place (no allocation).
        let mut w = 0;
        for r in 1..self.ranges.len() {
            let (a, b) = self.ranges[r];
            if a <= self.ranges[w].1 {
                self.ranges[w].1 = self.ranges[w].1.max(b);
            } else {
                w += 1;
                self.ranges[w] = (a, b);
            }
        }
        self.ranges.truncate(w + 1);
    }

    /// Contiguous CRYPTO bytes from offset 0.
    fn contiguous(&self) -> usize {
        match self.ranges.first() {
            Some(&(0, e)) => e,
            _ => 0,
        }
    }

    fn hello_len(&self) -> Option<usize> {
        let n = self.contiguous();
        if n < 4 || self.crypto[0] != HS_CLIENT_HELLO {
            return None;
        }
        let len = 4
            + (usize::from(self.crypto[1]) << 16
                | usize::from(self.crypto[2]) << 8
                | usize::from(self.crypto[3]));
        (n >= len).then_some(len)
    }

    /// The complete ClientHello, once [`Step::ClientHello`] was returned.
    pub fn client_hello(&self) -> Option<ClientHello<'_>> {
        let len = self.hello_len()?;
        match client_hello(&self.crypto[4..len]) {
            Parse::Done(ch) => Some(ch),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
