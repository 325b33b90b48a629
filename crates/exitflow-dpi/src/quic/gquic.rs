//! Google QUIC (Q0xx): recognised by its public header, named by the CHLO's
//! server name.

/// Google QUIC (Q0xx versions): public header with the version, and the
/// server name from the CHLO's SNI tag when present.
pub(crate) fn gquic(d: &[u8]) -> Option<Option<&str>> {
    let is_version = |v: &[u8]| v[0] == b'Q' && v[1..].iter().all(u8::is_ascii_digit);
    // Q043 and older: public flags with the version bit, version after the
    // 8-byte connection id. Q046: the IETF invariant long header, version first.
    let old = d.len() >= 13 && d[0] & 0x81 == 0x01 && d[0] & 0x08 != 0 && is_version(&d[9..13]);
    let q046 = d.len() >= 13 && d[0] & 0xc0 == 0xc0 && is_version(&d[1..5]);
    if !old && !q046 {
        return None;
    }
    let at = d.windows(4).take(64).position(|w| w == b"CHLO")?;
    let n = usize::from(u16::from_le_bytes([*d.get(at + 4)?, *d.get(at + 5)?]));
    let tags = at + 8;
    let values = tags + n * 8;
    let mut prev_end = 0usize;
    for i in 0..n.min(64) {
        let e = tags + i * 8;
        let tag = d.get(e..e + 4)?;
        let end = u32::from_le_bytes(d.get(e + 4..e + 8)?.try_into().ok()?) as usize;
        if tag == b"SNI\0" {
            let v = d.get(values + prev_end..values + end)?;
            return Some(std::str::from_utf8(v).ok());
        }
        prev_end = end;
    }
    Some(None)
}
