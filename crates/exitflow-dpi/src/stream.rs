//! Just enough TCP reassembly for detection: the first bytes of a message
//! that spans segments, in sequence order, up to a cap. Like nDPI, it does
//! not wait across a gap: a segment beyond one ends the message.

/// One direction's bytes being gathered (counter of what a cap cut:
/// [`Stream::dropped`]).
#[derive(Default)]
pub(crate) struct Stream {
    /// Contiguous bytes from the first segment gathered.
    pub(crate) buf: Vec<u8>,
    /// Sequence number expected after `buf`.
    next: Option<u32>,
    /// Segments the cap cut short.
    pub(crate) dropped: u32,
}

/// What a segment did to a stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// New bytes were appended.
    Appended,
    /// Nothing new (bytes already gathered).
    Nothing,
    /// The segment starts beyond the expected sequence: bytes are missing,
    /// nothing was appended.
    Gap,
}

impl Stream {
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn full(&self, cap: usize) -> bool {
        self.buf.len() >= cap
    }

    pub(crate) fn clear(&mut self) {
        self.buf = Vec::new();
        self.next = None;
    }

    /// Adds a segment at `seq`: its bytes past what was gathered.
    pub(crate) fn push(&mut self, seq: u32, data: &[u8], cap: usize) -> Pushed {
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next) as i32;
        if ahead > 0 {
            return Pushed::Gap;
        }
        let skip = ahead.unsigned_abs() as usize;
        if skip >= data.len() {
            return Pushed::Nothing;
        }
        let new = &data[skip..];
        let room = cap.saturating_sub(self.buf.len());
        let n = new.len().min(room);
        if n < new.len() {
            self.dropped += 1;
        }
        self.buf.extend_from_slice(&new[..n]);
        self.next = Some(next.wrapping_add(new.len() as u32));
        if n == 0 {
            Pushed::Nothing
        } else {
            Pushed::Appended
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_overlap_and_a_gap() {
        let mut s = Stream::default();
        assert_eq!(s.push(1000, b"hel", 100), Pushed::Appended);
        assert_eq!(s.push(1005, b"world", 100), Pushed::Gap);
        assert_eq!(s.buf, b"hel");
        assert_eq!(s.push(1003, b"lo", 100), Pushed::Appended);
        assert_eq!(s.push(1005, b"world", 100), Pushed::Appended);
        assert_eq!(s.buf, b"helloworld");
        assert_eq!(s.push(1008, b"ldXY", 100), Pushed::Appended); // overlaps 2 bytes
        assert_eq!(s.buf, b"helloworldXY");
        assert_eq!(s.push(1000, b"hello", 100), Pushed::Nothing); // retransmission
        assert_eq!(s.buf, b"helloworldXY");
    }

    #[test]
    fn cap_holds() {
        let mut s = Stream::default();
        s.push(1, &[1u8; 60], 100);
        s.push(61, &[2u8; 60], 100);
        assert_eq!(s.buf.len(), 100);
        assert_eq!(s.dropped, 1);
        assert!(s.full(100));
    }
}
