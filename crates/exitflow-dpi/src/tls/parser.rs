//! Stateless TLS parsing over `&[u8]`: the record layer and the ClientHello /
//! ServerHello handshake messages.
use crate::parse::{Parse, Reader};

/// Content type of handshake records.
pub const RECORD_HANDSHAKE: u8 = 22;
/// TLS record content type: change cipher spec.
pub const RECORD_CHANGE_CIPHER_SPEC: u8 = 20;
/// TLS record content type: alert.
pub const RECORD_ALERT: u8 = 21;
/// TLS record content type: application data.
pub const RECORD_APPLICATION_DATA: u8 = 23;
/// Largest TLS ciphertext record (2^14 plus the expansion RFC 8446 allows).
pub const MAX_CIPHERTEXT: usize = (1 << 14) + 256;
/// Handshake type ClientHello.
pub const HS_CLIENT_HELLO: u8 = 1;
/// Handshake type ServerHello.
pub const HS_SERVER_HELLO: u8 = 2;
/// Largest handshake message we accept (a ClientHello with post-quantum key
/// shares is ~1.8 KB; certificates chains are larger but not needed here).
pub const MAX_HANDSHAKE: usize = 16 * 1024;

/// The fields of a ClientHello exitflow uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// legacy_version field.
    pub legacy_version: u16,
    /// Cipher suites, raw (2 bytes each).
    pub ciphers: &'a [u8],
    /// Extension types in order of appearance.
    pub ext_types: Vec<u16>,
    /// Server name (SNI host name), if any and valid UTF-8.
    pub sni: Option<&'a str>,
    /// ALPN protocol names, raw (the vector body).
    pub alpn: Option<&'a [u8]>,
    /// supported_versions list, raw (2 bytes each).
    pub supported_versions: Option<&'a [u8]>,
    /// signature_algorithms list, raw (2 bytes each).
    pub sig_algs: Option<&'a [u8]>,
}

/// The fields of a ServerHello exitflow uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// Negotiated version (supported_versions if present, else legacy).
    pub version: u16,
    /// Chosen cipher suite.
    pub cipher: u16,
}

/// Whether `b` starts like a TLS record (handshake, SSL 3.0 to TLS 1.3).
pub fn looks_like_record(b: &[u8]) -> bool {
    b.len() >= 3 && b[0] == RECORD_HANDSHAKE && b[1] == 3 && b[2] <= 4
}

/// The first bytes nDPI's TLS dissector accepts from a TCP flow's first
/// payload (record types 20 to 26, measured with nDPI 5.0): a flow that
/// begins with anything else never becomes TLS by its later records.
pub const FIRST_BYTES_TLS_ACCEPTS: std::ops::RangeInclusive<u8> = 20..=26;

/// Whether a TCP flow whose first payload is `b` can still turn out to be
/// TLS (by a handshake or a record met later).
pub fn first_payload_allows_tls(b: &[u8]) -> bool {
    b.first()
        .is_some_and(|x| FIRST_BYTES_TLS_ACCEPTS.contains(x))
}

/// Whether `b` starts with a record of SSL 3.0 to TLS 1.3 that follows the
/// handshake — application data, an alert, a change of cipher spec — whose
/// length a record may have: a TLS stream met after its handshake.
pub fn after_handshake_record(b: &[u8]) -> bool {
    b.len() >= 5
        && matches!(
            b[0],
            RECORD_APPLICATION_DATA | RECORD_ALERT | RECORD_CHANGE_CIPHER_SPEC
        )
        && b[1] == 3
        && b[2] <= 4
        && (1..=MAX_CIPHERTEXT).contains(&usize::from(u16::from_be_bytes([b[3], b[4]])))
}

/// Extracts the first handshake message from a TLS record stream: returns
/// its type and body. Handshake messages split over several records are
/// joined into `scratch`.
pub fn first_handshake<'a>(buf: &'a [u8], scratch: &'a mut Vec<u8>) -> Parse<(u8, &'a [u8])> {
    if buf.is_empty() {
        return Parse::Incomplete(5);
    }
    if buf[0] != RECORD_HANDSHAKE || (buf.len() >= 2 && buf[1] != 3) {
        return Parse::NotMine;
    }
    if buf.len() < 5 {
        return Parse::Incomplete(5);
    }
    let rec_len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
    if rec_len == 0 || rec_len > MAX_HANDSHAKE + 2048 {
        return Parse::Error;
    }
    // Fast path: the whole handshake message inside the first record.
    let frag = &buf[5..buf.len().min(5 + rec_len)];
    if frag.len() >= 4 {
        let hs_len = usize::from(frag[1]) << 16 | usize::from(frag[2]) << 8 | usize::from(frag[3]);
        if hs_len > MAX_HANDSHAKE {
            return Parse::Error;
        }
        if 4 + hs_len <= rec_len {
            if frag.len() < 4 + hs_len {
                return Parse::Incomplete(5 + 4 + hs_len);
            }
            return Parse::Done((frag[0], &frag[4..4 + hs_len]));
        }
    } else if buf.len() < 5 + rec_len {
        return Parse::Incomplete(5 + rec_len.min(4));
    }
    // Slow path: the message continues in the following records.
    scratch.clear();
    let mut pos = 0;
    let mut need_total: Option<usize> = None;
    loop {
        if buf.len() < pos + 5 {
            return Parse::Incomplete(pos + 5);
        }
        if buf[pos] != RECORD_HANDSHAKE || buf[pos + 1] != 3 {
            return Parse::Error;
        }
        let len = usize::from(u16::from_be_bytes([buf[pos + 3], buf[pos + 4]]));
        if buf.len() < pos + 5 + len {
            return Parse::Incomplete(pos + 5 + len);
        }
        scratch.extend_from_slice(&buf[pos + 5..pos + 5 + len]);
        pos += 5 + len;
        if need_total.is_none() && scratch.len() >= 4 {
            let hs_len = usize::from(scratch[1]) << 16
                | usize::from(scratch[2]) << 8
                | usize::from(scratch[3]);
            if hs_len > MAX_HANDSHAKE {
                return Parse::Error;
            }
            need_total = Some(4 + hs_len);
        }
        if let Some(n) = need_total
            && scratch.len() >= n
        {
            let t = scratch[0];
            return Parse::Done((t, &scratch[4..n]));
        }
    }
}

/// Parses a ClientHello handshake body (after the 4-byte handshake header).
pub fn client_hello(body: &[u8]) -> Parse<ClientHello<'_>> {
    match client_hello_inner(body) {
        Some(ch) => Parse::Done(ch),
        None => Parse::Error,
    }
}

fn client_hello_inner(body: &[u8]) -> Option<ClientHello<'_>> {
    let mut r = Reader::new(body);
    let mut ch = ClientHello {
        legacy_version: r.u16()?,
        ..Default::default()
    };
    r.bytes(32)?;
    r.vec(1)?; // session id
    ch.ciphers = r.vec(2)?;
    r.vec(1)?; // compression methods
    if r.remaining() == 0 {
        return Some(ch); // no extensions (SSLv3 style)
    }
    let exts = r.vec(2)?;
    let mut e = Reader::new(exts);
    while e.remaining() >= 4 {
        let ty = e.u16()?;
        let data = e.vec(2)?;
        ch.ext_types.push(ty);
        match ty {
            0 => {
                // server_name: list of (type, name); type 0 is host_name.
                let mut s = Reader::new(data);
                let mut list = Reader::new(s.vec(2)?);
                while list.remaining() >= 3 {
                    let kind = list.u8()?;
                    let name = list.vec(2)?;
                    if kind == 0 {
                        ch.sni = std::str::from_utf8(name).ok().filter(|n| !n.is_empty());
                        break;
                    }
                }
            }
            16 => ch.alpn = Reader::new(data).vec(2),
            43 => ch.supported_versions = Reader::new(data).vec(1),
            13 => ch.sig_algs = Reader::new(data).vec(2),
            _ => {}
        }
    }
    Some(ch)
}

/// Parses a ServerHello handshake body.
pub fn server_hello(body: &[u8]) -> Parse<ServerHello> {
    let inner = || -> Option<ServerHello> {
        let mut r = Reader::new(body);
        let mut sh = ServerHello {
            version: r.u16()?,
            ..Default::default()
        };
        r.bytes(32)?;
        r.vec(1)?;
        sh.cipher = r.u16()?;
        r.u8()?;
        if r.remaining() >= 2 {
            let exts = r.vec(2)?;
            let mut e = Reader::new(exts);
            while e.remaining() >= 4 {
                let ty = e.u16()?;
                let data = e.vec(2)?;
                if ty == 43 && data.len() == 2 {
                    sh.version = u16::from_be_bytes([data[0], data[1]]);
                }
            }
        }
        Some(sh)
    };
    match inner() {
        Some(sh) => Parse::Done(sh),
        None => Parse::Error,
    }
}

/// Whether a 16-bit value is a GREASE value (RFC 8701).
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Handshake type Certificate.
pub const HS_CERTIFICATE: u8 = 11;

/// Walks the handshake messages of a server's record stream until `f`
/// returns `true` (found what it wanted). Records are joined in `scratch`.
/// `Done(())` when `f` was satisfied, `Incomplete` when more bytes are
/// needed, `NotMine` when the stream stops carrying handshakes (e.g. TLS 1.3
/// encrypts the certificate).
pub fn walk_handshakes(
    buf: &[u8],
    scratch: &mut Vec<u8>,
    mut f: impl FnMut(u8, &[u8]) -> bool,
) -> Parse<()> {
    scratch.clear();
    let mut pos = 0;
    let mut hs_pos = 0;
    loop {
        // Hand out every complete handshake message gathered so far.
        while scratch.len() >= hs_pos + 4 {
            let t = scratch[hs_pos];
            let len = usize::from(scratch[hs_pos + 1]) << 16
                | usize::from(scratch[hs_pos + 2]) << 8
                | usize::from(scratch[hs_pos + 3]);
            if len > 4 * MAX_HANDSHAKE {
                return Parse::Error;
            }
            if scratch.len() < hs_pos + 4 + len {
                break;
            }
            if f(t, &scratch[hs_pos + 4..hs_pos + 4 + len]) {
                return Parse::Done(());
            }
            hs_pos += 4 + len;
        }
        if buf.len() < pos + 5 {
            return Parse::Incomplete(pos + 5);
        }
        if buf[pos + 1] != 3 {
            return Parse::Error;
        }
        if buf[pos] != RECORD_HANDSHAKE {
            return Parse::NotMine;
        }
        let len = usize::from(u16::from_be_bytes([buf[pos + 3], buf[pos + 4]]));
        if buf.len() < pos + 5 + len {
            return Parse::Incomplete(pos + 5 + len);
        }
        scratch.extend_from_slice(&buf[pos + 5..pos + 5 + len]);
        pos += 5 + len;
    }
}

/// The DNS names of the first certificate of a Certificate message body:
/// subjectAltName dNSNames first, then common names, in order.
pub fn certificate_names(body: &[u8], mut f: impl FnMut(&str) -> bool) {
    let mut r = Reader::new(body);
    let Some(list) = r.vec(3) else { return };
    let Some(cert) = Reader::new(list).vec(3) else {
        return;
    };
    // subjectAltName: OID 2.5.29.17, then an OCTET STRING holding a SEQUENCE
    // of GeneralNames; dNSName is context tag [2].
    const SAN: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
    if let Some(i) = find(cert, SAN) {
        let mut p = i + SAN.len();
        if cert.get(p) == Some(&0x01) {
            p += 3; // critical BOOLEAN
        }
        if cert.get(p) == Some(&0x04)
            && let Some((_, oct)) = der(cert, p)
            && oct.first() == Some(&0x30)
            && let Some((_, mut seq)) = der(oct, 0)
        {
            while !seq.is_empty() {
                let Some((used, val)) = der(seq, 0) else {
                    break;
                };
                if seq[0] == 0x82
                    && let Ok(name) = std::str::from_utf8(val)
                    && f(name)
                {
                    return;
                }
                seq = &seq[used..];
            }
        }
    }
    // commonName: OID 2.5.4.3; the subject's comes after the issuer's.
    const CN: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
    let mut rest = cert;
    let mut last = None;
    while let Some(i) = find(rest, CN) {
        let p = i + CN.len();
        if let Some((used, val)) = der(rest, p) {
            last = std::str::from_utf8(val).ok();
            rest = &rest[p + used..];
        } else {
            break;
        }
    }
    if let Some(cn) = last {
        f(cn);
    }
}

/// DN attribute types nDPI writes into a certificate's subject text, by
/// the last byte of their OID (2.5.4.x).
const DN_ATTRIBUTES: [(u8, &str); 6] = [
    (3, "CN"),
    (6, "C"),
    (7, "L"),
    (8, "ST"),
    (10, "O"),
    (11, "OU"),
];

/// The subject of the first certificate of a Certificate message body, as
/// nDPI writes it: its attributes in order, `KEY=value`, joined by `, `
/// (attributes of other types left out).
pub fn certificate_subject(body: &[u8]) -> Option<String> {
    let list = Reader::new(body).vec(3)?;
    let cert = Reader::new(list).vec(3)?;
    let (_, c) = der(cert, 0)?;
    let (_, tbs) = der(c, 0)?;
    // [0] version (optional), serial, signature algorithm, issuer, validity.
    let mut at = 0;
    if tbs.first() == Some(&0xa0) {
        at += der(tbs, at)?.0;
    }
    for _ in 0..4 {
        at += der(tbs, at)?.0;
    }
    if tbs.get(at) != Some(&0x30) {
        return None;
    }
    let (_, mut rdns) = der(tbs, at)?;
    let mut out = String::new();
    while !rdns.is_empty() {
        let (used, mut set) = der(rdns, 0)?;
        while !set.is_empty() {
            let (u, atv) = der(set, 0)?;
            if atv.first() == Some(&0x06)
                && let Some((n, oid)) = der(atv, 0)
                && let [0x55, 0x04, kind] = oid
                && let Some((_, key)) = DN_ATTRIBUTES.iter().find(|(k, _)| k == kind)
                && let Some((_, value)) = der(atv, n)
                && let Ok(value) = std::str::from_utf8(value)
            {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                out.push_str(value);
            }
            set = &set[u..];
        }
        rdns = &rdns[used..];
    }
    Some(out)
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// One DER element at `at`: (bytes used, contents).
fn der(b: &[u8], at: usize) -> Option<(usize, &[u8])> {
    let first = *b.get(at + 1)?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let mut l = 0usize;
        for i in 0..n {
            l = (l << 8) | usize::from(*b.get(at + 2 + i)?);
        }
        (l, 2 + n)
    };
    let v = b.get(at + hdr..at + hdr + len)?;
    Some((hdr + len, v))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::craft::{client_hello_message, client_hello_record};
    use crate::parse::check_every_prefix;

    fn parse_sni(b: &[u8]) -> Parse<String> {
        let mut scratch = Vec::new();
        match first_handshake(b, &mut scratch) {
            Parse::Done((HS_CLIENT_HELLO, body)) => match client_hello(body) {
                Parse::Done(ch) => Parse::Done(ch.sni.unwrap_or_default().to_owned()),
                _ => Parse::Error,
            },
            Parse::Done(_) => Parse::NotMine,
            Parse::Incomplete(n) => Parse::Incomplete(n),
            Parse::NotMine => Parse::NotMine,
            Parse::Error => Parse::Error,
        }
    }

    #[test]
    fn client_hello_fields() {
        let rec = client_hello_record("www.example.org", 0);
        let mut scratch = Vec::new();
        let Parse::Done((t, body)) = first_handshake(&rec, &mut scratch) else {
            panic!()
        };
        assert_eq!(t, HS_CLIENT_HELLO);
        let Parse::Done(ch) = client_hello(body) else {
            panic!()
        };
        assert_eq!(ch.sni, Some("www.example.org"));
        assert_eq!(ch.alpn, Some(&[2, b'h', b'2'][..]));
        assert_eq!(ch.ext_types, vec![0x0a0a, 0, 16, 43, 13, 21]);
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a0b));
    }

    #[test]
    fn every_prefix_of_a_client_hello_is_incomplete() {
        check_every_prefix(&client_hello_record("a.example", 0), |b| {
            parse_sni(b).map(|_| ())
        });
        check_every_prefix(&client_hello_record("big.example", 3000), |b| {
            parse_sni(b).map(|_| ())
        });
    }

    #[test]
    fn a_client_hello_split_over_records_is_joined() {
        let hs = client_hello_message("split.example", 500);
        let mut stream = Vec::new();
        for chunk in hs.chunks(200) {
            stream.extend_from_slice(&[RECORD_HANDSHAKE, 3, 3]);
            stream.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            stream.extend_from_slice(chunk);
        }
        assert_eq!(parse_sni(&stream), Parse::Done("split.example".into()));
        for n in 0..stream.len() {
            assert!(parse_sni(&stream[..n]).is_incomplete(), "{n}");
        }
    }

    #[test]
    fn garbage_is_not_mine_or_error_never_a_panic() {
        assert_eq!(parse_sni(b"GET / HTTP/1.1\r\n"), Parse::NotMine);
        let mut rec = client_hello_record("x.example", 0);
        for i in 0..rec.len() {
            let saved = rec[i];
            for v in [0u8, 0xff, 0x7f] {
                rec[i] = v;
                let _ = parse_sni(&rec);
            }
            rec[i] = saved;
        }
    }
}
