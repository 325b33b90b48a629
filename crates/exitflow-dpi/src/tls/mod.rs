//! TLS: the ClientHello names the server (SNI) and fingerprints the client
//! (JA4); the ServerHello fingerprints the server (JA4S-like summary).
pub(crate) mod naming;
pub mod parser;
pub mod subjects;

use sha2::{Digest, Sha256};

use parser::{ClientHello, is_grease};

/// The JA4 fingerprint of a ClientHello (`t` for TCP, `q` for QUIC).
pub fn ja4(ch: &ClientHello<'_>, transport: char) -> String {
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .filter(|c| !is_grease(*c))
        .collect();
    let mut exts: Vec<u16> = ch
        .ext_types
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let version = ch
        .supported_versions
        .and_then(|v| {
            v.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .filter(|v| !is_grease(*v))
                .max()
        })
        .unwrap_or(ch.legacy_version);
    let ver = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };
    let alpn = ch
        .alpn
        .and_then(|a| {
            let n = usize::from(*a.first()?);
            let first = a.get(1..1 + n)?;
            let (f, l) = (*first.first()?, *first.last()?);
            Some(if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() {
                format!("{}{}", f as char, l as char)
            } else {
                // Non-alphanumeric: first and last hex digits, as JA4 specifies.
                let h = format!("{f:02x}{l:02x}");
                format!("{}{}", &h[..1], &h[3..])
            })
        })
        .unwrap_or_else(|| "00".into());
    let head = format!(
        "{transport}{ver}{}{:02}{:02}{alpn}",
        if ch.sni.is_some() { 'd' } else { 'i' },
        ciphers.len().min(99),
        exts.len().min(99)
    );
    ciphers.sort_unstable();
    let hash12 = |items: &[u16], tail: Option<&[u16]>| -> String {
        if items.is_empty() {
            return "000000000000".into();
        }
        let mut text = join_hex(items);
        if let Some(t) = tail
            && !t.is_empty()
        {
            text.push('_');
            text.push_str(&join_hex(t));
        }
        let d = Sha256::digest(text.as_bytes());
        d.iter().take(6).map(|b| format!("{b:02x}")).collect()
    };
    exts.retain(|e| *e != 0 && *e != 16);
    exts.sort_unstable();
    let sigs: Vec<u16> = ch
        .sig_algs
        .map(|s| {
            s.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .filter(|v| !is_grease(*v))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{head}_{}_{}",
        hash12(&ciphers, None),
        hash12(&exts, Some(&sigs))
    )
}

fn join_hex(v: &[u16]) -> String {
    let mut s = String::with_capacity(v.len() * 5);
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("{x:04x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Parse;

    #[test]
    fn ja4_shape() {
        let rec = crate::craft::client_hello_record("www.example.org", 0);
        let mut scratch = Vec::new();
        let Parse::Done((_, body)) = parser::first_handshake(&rec, &mut scratch) else {
            panic!()
        };
        let Parse::Done(ch) = parser::client_hello(body) else {
            panic!()
        };
        let fp = ja4(&ch, 't');
        // TLS 1.3, SNI, 2 ciphers (GREASE dropped), 5 extensions, ALPN h2.
        assert!(fp.starts_with("t13d0205h2_"), "{fp}");
        assert_eq!(fp.len(), "t13d0205h2_".len() + 12 + 1 + 12);
        // The cipher hash is SHA-256 of "1301,1302", truncated.
        let d = Sha256::digest(b"1301,1302");
        let want: String = d.iter().take(6).map(|b| format!("{b:02x}")).collect();
        assert_eq!(&fp[11..23], want);
    }
}
