//! Stateless DNS message parsing over `&[u8]` (also mDNS and LLMNR, which
//! share the format): the header and the first question's name.
use crate::parse::Parse;

/// Longest name (RFC 1035).
pub const MAX_NAME: usize = 255;

/// A name decoded into a fixed buffer (no allocation).
#[derive(Clone, Copy)]
pub struct Name {
    buf: [u8; MAX_NAME],
    len: usize,
}

impl Name {
    /// The dotted name, lowercase is not enforced.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl PartialEq for Name {
    fn eq(&self, o: &Name) -> bool {
        self.as_str() == o.as_str()
    }
}

/// What a DNS message says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Message {
    /// A response (QR bit).
    pub response: bool,
    /// Response code.
    pub rcode: u8,
    /// Number of questions.
    pub questions: u16,
    /// Number of answers.
    pub answers: u16,
    /// The first question's name, if any.
    pub qname: Option<Name>,
    /// The first question's type.
    pub qtype: u16,
}

/// Parses a DNS message (UDP payload, or TCP without its length prefix).
pub fn message(b: &[u8]) -> Parse<Message> {
    if b.len() < 12 {
        return Parse::Incomplete(12);
    }
    // Any opcode and the Z bit, as nDPI 5.0 takes them.
    let flags = u16::from_be_bytes([b[2], b[3]]);
    let opcode = (flags >> 11) & 0xf;
    let qd = u16::from_be_bytes([b[4], b[5]]);
    let an = u16::from_be_bytes([b[6], b[7]]);
    let ns = u16::from_be_bytes([b[8], b[9]]);
    let ar = u16::from_be_bytes([b[10], b[11]]);
    let response = flags & 0x8000 != 0;
    if qd > 32 || an > 512 || ns > 512 || ar > 512 || (!response && qd == 0 && opcode == 0) {
        return Parse::NotMine;
    }
    let mut m = Message {
        response,
        rcode: (flags & 0xf) as u8,
        questions: qd,
        answers: an,
        qname: None,
        qtype: 0,
    };
    if qd == 0 {
        return Parse::Done(m);
    }
    match name(b, 12) {
        Ok((n, end)) => {
            if b.len() < end + 4 {
                return Parse::Incomplete(end + 4);
            }
            m.qtype = u16::from_be_bytes([b[end], b[end + 1]]);
            m.qname = Some(n);
            Parse::Done(m)
        }
        Err(None) => Parse::Incomplete(b.len() + 1),
        Err(Some(())) => Parse::Error,
    }
}

/// Decodes the name at `pos`: the name and the offset after it. `Err(None)`
/// when the buffer ends inside it, `Err(Some(()))` when it is malformed.
fn name(b: &[u8], mut pos: usize) -> Result<(Name, usize), Option<()>> {
    let mut n = Name {
        buf: [0; MAX_NAME],
        len: 0,
    };
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *b.get(pos).ok_or(None)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok((n, end.unwrap_or(pos + 1)));
                }
                let l = usize::from(len);
                let label = b.get(pos + 1..pos + 1 + l).ok_or(None)?;
                if n.len + l + usize::from(n.len > 0) > MAX_NAME {
                    return Err(Some(()));
                }
                if n.len > 0 {
                    n.buf[n.len] = b'.';
                    n.len += 1;
                }
                for &c in label {
                    // Keep names printable: anything odd becomes '_'.
                    n.buf[n.len] = if c.is_ascii_graphic() { c } else { b'_' };
                    n.len += 1;
                }
                pos += 1 + l;
            }
            0xc0 => {
                let lo = *b.get(pos + 1).ok_or(None)?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                if end.is_none() {
                    end = Some(pos + 2);
                }
                jumps += 1;
                if jumps > 16 || target >= b.len() {
                    return Err(Some(()));
                }
                pos = target;
            }
            _ => return Err(Some(())),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::parse::check_every_prefix;

    pub(crate) fn query(name: &str) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        q
    }

    #[test]
    fn query_name() {
        let Parse::Done(m) = message(&query("www.example.org")) else {
            panic!()
        };
        assert!(!m.response);
        assert_eq!(m.qname.unwrap().as_str(), "www.example.org");
        assert_eq!(m.qtype, 1);
    }

    #[test]
    fn every_prefix_is_incomplete() {
        check_every_prefix(&query("a.b.example"), |b| message(b).map(|_| ()));
    }

    #[test]
    fn pointer_loops_and_garbage_are_errors() {
        let mut q = vec![
            0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1,
        ];
        assert_eq!(message(&q), Parse::Error);
        q[2] = 0x7f; // opcode 15: read (nDPI reads any), the loop still an error
        assert_eq!(message(&q), Parse::Error);
        for i in 0..64u8 {
            let mut g = query("x.example");
            g[12 + usize::from(i % 10)] = i.wrapping_mul(37);
            let _ = message(&g);
        }
    }
}
