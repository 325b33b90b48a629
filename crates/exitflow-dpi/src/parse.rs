//! The parser result shared by every protocol parser.

/// What a stateless parser says about the bytes it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parse<T> {
    /// The bytes hold a complete message of this protocol.
    Done(T),
    /// The bytes are a prefix of a message of this protocol; at least this
    /// many bytes in total are needed to go on.
    Incomplete(usize),
    /// The bytes are not this protocol.
    NotMine,
    /// The bytes start like this protocol but are malformed.
    Error,
}

impl<T> Parse<T> {
    /// Whether the parser wants more bytes.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Parse::Incomplete(_))
    }

    /// Maps the parsed value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parse<U> {
        match self {
            Parse::Done(v) => Parse::Done(f(v)),
            Parse::Incomplete(n) => Parse::Incomplete(n),
            Parse::NotMine => Parse::NotMine,
            Parse::Error => Parse::Error,
        }
    }
}

/// A bounds-checked big-endian reader over a byte slice.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let v = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        let b = self.buf.get(self.pos..self.pos + 2)?;
        self.pos += 2;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u24(&mut self) -> Option<usize> {
        let b = self.buf.get(self.pos..self.pos + 3)?;
        self.pos += 3;
        Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(b)
    }
    /// A vector with a 1-, 2- or 3-byte length prefix.
    pub(crate) fn vec(&mut self, len_bytes: usize) -> Option<&'a [u8]> {
        let n = match len_bytes {
            1 => usize::from(self.u8()?),
            2 => usize::from(self.u16()?),
            _ => self.u24()?,
        };
        self.bytes(n)
    }
}

/// Test helper: feeds every prefix of `full` to `parse` and checks that each
/// strict prefix is `Incomplete` (or, where the protocol cannot tell yet,
/// not an error) and the whole is `Done`.
#[cfg(test)]
pub(crate) fn check_every_prefix(full: &[u8], parse: impl Fn(&[u8]) -> Parse<()>) {
    for n in 0..full.len() {
        let r = parse(&full[..n]);
        assert!(
            matches!(r, Parse::Incomplete(_)),
            "prefix of {n}/{} bytes gave {r:?}",
            full.len()
        );
        if let Parse::Incomplete(need) = r {
            assert!(need > n, "prefix of {n} bytes asks for only {need}");
        }
    }
    assert!(matches!(parse(full), Parse::Done(_)), "{:?}", parse(full));
}
