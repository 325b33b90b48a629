//! The address policy: drop (default), keep, or replace with keyed
//! prefix-preserving pseudonyms (Crypto-PAn construction over AES-128), and a
//! redacting wrapper for anything sensitive that goes near a log line.
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use exitflow_decode::Addr;

use crate::OutputError;

/// Pseudonyms cached per address before the cache is cleared (it is cheap to
/// refill: 32 AES blocks per IPv4 address).
pub const DEFAULT_PSEUDONYM_CACHE: usize = 1 << 16;

/// What happens to IP addresses before a record is written.
#[derive(Clone)]
pub enum AddressPolicy {
    /// Addresses are not written at all (the default).
    Drop,
    /// Addresses are written as captured (explicit opt-in).
    Keep,
    /// Addresses are replaced by keyed prefix-preserving pseudonyms.
    Pseudonymize(Box<CryptoPan>),
}

impl AddressPolicy {
    /// Name recorded in dataset metadata.
    pub fn name(&self) -> &'static str {
        match self {
            AddressPolicy::Drop => "drop",
            AddressPolicy::Keep => "keep",
            AddressPolicy::Pseudonymize(_) => "pseudonymize",
        }
    }

    /// Whether address columns appear in the output.
    pub fn writes_addresses(&self) -> bool {
        !matches!(self, AddressPolicy::Drop)
    }

    /// The written form of an address under this policy.
    pub fn apply(&mut self, a: &Addr, ip_version: u8) -> Option<String> {
        match self {
            AddressPolicy::Drop => None,
            AddressPolicy::Keep => Some(to_ip(a, ip_version).to_string()),
            AddressPolicy::Pseudonymize(c) => Some(c.pseudonym(to_ip(a, ip_version)).to_string()),
        }
    }
}

impl fmt::Debug for AddressPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fixed 16-byte address form as a standard address.
pub fn to_ip(a: &Addr, ip_version: u8) -> IpAddr {
    if ip_version == 4 {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*a))
    }
}

/// Bytes of the key hash that identify a key in file metadata.
pub const KEY_ID_BYTES: usize = 8;

/// The effective user id of this process (Linux: from /proc; `None` where
/// it cannot be read, and the owner check is skipped).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Keyed prefix-preserving address pseudonymisation (Xu, Fan, Ammar, Moon:
/// "Prefix-preserving IP address anonymization", the Crypto-PAn scheme).
/// Two addresses sharing a k-bit prefix get pseudonyms sharing a k-bit prefix.
#[derive(Clone)]
pub struct CryptoPan {
    cipher: Aes128,
    pad: u128,
    /// Which key made the pseudonyms: a hash prefix, recorded in every file
    /// (says nothing of the key itself).
    pub key_id: String,
    cache: HashMap<IpAddr, IpAddr>,
    /// Times the cache was full and cleared.
    pub cache_resets: u64,
}

impl CryptoPan {
    /// From a 32-byte key: the first half keys AES, the second half makes the pad.
    pub fn new(key: &[u8; 32]) -> CryptoPan {
        let cipher = Aes128::new(GenericArray::from_slice(&key[..16]));
        let mut pad = GenericArray::clone_from_slice(&key[16..]);
        cipher.encrypt_block(&mut pad);
        let digest =
            <sha2::Sha256 as sha2::Digest>::digest([&b"exitflow key id\0"[..], key].concat());
        let key_id = digest[..KEY_ID_BYTES]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        CryptoPan {
            cipher,
            key_id,
            pad: u128::from_be_bytes(pad.into()),
            cache: HashMap::new(),
            cache_resets: 0,
        }
    }

    /// Reads a key file: 32 raw bytes, or 64 hexadecimal digits. As ssh
    /// does with private keys, a file that another user owns or that group
    /// or others may read is refused.
    pub fn from_key_file(path: &Path) -> Result<CryptoPan, OutputError> {
        let bad = |reason: &str| OutputError::BadKey {
            path: path.to_owned(),
            reason: reason.into(),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(path).map_err(crate::io_err(path))?;
            if m.mode() & 0o077 != 0 {
                return Err(bad(&format!(
                    "permissions {:04o} are too open: the key must not be accessible by group or others (chmod 600 {})",
                    m.mode() & 0o7777,
                    path.display()
                )));
            }
            if let Some(me) = effective_uid()
                && m.uid() != me
            {
                return Err(bad(&format!(
                    "owned by uid {}, not by the user running exitflow (uid {me})",
                    m.uid()
                )));
            }
        }
        let bytes = std::fs::read(path).map_err(crate::io_err(path))?;
        let key: [u8; 32] = if bytes.len() == 32 {
            bytes.as_slice().try_into().expect("length checked")
        } else {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| bad("expected 32 raw bytes or 64 hex digits"))?
                .trim();
            if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("expected 32 raw bytes or 64 hex digits"));
            }
            let mut k = [0u8; 32];
            for (i, b) in k.iter_mut().enumerate() {
                *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex checked");
            }
            k
        };
        if key.iter().all(|&b| b == key[0]) {
            return Err(bad("key has no entropy (all bytes equal)"));
        }
        Ok(CryptoPan::new(&key))
    }

    fn otp(&self, addr: u128, bits: u32) -> u128 {
        let mut result = 0u128;
        for i in 0..bits {
            // Block i: the address's first i bits, then the pad's remaining bits.
            let keep = if i == 0 { 0 } else { u128::MAX << (128 - i) };
            let block = (addr & keep) | (self.pad & !keep);
            let mut b = GenericArray::from(block.to_be_bytes());
            self.cipher.encrypt_block(&mut b);
            let bit = u128::from(b[0] >> 7);
            result |= bit << (127 - i);
        }
        result
    }

    /// The pseudonym of an address.
    pub fn pseudonym(&mut self, ip: IpAddr) -> IpAddr {
        if let Some(p) = self.cache.get(&ip) {
            return *p;
        }
        let out = match ip {
            IpAddr::V4(v4) => {
                let a = u128::from(u32::from(v4)) << 96;
                let p = a ^ self.otp(a, 32);
                IpAddr::V4(Ipv4Addr::from((p >> 96) as u32))
            }
            IpAddr::V6(v6) => {
                let a = u128::from(v6);
                IpAddr::V6(Ipv6Addr::from(a ^ self.otp(a, 128)))
            }
        };
        if self.cache.len() >= DEFAULT_PSEUDONYM_CACHE {
            self.cache.clear();
            self.cache_resets += 1;
        }
        self.cache.insert(ip, out);
        out
    }
}

/// Wraps a sensitive value so that logging it cannot leak it: `Display` and
/// `Debug` print `<redacted>`. The value is reachable only through
/// [`Redacted::expose`], which makes every use visible in review.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a value.
    pub fn new(v: T) -> Self {
        Redacted(v)
    }
    /// The wrapped value, for code that must use it (never for logging).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> [u8; 32] {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8 * 7);
        }
        k
    }

    fn common_prefix(a: IpAddr, b: IpAddr) -> u32 {
        match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros(),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros(),
            _ => 0,
        }
    }

    #[test]
    fn prefixes_are_preserved_and_depend_on_the_key() {
        let mut c = CryptoPan::new(&key(1));
        let mut d = CryptoPan::new(&key(2));
        let addrs: Vec<IpAddr> = [
            "192.0.2.1",
            "192.0.2.77",
            "192.0.3.1",
            "198.51.100.9",
            "10.1.2.3",
            "2001:db8::1",
            "2001:db8::2",
            "2001:db8:1::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut differs = 0;
        for &a in &addrs {
            for &b in &addrs {
                let (pa, pb) = (c.pseudonym(a), c.pseudonym(b));
                assert_eq!(common_prefix(a, b), common_prefix(pa, pb), "{a} {b}");
            }
            assert_ne!(c.pseudonym(a), a);
            if c.pseudonym(a) != d.pseudonym(a) {
                differs += 1;
            }
        }
        assert_eq!(differs, addrs.len());
        // Same /24 in, same /24 out.
        let p1 = c.pseudonym("203.0.113.5".parse().unwrap());
        let p2 = c.pseudonym("203.0.113.200".parse().unwrap());
        assert!(common_prefix(p1, p2) >= 24);
    }

    #[test]
    fn redacted_never_prints_its_value() {
        let r = Redacted::new("198.51.100.7");
        assert_eq!(format!("{r} {r:?}"), "<redacted> <redacted>");
        assert_eq!(*r.expose(), "198.51.100.7");
    }

    /// Writes a key file readable by its owner only.
    fn write_key(p: &Path, bytes: impl AsRef<[u8]>) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(p, bytes).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// The sample key of the Crypto-PAn reference distribution.
    const SAMPLE_KEY: [u8; 32] = [
        21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16, 216, 152, 143, 131,
        121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2,
    ];

    #[test]
    fn every_vector_of_the_reference_sample_trace_matches() {
        let mut c = CryptoPan::new(&SAMPLE_KEY);
        let mut n = 0;
        for line in include_str!("../data/cryptopan-sample.txt").lines() {
            if line.starts_with('#') {
                continue;
            }
            let (raw, want) = line.split_once(' ').unwrap();
            let got = c.pseudonym(raw.parse().unwrap());
            assert_eq!(got.to_string(), want, "{raw}");
            n += 1;
        }
        assert_eq!(n, 71);
    }

    /// Review finding 5: the key file's permissions were never checked and
    /// files did not say which key made them.
    #[test]
    fn keys_readable_by_others_are_refused_and_each_key_has_an_id() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_key(&p, key(3));
        let a = CryptoPan::from_key_file(&p).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = CryptoPan::from_key_file(&p).err().unwrap().to_string();
            assert!(
                e.contains("too open") && e.contains("chmod 600"),
                "{mode:o}: {e}"
            );
        }
        write_key(&p, key(4));
        let b = CryptoPan::from_key_file(&p).unwrap();
        assert_eq!(a.key_id.len(), 2 * KEY_ID_BYTES);
        assert_ne!(a.key_id, b.key_id, "a rotated key has a new id");
        assert_eq!(a.key_id, CryptoPan::new(&key(3)).key_id);
        let hex: String = key(3).iter().map(|b| format!("{b:02x}")).collect();
        assert!(!hex.contains(&a.key_id), "the id is not part of the key");
    }

    #[test]
    fn key_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write_key(&p, "00".repeat(32));
        assert!(CryptoPan::from_key_file(&p).is_err());
        write_key(&p, "short");
        let e = CryptoPan::from_key_file(&p).err().unwrap().to_string();
        assert!(e.contains("64 hex digits"), "{e}");
        write_key(&p, key(3));
        assert!(CryptoPan::from_key_file(&p).is_ok());
        let hex: String = key(3).iter().map(|b| format!("{b:02x}")).collect();
        write_key(&p, format!("{hex}\n"));
        assert!(CryptoPan::from_key_file(&p).is_ok());
    }
}
