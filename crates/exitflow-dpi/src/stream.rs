//! Just enough TCP reassembly for detection: the first bytes of each
//! direction, in sequence order, up to a cap.

/// Out-of-order segments held per direction (counter: [`Stream::dropped`]).
pub const MAX_OOO_SEGMENTS: usize = 8;

/// One direction's byte stream.
#[derive(Default)]
pub(crate) struct Stream {
    /// Contiguous bytes from the start (or from the first segment seen).
    pub(crate) buf: Vec<u8>,
    /// Sequence number expected after `buf`.
    next: Option<u32>,
    /// Segments that arrived ahead of a gap.
    ooo: Vec<(u32, Vec<u8>)>,
    /// Segments dropped because a cap was hit.
    pub(crate) dropped: u32,
}

impl Stream {
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Segments are held for a gap.
    pub(crate) fn waiting(&self) -> bool {
        !self.ooo.is_empty()
    }

    /// The sequence number expected next, once one is known.
    pub(crate) fn expected(&self) -> Option<u32> {
        self.next
    }

    pub(crate) fn full(&self, cap: usize) -> bool {
        self.buf.len() >= cap
    }

    pub(crate) fn clear(&mut self) {
        self.buf = Vec::new();
        self.ooo = Vec::new();
        self.next = None;
    }

    /// Adds a segment at `seq`.
    pub(crate) fn push(&mut self, seq: u32, data: &[u8], cap: usize) {
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next) as i32;
        if ahead > 0 {
            if self.ooo.len() < MAX_OOO_SEGMENTS && (ahead as usize) < cap {
                self.ooo.push((seq, data.to_vec()));
            } else {
                self.dropped += 1;
            }
            return;
        }
        // At or before the expected sequence: keep only the new tail.
        let skip = (-ahead) as usize;
        if skip < data.len() {
            self.append(&data[skip..], cap);
        }
        // Drain segments that now fit.
        while let Some(next) = self.next {
            let Some(i) = self.ooo.iter().position(|(s, d)| {
                let a = s.wrapping_sub(next) as i32;
                a <= 0 && (-a) as usize <= d.len()
            }) else {
                break;
            };
            let (s, d) = self.ooo.swap_remove(i);
            let skip = next.wrapping_sub(s) as usize;
            if skip < d.len() {
                self.append(&d[skip..], cap);
            }
        }
    }

    fn append(&mut self, data: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.buf.len());
        let n = data.len().min(room);
        if n < data.len() {
            self.dropped += 1;
        }
        self.buf.extend_from_slice(&data[..n]);
        self.next = self.next.map(|x| x.wrapping_add(data.len() as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_out_of_order_and_overlap() {
        let mut s = Stream::default();
        s.push(1000, b"hel", 100);
        s.push(1005, b"world", 100);
        assert_eq!(s.buf, b"hel");
        s.push(1003, b"lo", 100);
        assert_eq!(s.buf, b"helloworld");
        s.push(1008, b"ldXY", 100); // overlaps the last 2 bytes
        assert_eq!(s.buf, b"helloworldXY");
        s.push(1000, b"hello", 100); // retransmission
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
