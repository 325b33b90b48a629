//! Server names to values, as nDPI's host lists match them: a name ending
//! in a listed domain (the domain itself or a parent of the name) takes the
//! longest such domain's value; failing that, the first pattern (`~text`,
//! nDPI's entries that end in a dot or a dash or begin with a dash) found
//! anywhere in the name. Of two equal domains or patterns the first wins,
//! as nDPI keeps the first of a duplicate.
use std::collections::HashMap;

/// The longest server name looked up (DNS's limit).
pub const MAX_NAME: usize = 253;

/// Domains and patterns with their values.
pub(crate) struct NameMap<T> {
    domains: HashMap<String, T>,
    patterns: Vec<(String, T)>,
    /// `patterns` indexed by first byte, so a lookup compares only the
    /// patterns that can start at each position.
    by_first: Vec<Vec<usize>>,
}

impl<T: Copy> NameMap<T> {
    pub(crate) fn new() -> NameMap<T> {
        NameMap {
            domains: HashMap::new(),
            patterns: Vec::new(),
            by_first: vec![Vec::new(); 256],
        }
    }

    /// Adds a domain, or a pattern if written `~text`; the first of two
    /// equal ones stays.
    pub(crate) fn insert(&mut self, domain: &str, value: T) {
        match domain.strip_prefix('~') {
            Some(p) => {
                let p = p.to_ascii_lowercase();
                if !self.patterns.iter().any(|(q, _)| *q == p) {
                    if let Some(&b) = p.as_bytes().first() {
                        self.by_first[usize::from(b)].push(self.patterns.len());
                    }
                    self.patterns.push((p, value));
                }
            }
            None => {
                self.domains
                    .entry(domain.to_ascii_lowercase())
                    .or_insert(value);
            }
        }
    }

    /// The value of a server name. Case-insensitive; a trailing dot is
    /// ignored.
    pub(crate) fn get(&self, host: &str) -> Option<T> {
        let host = host.trim_end_matches('.');
        if host.is_empty() || host.len() > MAX_NAME {
            return None;
        }
        let mut buf = [0u8; MAX_NAME];
        let lower = &mut buf[..host.len()];
        lower.copy_from_slice(host.as_bytes());
        lower.make_ascii_lowercase();
        let lower = std::str::from_utf8(lower).ok()?;
        let mut s = lower;
        loop {
            if let Some(&v) = self.domains.get(s) {
                return Some(v);
            }
            match s.find('.') {
                Some(i) => s = &s[i + 1..],
                None => break,
            }
        }
        // The first pattern (in insertion order) found anywhere in the name.
        let b = lower.as_bytes();
        let mut best: Option<usize> = None;
        for i in 0..b.len() {
            for &k in &self.by_first[usize::from(b[i])] {
                if best.is_some_and(|m| m <= k) {
                    break;
                }
                if b[i..].starts_with(self.patterns[k].0.as_bytes()) {
                    best = Some(k);
                }
            }
        }
        best.map(|k| self.patterns[k].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_domain_then_first_pattern_and_the_first_duplicate_stays() {
        let mut m = NameMap::new();
        m.insert("example.com", 1);
        m.insert("a.example.com", 2);
        m.insert("example.com", 3);
        m.insert("~cdn-", 4);
        m.insert("~cdn-", 5);
        m.insert("~dn-", 6);
        assert_eq!(m.get("X.A.Example.COM."), Some(2));
        assert_eq!(m.get("b.example.com"), Some(1));
        assert_eq!(m.get("notexample.com"), None);
        assert_eq!(m.get("img.cdn-7.net"), Some(4));
        assert_eq!(m.get("dn-7.net"), Some(6));
        assert_eq!(m.get(""), None);
        assert_eq!(m.get(&"a.".repeat(200)), None);
    }
}
