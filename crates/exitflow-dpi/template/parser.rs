//! Stateless <Protocol> parsing over `&[u8]`: the fixed header and what
//! names the flow.
use crate::parse::Parse;

/// Length of the fixed header (the specification's section).
pub const HEADER_LEN: usize = 8;
/// The magic value at offset 0 (named, never a bare literal).
pub const MAGIC: [u8; 2] = [0x00, 0x00];

/// What a complete message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The part of the message that names the flow.
    pub name: &'a [u8],
}

/// Parses one message at the start of `d`.
pub fn message(d: &[u8]) -> Parse<Message<'_>> {
    if d.len() < MAGIC.len() {
        return if MAGIC.starts_with(d) {
            Parse::Incomplete(HEADER_LEN)
        } else {
            Parse::NotMine
        };
    }
    if d[..MAGIC.len()] != MAGIC {
        return Parse::NotMine;
    }
    if d.len() < HEADER_LEN {
        return Parse::Incomplete(HEADER_LEN);
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    match d.get(HEADER_LEN..HEADER_LEN + len) {
        Some(name) => Parse::Done(Message { name }),
        None => Parse::Incomplete(HEADER_LEN + len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real message from the specification (cite it), not an invented one.
    const SAMPLE: &[u8] = b"\0\0\0\x03\0\0\0\0abc";
    /// Another protocol's message this parser must refuse.
    const OTHER: &[u8] = b"GET / HTTP/1.1\r\n\r\n";

    #[test]
    fn every_prefix_is_incomplete_or_done_and_another_protocol_is_refused() {
        assert_eq!(message(SAMPLE), Parse::Done(Message { name: b"abc" }));
        for n in 0..SAMPLE.len() {
            assert!(message(&SAMPLE[..n]).is_incomplete(), "prefix {n}");
        }
        assert_eq!(message(OTHER), Parse::NotMine);
    }
}
