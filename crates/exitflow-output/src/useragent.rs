//! User-agents reduced to a family and a major version ("Firefox 128")
//! with uap-core's maintained data, and never to anything a client chose:
//! a family that does not come from the data's own fixed names (a
//! catch-all that echoes a bot's self-chosen name, say) becomes the
//! well-known crawler it names (a public list), else `Other`,
//! and a major version is kept only where the browser is known to have
//! released it (MDN's browser data, `data/browser-majors.txt`; `Firefox
//! 7341` becomes `Firefox`, `curl 4242` becomes `curl`), so the values form
//! a public vocabulary. Content types likewise: IANA's registered media
//! types (`data/iana-media-types.txt`), else `other`.
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use ua_parser::user_agent;

/// uap-core's user-agent parsers (see `data/README.md`).
const DATA: &str = include_str!("../data/uap-core-user-agents.json");

/// Browser major versions known to exist, per uap-core family (see
/// `scripts/vocabularies.py`).
const BROWSER_MAJORS: &str = include_str!("../data/browser-majors.txt");
/// IANA's media types (see `scripts/vocabularies.py`).
const MEDIA_TYPES: &str = include_str!("../data/iana-media-types.txt");
/// Names of well-known crawlers (crawler-user-agents; see
/// `scripts/vocabularies.py`): part of the vocabulary, so a crawler uap-core
/// names only by echoing it (Baiduspider, the 2021 study's top user-agent)
/// keeps its name.
const CRAWLERS: &str = include_str!("../data/crawlers.txt");

struct Crawlers {
    names: Vec<&'static str>,
    set: HashSet<&'static str>,
    matcher: aho_corasick::AhoCorasick,
}

fn crawlers() -> &'static Crawlers {
    static C: OnceLock<Crawlers> = OnceLock::new();
    C.get_or_init(|| {
        let names: Vec<&'static str> = data_lines(CRAWLERS).collect();
        let matcher =
            aho_corasick::AhoCorasick::new(&names).expect("the bundled crawler names build");
        Crawlers {
            set: names.iter().copied().collect(),
            names,
            matcher,
        }
    })
}

/// The well-known crawler a user-agent names: the longest crawler name it
/// holds (ties: the first in alphabetical order), if any.
pub fn crawler(ua: &str) -> Option<&'static str> {
    let c = crawlers();
    c.matcher
        .find_overlapping_iter(ua)
        .map(|m| c.names[m.pattern().as_usize()])
        .min_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)))
}

/// Whether a value is a crawler's name.
pub fn is_crawler(name: &str) -> bool {
    crawlers().set.contains(name)
}

/// What a content type outside IANA's registry becomes.
pub const OTHER_CONTENT_TYPE: &str = "other";

fn data_lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn known_majors() -> &'static HashMap<&'static str, HashSet<u32>> {
    static M: OnceLock<HashMap<&'static str, HashSet<u32>>> = OnceLock::new();
    M.get_or_init(|| {
        data_lines(BROWSER_MAJORS)
            .filter_map(|l| l.split_once('\t'))
            .map(|(f, v)| (f, v.split(',').filter_map(|x| x.parse().ok()).collect()))
            .collect()
    })
}

fn media_types() -> &'static HashSet<&'static str> {
    static M: OnceLock<HashSet<&'static str>> = OnceLock::new();
    M.get_or_init(|| data_lines(MEDIA_TYPES).collect())
}

/// Whether `family` is known to have released major version `major`.
pub fn known_major(family: &str, major: &str) -> bool {
    major
        .parse::<u32>()
        .ok()
        .is_some_and(|m| known_majors().get(family).is_some_and(|s| s.contains(&m)))
}

/// What a user-agent no fixed family matches becomes.
pub const OTHER: &str = "Other";
/// Longest major version kept (digits); longer ones are dropped.
pub const MAX_MAJOR_DIGITS: usize = 4;

struct Families {
    extractor: user_agent::Extractor<'static>,
    /// Every family the data can name without echoing the user-agent.
    fixed: HashSet<String>,
}

/// The literal alternatives of a regex's first group, `(A|B C)`, when it
/// holds nothing but literal names.
fn literal_first_group(regex: &str) -> Vec<String> {
    let Some(start) = regex.find('(') else {
        return Vec::new();
    };
    let rest = &regex[start + 1..];
    let Some(end) = rest.find(')') else {
        return Vec::new();
    };
    let group = rest[..end].replace("\\ ", " ");
    let literal = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
    };
    let alts: Vec<String> = group.split('|').map(str::to_owned).collect();
    if alts.iter().all(|a| literal(a)) {
        alts
    } else {
        Vec::new()
    }
}

fn families() -> &'static Families {
    static F: OnceLock<Families> = OnceLock::new();
    F.get_or_init(|| {
        let r: ua_parser::Regexes<'static> =
            serde_json::from_str(DATA).expect("the bundled uap-core data parses");
        let mut fixed = HashSet::new();
        for p in &r.user_agent_parsers {
            let alts = literal_first_group(&p.regex);
            match p.family_replacement.as_deref() {
                Some(f) if !f.contains('$') => {
                    fixed.insert(f.to_owned());
                }
                Some(f) => {
                    for a in &alts {
                        fixed.insert(f.replace("$1", a));
                    }
                }
                None => fixed.extend(alts),
            }
        }
        let extractor = r
            .user_agent_parsers
            .into_iter()
            .try_fold(user_agent::Builder::new(), |b, p| b.push(p))
            .and_then(|b| b.build().map_err(Into::into))
            .expect("the bundled uap-core regexes compile");
        Families { extractor, fixed }
    })
}

/// The family and major version of a user-agent, from the fixed vocabulary.
pub fn family(ua: &str) -> String {
    let f = families();
    let other = || crawler(ua).unwrap_or(OTHER).to_owned();
    let Some(v) = f.extractor.extract(ua) else {
        return other();
    };
    if !f.fixed.contains(v.family.as_ref()) {
        return other();
    }
    match v.major {
        Some(m)
            if !m.is_empty()
                && m.len() <= MAX_MAJOR_DIGITS
                && m.bytes().all(|b| b.is_ascii_digit())
                && known_major(&v.family, m) =>
        {
            format!("{} {m}", v.family)
        }
        _ => v.family.into_owned(),
    }
}

/// The family alone (no version) of a user-agent or of a value [`family`]
/// wrote: one of [`vocabulary`].
pub fn family_only(ua: &str) -> String {
    let f = families();
    if f.fixed.contains(ua) || ua == OTHER || is_crawler(ua) {
        return ua.to_owned();
    }
    if let Some((fam, major)) = ua.rsplit_once(' ')
        && major.bytes().all(|b| b.is_ascii_digit())
        && f.fixed.contains(fam)
    {
        return fam.to_owned();
    }
    let full = family(ua);
    match full.rsplit_once(' ') {
        Some((fam, major))
            if major.bytes().all(|b| b.is_ascii_digit()) && f.fixed.contains(fam) =>
        {
            fam.to_owned()
        }
        _ => full,
    }
}

/// Every family [`family_only`] can give, sorted: a public vocabulary.
pub fn vocabulary() -> Vec<String> {
    let mut v: Vec<String> = families().fixed.iter().cloned().collect();
    v.extend(crawlers().names.iter().map(|n| (*n).to_owned()));
    v.push(OTHER.to_owned());
    v.sort();
    v.dedup();
    v
}

/// A content type without its parameters, lower-cased, if IANA registers
/// it: `text/html; charset=UTF-8` → `text/html`; anything else (an
/// unregistered or made-up type) becomes [`OTHER_CONTENT_TYPE`].
pub fn content_type(ct: &str) -> String {
    let base = content_type_base(ct);
    if media_types().contains(base.as_str()) {
        base
    } else {
        OTHER_CONTENT_TYPE.to_owned()
    }
}

/// A content type without its parameters, lower-cased (any well-formed
/// `type/subtype`; else `other`).
pub fn content_type_base(ct: &str) -> String {
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match base.split_once('/') {
        Some((t, s)) if token(t) && token(s) => base,
        _ => "other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_tools_reduce_to_family_and_major() {
        for (ua, want) in [
            (
                "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox 128",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36",
                "Chrome 120",
            ),
            // Tools: no data of their releases, the family alone.
            ("curl/8.5.0", "curl"),
            ("Wget/1.21.4", "Wget"),
            ("python-requests/2.31.0", "Python Requests"),
            ("", OTHER),
            ("x", OTHER),
        ] {
            assert_eq!(family(ua), want, "{ua}");
        }
    }

    /// Review finding 2: any Tor user could inject a unique user-agent.
    /// A self-chosen name is never echoed, whatever the data's catch-alls match.
    #[test]
    fn self_chosen_names_never_come_through() {
        for ua in [
            "ZqxUniqueTracker 7f3a9c",
            "Mozilla/5.0 (compatible; Zqx7f3a9cBot/2.1; +http://x.example)",
            "Zqx7f3a9cSpider/1.0",
            "Zqx7f3a9c-crawler/3.0",
            "Zqx7f3a9c/1.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Zqx7f3a9c/99.0",
        ] {
            let f = family(ua);
            assert!(!f.to_ascii_lowercase().contains("zqx"), "{ua:?} -> {f:?}");
        }
    }

    /// The 2021 study's top user-agent and the basis of its crawler
    /// finding: uap-core names Baiduspider only by echoing it, which the
    /// default profile turned into `Other`; the public crawler list keeps
    /// it (and picks the most specific name), while a bot no list knows
    /// still becomes `Other`.
    #[test]
    fn well_known_crawlers_keep_their_names() {
        for (ua, want) in [
            (
                "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
                "Baiduspider",
            ),
            ("Googlebot-News", "Googlebot-News"),
            ("Googlebot-Image/1.0", "Googlebot-Image"),
            ("ZqxSecretCrawlerBot/1.0 (+https://zqx.example/bot)", OTHER),
        ] {
            assert_eq!(family(ua), want, "{ua}");
            assert_eq!(family_only(&family(ua)), want, "{ua}");
        }
        assert_eq!(
            crawler("Mozilla/5.0 (compatible; bingbot/2.0)"),
            Some("bingbot")
        );
        assert_eq!(crawler("Firefox/128.0"), None);
        let voc = vocabulary();
        assert!(voc.iter().any(|v| v == "Baiduspider"));
        assert!(is_crawler("Baiduspider") && !is_crawler("Firefox"));
    }

    #[test]
    fn families_alone_come_from_the_vocabulary() {
        let voc = vocabulary();
        for ua in [
            "Firefox 128",
            "curl/8.5.0",
            "Chrome 120",
            "x",
            "Other",
            "Zqx7f3a9c/1.0",
        ] {
            let f = family_only(ua);
            assert!(voc.binary_search(&f).is_ok(), "{ua} -> {f}");
        }
        assert_eq!(family_only("Firefox 128"), "Firefox");
        assert_eq!(family_only("curl/8.5.0"), "curl");
    }

    #[test]
    fn content_types_lose_their_parameters() {
        assert_eq!(content_type("text/html; charset=UTF-8"), "text/html");
        assert_eq!(content_type("Application/JSON"), "application/json");
        assert_eq!(content_type("image/svg+xml"), "image/svg+xml");
        assert_eq!(
            content_type("text/html; boundary=\"unique-7f3a\""),
            "text/html"
        );
        assert_eq!(content_type("nonsense"), "other");
        assert_eq!(content_type("text/<script>"), "other");
    }

    /// Privacy gate finding 6: versions and types of any size or name
    /// came through (`Firefox 7341`, `curl 4242`,
    /// `zqxmarker7f3a/unique9b2c`, a vendor type naming a clinic's test).
    /// Only versions browsers released and types IANA registers remain.
    #[test]
    fn finding_6_only_public_vocabularies_remain() {
        for (ua, want) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:7341.0) Gecko/20100101 Firefox/7341.0",
                "Firefox",
            ),
            ("curl/4242.0.1", "curl"),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox 128",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/999.0.0.0 Safari/537.36",
                "Chrome",
            ),
        ] {
            assert_eq!(family(ua), want, "{ua}");
        }
        for (ct, want) in [
            ("zqxmarker7f3a/unique9b2c", "other"),
            (
                "application/vnd.exampleclinic-hiv-test-results+json",
                "other",
            ),
            ("+1+1/x", "other"),
            ("-cmd/x", "other"),
            ("text/html; charset=utf-8", "text/html"),
            ("application/json", "application/json"),
            ("image/webp", "image/webp"),
        ] {
            assert_eq!(content_type(ct), want, "{ct}");
        }
    }
}
