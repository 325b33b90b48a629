//! Z39.50 (ANSI/NISO Z39.50-2003) over TCP, as nDPI 5.0 recognises it: APDUs
//! whose contents open with simple BER elements, every payload of the
//! flow's first eight; four that open with six such elements name the flow,
//! if both sides have spoken by then, and rule it out if not.
use crate::FlowDpi;

/// APDU tags nDPI accepts, after its 5-bit mask (initRequest is 20).
const PDUS: std::ops::RangeInclusive<u8> = 20..=31;
/// Elements a counting APDU opens with.
pub const ELEMENTS: usize = 6;
/// APDUs of [`ELEMENTS`] that name the flow.
pub const COUNTED: u8 = 4;
/// nDPI looks at the flow's first payloads only.
pub const WINDOW: u8 = 8;
/// The tag number that says a long-form tag follows (BER).
const LONG_TAG: u8 = 0x1f;

/// The simple elements an APDU opens with (at most [`ELEMENTS`]; a long-form
/// tag ends the walk and counts), or None if `d` is no Z39.50 APDU as nDPI
/// reads one (short, another tag, an element past the payload).
pub fn elements(d: &[u8]) -> Option<usize> {
    if d.len() < 6 || !PDUS.contains(&(d[0] & 0x1f)) {
        return None;
    }
    let (mut off, mut n) = (2, 0);
    while n < ELEMENTS {
        if off + 2 >= d.len() {
            return None;
        }
        n += 1;
        if d[off] & 0x1f == LONG_TAG {
            break;
        }
        let len = usize::from(d[off + 1]);
        if len > d.len() - off {
            return None;
        }
        off += len + 2;
        if off == d.len() {
            break;
        }
    }
    Some(n)
}

/// A flow's Z39.50 evidence so far (in the flow's boxed extension).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Session {
    started: bool,
    out: bool,
    payloads: u8,
    counted: u8,
    /// The directions that sent a payload (bit 0 the client's, bit 1 the server's).
    dirs: u8,
}

/// What one payload says of a Z39.50 session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The fourth full APDU, both sides having spoken: Z39.50.
    Named,
    /// An APDU; the flow may still be Z39.50 (not a detector miss).
    Alive,
    /// Not (or no longer) Z39.50.
    Out,
}

impl Session {
    fn step(&mut self, d: &[u8], src2dst: bool) -> Step {
        self.payloads += 1;
        self.dirs |= if src2dst { 1 } else { 2 };
        match elements(d) {
            _ if self.payloads > WINDOW => Step::Out,
            Some(ELEMENTS) => {
                self.counted += 1;
                match (self.counted < COUNTED, self.dirs == 3) {
                    (true, _) => Step::Alive,
                    (false, true) => Step::Named,
                    // nDPI decides at the fourth, whoever speaks later.
                    (false, false) => Step::Out,
                }
            }
            Some(_) => Step::Alive,
            None => Step::Out,
        }
    }
}

/// One TCP payload of a flow: whether it names, keeps or rules out Z39.50.
/// State is kept only for a flow whose first payload is an APDU.
pub(crate) fn session(st: &mut FlowDpi, d: &[u8], src2dst: bool) -> Step {
    let s = match st.ext.as_mut() {
        Some(e) if e.z3950.started => &mut e.z3950,
        _ => {
            let earlier = st.began_otherwise();
            if earlier || elements(d).is_none() {
                return Step::Out;
            }
            let s = &mut st.ext().z3950;
            s.started = true;
            s
        }
    };
    if s.out {
        return Step::Out;
    }
    let r = s.step(d, src2dst);
    s.out = r == Step::Out;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Z39.50 initRequest (Z39.50-2003 section 3.2.1.1): reference id,
    /// protocol version, options, message sizes, authentication,
    /// implementation id, name and version.
    const INIT_REQUEST: &[u8] = b"\xb4\x3b\x82\x04\x72\x65\x66\x31\x83\x02\x05\xe0\x84\x02\x04\xf0\x85\x03\x01\x00\x00\x86\x03\x01\x00\x00\xa7\x0b\x1a\x09\x61\x6e\x6f\x6e\x79\x6d\x6f\x75\x73\x9f\x6e\x02\x38\x31\x9f\x6f\x06\x79\x61\x7a\x2d\x63\x6c\x9f\x70\x05\x35\x2e\x30\x2e\x30";
    /// Six simple elements (counts).
    const G: &[u8] = b"\xb4\x12\x80\x01\0\x80\x01\0\x80\x01\0\x80\x01\0\x80\x01\0\x80\x01\0";
    /// Five (neutral).
    const F: &[u8] = b"\xb4\x0f\x80\x01\0\x80\x01\0\x80\x01\0\x80\x01\0\x80\x01\0";

    /// Whether the engine names a TCP flow of these payloads (`true` for
    /// the client's) Z3950.
    fn named(payloads: &[(bool, &[u8])]) -> bool {
        crate::craft::flow_label(&crate::Engine::default(), 6, 9991, payloads) == "Z3950"
    }

    #[test]
    fn the_init_request_opens_with_six_elements() {
        assert_eq!(elements(INIT_REQUEST), Some(ELEMENTS));
        for n in 0..INIT_REQUEST.len() {
            let _ = elements(&INIT_REQUEST[..n]);
            let _ = named(&[(true, &INIT_REQUEST[..n])]);
        }
    }

    /// Each case checked with nDPI 5.0's library (NFStream 6.6.0): a packet
    /// of fewer elements is neutral but says its side has spoken; the
    /// decision falls at the fourth full APDU, within the first eight.
    #[test]
    fn a_session_is_named_as_ndpi_names_it() {
        let (c, s) = (true, false);
        assert!(named(&[(c, G), (s, G), (c, G), (s, G)]));
        assert!(named(&[(c, F), (s, G), (c, G), (s, G), (c, G)]));
        assert!(named(&[
            (c, F),
            (s, F),
            (c, F),
            (s, F),
            (c, G),
            (s, G),
            (c, G),
            (s, G)
        ]));
        assert!(named(&[(c, G), (c, G), (c, G), (s, G)]));
        assert!(named(&[(s, F), (c, G), (c, G), (c, G), (c, G)]));

        assert!(!named(&[(c, G), (s, G), (c, G)]));
        assert!(!named(&[(c, G), (c, G), (c, G), (c, G)]));
        assert!(!named(&[(c, G), (c, G), (c, G), (c, G), (s, G)]));
        assert!(!named(&[
            (c, F),
            (c, F),
            (c, F),
            (c, F),
            (c, F),
            (s, G),
            (c, G),
            (s, G),
            (c, G)
        ]));
        assert!(!named(&[
            (c, b"\xb4\x03\x80\x05\0\0\0"),
            (s, G),
            (c, G),
            (s, G),
            (c, G)
        ]));
        assert!(!named(&[
            (c, b"\xb4\x02\0\0"),
            (s, G),
            (c, G),
            (s, G),
            (c, G)
        ]));
        assert!(!named(&[(s, b"Hello!"), (c, G), (c, G), (c, G), (c, G)]));
    }
}
