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

/// Per-flow QUIC state: the client's CRYPTO stream as it arrives.
#[derive(Default)]
pub struct QuicState {
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
