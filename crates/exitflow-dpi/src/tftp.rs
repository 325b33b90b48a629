//! TFTP (RFC 1350; options, RFC 2347): a request or an option
//! acknowledgement names the flow at once (the detector row); a transfer,
//! which runs on a port the request never saw, is named as nDPI 5.0 names
//! it: on the fourth DATA, ACK or ERROR that keeps the block sequence, no
//! payload of the flow having been anything but TFTP's.
use crate::FlowDpi;

/// Read request.
pub const OP_RRQ: u8 = 1;
/// Write request.
pub const OP_WRQ: u8 = 2;
/// A block of data.
pub const OP_DATA: u8 = 3;
/// A block's acknowledgement.
pub const OP_ACK: u8 = 4;
/// An error.
pub const OP_ERROR: u8 = 5;
/// Option acknowledgement (RFC 2347).
pub const OP_OACK: u8 = 6;
/// In-sequence packets that name a transfer (nDPI's count).
pub const TRANSFER_PACKETS: u8 = 4;
/// The largest error code nDPI accepts (RFC 1350 defines 0-7).
pub const MAX_ERROR_CODE: u8 = 7;
/// The transfer modes; nDPI accepts any non-empty prefix of one of them,
/// in any case.
const MODES: [&[u8]; 3] = [b"netascii", b"octet", b"mail"];

/// The NUL-terminated strings that fill `d` exactly, each non-empty; None
/// if `d` is anything else.
fn strings(d: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    if d.last() != Some(&0) {
        return None;
    }
    let body = &d[..d.len() - 1];
    if body.split(|b| *b == 0).any(<[u8]>::is_empty) {
        return None;
    }
    Some(body.split(|b| *b == 0))
}

/// A read or write request (a printable file name, a transfer mode, options)
/// or an option acknowledgement, as nDPI 5.0 accepts them.
pub fn request(d: &[u8]) -> bool {
    if d.len() < 4 || d[0] != 0 {
        return false;
    }
    let Some(mut parts) = strings(&d[2..]) else {
        return false;
    };
    match d[1] {
        OP_RRQ | OP_WRQ => {
            let (Some(file), Some(mode)) = (parts.next(), parts.next()) else {
                return false;
            };
            file.iter().all(|b| (0x20..=0x7e).contains(b))
                && MODES
                    .iter()
                    .any(|m| m.len() >= mode.len() && m[..mode.len()].eq_ignore_ascii_case(mode))
        }
        OP_OACK => true,
        _ => false,
    }
}

/// A transfer's sequence so far (in the flow's boxed extension).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Transfer {
    /// The flow's payloads have been TFTP's so far.
    started: bool,
    /// A payload was not TFTP's: it is not.
    out: bool,
    /// Packets that kept the sequence.
    counted: u8,
    /// The last DATA block and the last ACK seen.
    data: u16,
    ack: u16,
}

/// What one payload says of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The fourth in-sequence packet: TFTP.
    Named,
    /// TFTP's, the flow may still be TFTP: not a detector miss.
    Alive,
    /// Not (or no longer) TFTP.
    Out,
}

impl Transfer {
    /// One payload of a flow whose payloads were all TFTP's so far.
    fn step(&mut self, d: &[u8]) -> Step {
        if d.len() < 4 || d[0] != 0 {
            return Step::Out;
        }
        let block = u16::from_be_bytes([d[2], d[3]]);
        // Whether the packet continues the sequence (counted in u32, as
        // nDPI does: block 0 does not follow 65535).
        let counts = match d[1] {
            // A request or option acknowledgement names TFTP at once (the
            // row does for a flow's first payload; this, mid-transfer).
            OP_RRQ | OP_WRQ | OP_OACK => return if request(d) { Step::Named } else { Step::Out },
            OP_DATA if d.len() > 4 => {
                let next = u32::from(block) == u32::from(self.data) + 1
                    || (block == self.data && self.data != 0);
                self.data = block;
                next
            }
            OP_ACK if d.len() == 4 => {
                let next = u32::from(block) == u32::from(self.ack) + 1 || block == self.ack;
                self.ack = block;
                next
            }
            OP_ERROR => {
                if d.len() < 5 || d[2] != 0 || d[3] > MAX_ERROR_CODE || d.last() != Some(&0) {
                    return Step::Out;
                }
                true
            }
            _ => return Step::Out,
        };
        if counts {
            self.counted += 1;
            if self.counted >= TRANSFER_PACKETS {
                return Step::Named;
            }
        }
        Step::Alive
    }
}

/// One UDP payload of a flow: whether it names, keeps or rules out a TFTP
/// transfer. State is kept only once a payload looks like TFTP's, and only
/// if every payload before did (nDPI rules TFTP out at the first that does
/// not).
pub(crate) fn transfer(st: &mut FlowDpi, d: &[u8]) -> Step {
    let t = match st.ext.as_mut() {
        Some(e) if e.tftp.started => &mut e.tftp,
        _ => {
            let earlier = st.began_otherwise();
            // A request names the flow through its detector row, with no
            // state; only a transfer's packets are worth a box.
            if earlier || d.len() < 4 || d[0] != 0 || !matches!(d[1], OP_DATA..=OP_ERROR) {
                return if !earlier && request(d) {
                    Step::Alive
                } else {
                    Step::Out
                };
            }
            let t = &mut st.ext().tftp;
            t.started = true;
            t
        }
    };
    if t.out {
        return Step::Out;
    }
    let s = t.step(d);
    t.out = s == Step::Out;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(block: u16) -> Vec<u8> {
        let mut d = vec![0, OP_DATA];
        d.extend(block.to_be_bytes());
        d.extend([b'A'; 512]);
        d
    }
    fn ack(block: u16) -> Vec<u8> {
        let mut d = vec![0, OP_ACK];
        d.extend(block.to_be_bytes());
        d
    }

    /// Whether the engine names a UDP flow of these payloads TFTP (the
    /// client's and the server's in turn, on ports no rule knows).
    fn named(payloads: &[Vec<u8>]) -> bool {
        let msgs: Vec<(bool, &[u8])> = payloads
            .iter()
            .enumerate()
            .map(|(i, d)| (i % 2 == 0, d.as_slice()))
            .collect();
        crate::craft::flow_label(&crate::Engine::default(), 17, 3445, &msgs) == "TFTP"
    }

    /// Each case checked with nDPI 5.0's library (NFStream 6.6.0): a
    /// transfer is named on its fourth in-sequence packet; an out-of-
    /// sequence block is neutral; a short DATA, a wrong-size ACK or another
    /// payload rules TFTP out.
    #[test]
    fn a_transfer_is_named_on_its_fourth_packet_in_sequence_as_ndpi_names_it() {
        assert!(named(&[data(1), ack(1), data(2), ack(2)]));
        assert!(named(&[ack(0), data(1), data(1), ack(1)]));
        assert!(named(&[ack(0), ack(1), ack(2), ack(3)]));
        assert!(named(&[data(1), data(2), data(3), data(4)]));
        assert!(named(&[data(1), data(3), data(4), data(5), data(6)]));
        assert!(named(&[data(5), ack(5), data(6), ack(6), data(7), ack(7)]));
        let error = b"\0\x05\0\x01x\0".to_vec();
        assert!(named(&[error.clone(), error.clone(), error.clone(), error]));

        assert!(!named(&[data(1), ack(1), data(2)]));
        assert!(!named(&[data(5), ack(5), data(6), ack(6)]));
        assert!(!named(&[data(0), data(1), data(2), data(3)]));
        assert!(!named(&[data(1), data(3), data(4), data(5)]));
        assert!(!named(&[
            b"\0\x03\0\x01".to_vec(),
            ack(1),
            data(2),
            ack(2),
            data(3)
        ]));
        assert!(!named(&[
            b"\x01\x02\x03\x04".to_vec(),
            data(1),
            ack(1),
            data(2),
            ack(2)
        ]));
        assert!(!named(&[
            data(1),
            ack(1),
            b"Hello".to_vec(),
            ack(2),
            data(2)
        ]));
        // Block 0 does not follow 65535.
        assert!(!named(&[data(65534), data(65535), data(0), data(1)]));
    }

    /// A flow whose first payload was another protocol's is not a transfer,
    /// and the state is kept only for a transfer's packets.
    #[test]
    fn only_a_flow_that_was_tftp_from_its_first_payload_is_a_transfer() {
        let mut st = FlowDpi {
            misses: 1,
            ..Default::default()
        };
        assert_eq!(transfer(&mut st, &data(1)), Step::Out);
        assert!(st.ext.is_none());
        let mut st = FlowDpi::default();
        assert_eq!(transfer(&mut st, b"GET / HTTP/1.1\r\n"), Step::Out);
        assert!(st.ext.is_none());
    }

    /// Requests and option acknowledgements as nDPI 5.0 takes them (each
    /// checked with its library).
    #[test]
    fn requests_are_read_as_ndpi_reads_them() {
        for ok in [
            &b"\0\x01a.txt\0octet\0"[..],
            b"\0\x02a.txt\0NET\0",
            b"\0\x01a.txt\0oct\0blksize\x001428\0",
            b"\0\x06a\0b\0",
            b"\0\x06a\0",
        ] {
            assert!(request(ok), "{ok:?}");
        }
        for bad in [
            &b"\0\x01a.txt\0octet"[..],
            b"\0\x01a.txt\0bin\0",
            b"\0\x01\x01\x02\0octet\0",
            b"\0\x01a.txt\0",
            b"\0\x01a.txt\0octetX\0",
            b"\0\x01a.txt\0octet\0\0x\0",
            b"\0\x06a\0\0",
            b"\0\x06\0b\0c",
            b"\0\x03\0\x01",
        ] {
            assert!(!request(bad), "{bad:?}");
        }
        // Every prefix is safe to read.
        let r = b"\0\x01a.txt\0octet\0blksize\x001428\0";
        for n in 0..=r.len() {
            let _ = request(&r[..n]);
            let _ = named(&[r[..n].to_vec()]);
        }
    }
}
