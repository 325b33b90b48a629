//! Server names to values, as nDPI's host lists match them (measured with
//! nDPI 5.0 on every listed domain and variants of it): a listed domain
//! matches the name itself or a name ending in `.` and the domain; a
//! pattern (`~text`, nDPI's entries that end in a dot or a dash or begin
//! with a dash) matches where it starts the name or a label — anywhere if
//! it begins with a dash — and is followed, if it ends in a dot, by exactly
//! one more label; if it ends in a dash, by anything; otherwise (it begins
//! with a dash) by nothing. Of all that match, the longest wins (a domain
//! over a pattern of its length); of two equal ones the first listed, as
//! nDPI keeps the first of a duplicate.
//!
//! nDPI's category-only lists (host categories) read their patterns
//! otherwise ([`NameMap::for_categories`]): a pattern matches at the
//! name's start only, followed by anything, and one with a dot inside
//! (`iptv.sky.`) never.
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
    /// Patterns as nDPI's host-category lists read them.
    categories: bool,
}

impl<T: Copy> NameMap<T> {
    pub(crate) fn new() -> NameMap<T> {
        NameMap {
            domains: HashMap::new(),
            patterns: Vec::new(),
            by_first: vec![Vec::new(); 256],
            categories: false,
        }
    }

    /// A map whose patterns match as nDPI's host-category lists match them
    /// (measured with TLS server names through NFStream: `xvideos.` files
    /// `xvideos.com.br` but not `www.xvideos.com`; `iptv.sky.` nothing).
    pub(crate) fn for_categories() -> NameMap<T> {
        NameMap {
            categories: true,
            ..NameMap::new()
        }
    }

    /// Adds a domain, or a pattern if written `~text`; the first of two
    /// equal ones stays.
    pub(crate) fn insert(&mut self, domain: &str, value: T) {
        match domain.strip_prefix('~') {
            Some(p) => {
                let p = p.to_ascii_lowercase();
                // A category pattern with a dot inside matches nothing in
                // nDPI: not kept.
                let inner_dot = p.len() > 1 && p[..p.len() - 1].contains('.');
                if self.categories && inner_dot {
                    return;
                }
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
        // The longest listed domain the name ends in (label-aligned).
        let mut s = lower;
        let mut domain = None;
        loop {
            if let Some(&v) = self.domains.get(s) {
                domain = Some((s.len(), v));
                break;
            }
            match s.find('.') {
                Some(i) => s = &s[i + 1..],
                None => break,
            }
        }
        // A longer pattern, the first listed of the longest.
        let b = lower.as_bytes();
        let mut best: Option<(usize, usize)> = None; // (length, index)
        for i in 0..b.len() {
            let label_start = i == 0 || b[i - 1] == b'.';
            // A pattern starts a label, or begins with a dash: other
            // positions hold none (and category patterns only the first).
            if self.categories && i > 0 {
                break;
            }
            if !label_start && b[i] != b'-' {
                continue;
            }
            for &k in &self.by_first[usize::from(b[i])] {
                let p = self.patterns[k].0.as_bytes();
                let longer = |len: usize| {
                    best.is_none_or(|(l, j)| len > l || (len == l && k < j))
                        && domain.is_none_or(|(l, _)| len > l)
                };
                if !longer(p.len()) || !b[i..].starts_with(p) {
                    continue;
                }
                let rest = &b[i + p.len()..];
                let start_ok = label_start || p[0] == b'-';
                // (A category pattern is at the name's start, followed by
                // anything.)
                let end_ok = self.categories
                    || match p[p.len() - 1] {
                        b'.' => !rest.is_empty() && !rest.contains(&b'.'),
                        b'-' => true,
                        _ => rest.is_empty(),
                    };
                if start_ok && end_ok {
                    best = Some((p.len(), k));
                }
            }
        }
        match best {
            Some((_, k)) => Some(self.patterns[k].1),
            None => domain.map(|(_, v)| v),
        }
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

    /// nDPI 5.0's pattern semantics, measured on its own patterns with DNS
    /// queries through NFStream: `ebay.` names `www.ebay.de` but not
    /// `ebay.co.uk` nor `xebay.de`; `-buy.itunes.apple.com` ends a name;
    /// `igcdn-photos-` starts a label; the longest match wins over a
    /// shorter domain (`maps.google.com` is GoogleMaps, not Google).
    #[test]
    fn patterns_match_where_ndpi_matches_them_and_the_longest_wins() {
        let mut m = NameMap::new();
        m.insert("~ebay.", 1);
        m.insert("~-buy.itunes.apple.com", 2);
        m.insert("itunes.apple.com", 3);
        m.insert("~igcdn-photos-", 4);
        m.insert("google.com", 5);
        m.insert("~maps.google.", 6);
        m.insert("~-speedtest.", 7);
        let got = |n: &str| m.get(n);
        assert_eq!(got("ebay.de"), Some(1));
        assert_eq!(got("www.ebay.de"), Some(1));
        assert_eq!(got("ebay.co.uk"), None);
        assert_eq!(got("ebay.com.zz"), None);
        assert_eq!(got("xebay.de"), None);
        assert_eq!(got("x-ebay.de"), None);
        assert_eq!(got("p52-buy.itunes.apple.com"), Some(2));
        assert_eq!(got("x.itunes.apple.com"), Some(3));
        assert_eq!(got("p52-buy.itunes.apple.com.zz"), None);
        assert_eq!(got("igcdn-photos-e-a.akamaihd.net"), Some(4));
        assert_eq!(got("x.igcdn-photos-a.b"), Some(4));
        assert_eq!(got("xigcdn-photos-a.b"), None);
        assert_eq!(got("maps.google.com"), Some(6));
        assert_eq!(got("www.google.com"), Some(5));
        assert_eq!(got("maps.google.co.uk"), None);
        assert_eq!(got("a-speedtest.net"), Some(7));
        assert_eq!(got("x.a-speedtest.net"), Some(7));
        assert_eq!(got("a-speedtest.net.zz"), None);
    }

    #[test]
    fn category_patterns_match_at_the_start_only_and_none_with_a_dot_inside() {
        let mut m = NameMap::for_categories();
        m.insert("~xvideos.", 1);
        m.insert("~iptv.sky.", 2);
        m.insert("pornhub.com", 3);
        assert_eq!(m.get("xvideos.com"), Some(1));
        assert_eq!(m.get("xvideos.com.br"), Some(1));
        assert_eq!(m.get("www.xvideos.com"), None);
        assert_eq!(m.get("iptv.sky.com"), None);
        assert_eq!(m.get("a.pornhub.com"), Some(3));
    }
}
