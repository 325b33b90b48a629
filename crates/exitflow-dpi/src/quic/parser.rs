//! Stateless QUIC parsing: long-header Initial packets, their decryption with
//! the version's initial secrets (RFC 9001 §5, RFC 9369), and CRYPTO frames.
use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::parse::Parse;

/// Largest datagram we decrypt (QUIC datagrams are at most 65527 bytes; Initials
/// are padded to ≥ 1200 and are in practice ≤ 1500).
pub const MAX_DATAGRAM: usize = 4096;

/// Initial salt of a QUIC version, and whether it uses the v2 labels.
pub fn initial_salt(version: u32) -> Option<(&'static [u8; 20], bool)> {
    const V1: [u8; 20] = hex20("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
    const V2: [u8; 20] = hex20("0dede3def700a6db819381be6e269dcbf9bd2ed9");
    const D29: [u8; 20] = hex20("afbfec289993d24c9e9786f19c6111e04390a899");
    const D23: [u8; 20] = hex20("c3eef712c72ebb5a11a7d2432bb46365bef9f502");
    const D21: [u8; 20] = hex20("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a");
    match version {
        0x0000_0001 => Some((&V1, false)),
        0x6b33_43cf => Some((&V2, true)),
        0xff00_0021 | 0xff00_0022 => Some((&V1, false)),
        0xff00_001d..=0xff00_0020 => Some((&D29, false)),
        0xff00_0017..=0xff00_001c => Some((&D23, false)),
        0xff00_0015 | 0xff00_0016 => Some((&D21, false)),
        // Facebook's mvfst versions track the drafts they were cut from.
        0xface_b001 => Some((&D21, false)),
        0xface_b002 | 0xface_b00e => Some((&D23, false)),
        0xface_b003 | 0xface_b011 | 0xface_b012 => Some((&D29, false)),
        _ => None,
    }
}

const fn hex20(s: &str) -> [u8; 20] {
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = (nib(b[2 * i]) << 4) | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nib(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

/// Reads a QUIC variable-length integer.
pub fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *b.get(*pos)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*pos..*pos + len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *pos += len;
    Some(v)
}

/// A long-header packet's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// Version.
    pub version: u32,
    /// Destination connection id.
    pub dcid: &'a [u8],
    /// Whether it is an Initial packet.
    pub initial: bool,
    /// Offset of the packet number.
    pub pn_offset: usize,
    /// Length of packet number + payload.
    pub length: usize,
}

/// Parses a long header at the start of `b`.
pub fn long_header(b: &[u8]) -> Parse<LongHeader<'_>> {
    if b.is_empty() {
        return Parse::Incomplete(1);
    }
    if b[0] & 0x80 == 0 {
        return Parse::NotMine;
    }
    if b.len() < 6 {
        return Parse::Incomplete(6);
    }
    let version = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
    if version == 0 {
        return Parse::NotMine; // version negotiation
    }
    let Some((_, v2)) = initial_salt(version) else {
        return Parse::NotMine;
    };
    let ty = (b[0] >> 4) & 0x03;
    let initial = if v2 { ty == 1 } else { ty == 0 };
    let mut pos = 5;
    let dcid_len = usize::from(b[pos]);
    pos += 1;
    if dcid_len > 20 {
        return Parse::Error;
    }
    let Some(dcid) = b.get(pos..pos + dcid_len) else {
        return Parse::Incomplete(pos + dcid_len);
    };
    pos += dcid_len;
    let Some(&scid_len) = b.get(pos) else {
        return Parse::Incomplete(pos + 1);
    };
    pos += 1 + usize::from(scid_len);
    if scid_len > 20 {
        return Parse::Error;
    }
    if initial {
        let Some(tlen) = varint(b, &mut pos) else {
            return Parse::Incomplete(pos + 1);
        };
        pos = pos.saturating_add(tlen as usize);
    }
    let Some(length) = varint(b, &mut pos) else {
        return Parse::Incomplete(pos + 1);
    };
    Parse::Done(LongHeader {
        version,
        dcid,
        initial,
        pn_offset: pos,
        length: length as usize,
    })
}

fn expand_label(secret: &[u8], label: &str, out: &mut [u8]) -> Option<()> {
    let hk = Hkdf::<Sha256>::from_prk(secret).ok()?;
    let full_len = 6 + label.len();
    let mut info = [0u8; 64];
    info[..2].copy_from_slice(&(out.len() as u16).to_be_bytes());
    info[2] = full_len as u8;
    info[3..9].copy_from_slice(b"tls13 ");
    info[9..9 + label.len()].copy_from_slice(label.as_bytes());
    info[9 + label.len()] = 0;
    hk.expand(&info[..10 + label.len()], out).ok()
}

/// Client Initial keys: (AEAD key, IV, header-protection key).
pub fn client_initial_keys(version: u32, dcid: &[u8]) -> Option<([u8; 16], [u8; 12], [u8; 16])> {
    let (salt, v2) = initial_salt(version)?;
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let mut client = [0u8; 32];
    expand_label(&prk, "client in", &mut client)?;
    let (lk, li, lh) = if v2 {
        ("quicv2 key", "quicv2 iv", "quicv2 hp")
    } else {
        ("quic key", "quic iv", "quic hp")
    };
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&client, lk, &mut key)?;
    expand_label(&client, li, &mut iv)?;
    expand_label(&client, lh, &mut hp)?;
    Some((key, iv, hp))
}

/// Decrypts one client Initial packet (`pkt` = the whole packet, header
/// first) into `out`, using keys derived from `dcid` (the client's first
/// destination connection id). Returns the plaintext frames.
pub fn decrypt_initial<'o>(
    pkt: &[u8],
    h: &LongHeader<'_>,
    dcid: &[u8],
    out: &'o mut [u8; MAX_DATAGRAM],
) -> Option<&'o [u8]> {
    let end = h.pn_offset.checked_add(h.length)?;
    if end > pkt.len() || end > MAX_DATAGRAM || h.length < 20 {
        return None;
    }
    let (key, iv, hp) = client_initial_keys(h.version, dcid)?;
    let sample = pkt.get(h.pn_offset + 4..h.pn_offset + 20)?;
    let mut mask = GenericArray::clone_from_slice(sample);
    Aes128::new(GenericArray::from_slice(&hp)).encrypt_block(&mut mask);
    let buf = &mut out[..end];
    buf.copy_from_slice(&pkt[..end]);
    buf[0] ^= mask[0] & 0x0f;
    let pn_len = usize::from(buf[0] & 0x03) + 1;
    let mut pn: u64 = 0;
    for i in 0..pn_len {
        buf[h.pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u64::from(buf[h.pn_offset + i]);
    }
    let mut nonce = iv;
    for (i, b) in pn.to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let payload_start = h.pn_offset + pn_len;
    let ct_len = end.checked_sub(payload_start)?.checked_sub(16)?;
    let (aad, rest) = buf.split_at_mut(payload_start);
    let (ct, tag) = rest.split_at_mut(ct_len);
    let cipher = Aes128Gcm::new(GenericArray::from_slice(&key));
    cipher
        .decrypt_in_place_detached(Nonce::from_slice(&nonce), aad, ct, Tag::from_slice(tag))
        .ok()?;
    Some(&out[payload_start..payload_start + ct_len])
}

/// Calls `f(offset, data)` for each CRYPTO frame in decrypted Initial frames.
/// Returns `None` on a frame it cannot skip.
pub fn crypto_frames(mut b: &[u8], mut f: impl FnMut(u64, &[u8])) -> Option<()> {
    while let Some(&ty) = b.first() {
        let mut pos = 1;
        match ty {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                varint(b, &mut pos)?;
                varint(b, &mut pos)?;
                let ranges = varint(b, &mut pos)?;
                varint(b, &mut pos)?;
                for _ in 0..ranges.min(256) {
                    varint(b, &mut pos)?;
                    varint(b, &mut pos)?;
                }
                if ty == 0x03 {
                    for _ in 0..3 {
                        varint(b, &mut pos)?;
                    }
                }
            }
            0x06 => {
                let off = varint(b, &mut pos)?;
                let len = varint(b, &mut pos)? as usize;
                let data = b.get(pos..pos.checked_add(len)?)?;
                f(off, data);
                pos += len;
            }
            0x1c | 0x1d => {
                varint(b, &mut pos)?;
                if ty == 0x1c {
                    varint(b, &mut pos)?;
                }
                let len = varint(b, &mut pos)? as usize;
                pos = pos.checked_add(len)?;
            }
            _ => return None,
        }
        b = b.get(pos..)?;
    }
    Some(())
}
