//! MaxMind DB lookups: country (GeoIP2/GeoLite2 schema or ip-location-db's
//! `{country_code}`), ASN (GeoLite2-ASN) and anonymity flags, with explicit
//! values for addresses no database can place.
use crate::EnrichError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use maxminddb::{PathElement, Reader};

/// Addresses whose lookups are cached before the cache is cleared
/// (counter: [`GeoSet::cache_resets`]).
pub const DEFAULT_GEO_CACHE: usize = 1 << 16;

/// What a database holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Countries (either schema).
    Country,
    /// Autonomous systems.
    Asn,
    /// Anonymity flags (GeoIP2 Anonymous IP).
    Anonymous,
}

/// One database. Cloning shares the loaded file (threads each keep a clone).
#[derive(Clone)]
pub struct GeoDb {
    path: PathBuf,
    reader: Arc<Reader<Vec<u8>>>,
    kind: Kind,
    modified: Option<SystemTime>,
}

/// What is known about one address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 code, or one of `private`, `loopback`,
    /// `link-local`, `multicast`, `unspecified`, `unknown`.
    pub country: Arc<str>,
    /// Whether a database flags the address as an anonymous proxy.
    pub is_proxy: bool,
    /// Autonomous system number, 0 when unknown.
    pub asn: u32,
    /// Autonomous system organisation.
    pub as_org: Option<Arc<str>>,
}

impl GeoDb {
    /// Opens a database and works out its kind from its metadata.
    pub fn open(path: &Path) -> Result<GeoDb, EnrichError> {
        let bytes = std::fs::read(path).map_err(|source| EnrichError::Io {
            path: path.to_owned(),
            source,
        })?;
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let reader = Reader::from_source(bytes).map_err(|e| EnrichError::InvalidDatabase {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let t = reader.metadata().database_type.to_ascii_lowercase();
        let kind = if t.contains("asn") {
            Kind::Asn
        } else if t.contains("anonymous") {
            Kind::Anonymous
        } else {
            Kind::Country
        };
        let db = GeoDb {
            path: path.to_owned(),
            reader: Arc::new(reader),
            kind,
            modified,
        };
        // Corrupt files can parse and fail at the first lookup: find out now.
        db.probe()?;
        Ok(db)
    }

    fn probe(&self) -> Result<(), EnrichError> {
        for a in ["1.1.1.1", "81.2.69.160", "2001:218::1", "8.8.8.8"] {
            let ip: IpAddr = a.parse().expect("literal");
            if let Err(e) = self.reader.lookup(ip).and_then(|r| {
                if r.has_data() {
                    r.decode::<serde::de::IgnoredAny>().map(|_| ())
                } else {
                    Ok(())
                }
            }) {
                return Err(EnrichError::InvalidDatabase {
                    path: self.path.clone(),
                    reason: e.to_string(),
                });
            }
        }
        Ok(())
    }

    /// What the database holds.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds what this database knows about `ip` to `out`.
    fn fill(&self, ip: IpAddr, out: &mut GeoInfo) -> Result<(), maxminddb::MaxMindDbError> {
        let r = self.reader.lookup(ip)?;
        if !r.has_data() {
            return Ok(());
        }
        let s = |path: &[PathElement<'_>]| r.decode_path::<String>(path);
        let b = |path: &[PathElement<'_>]| r.decode_path::<bool>(path);
        match self.kind {
            Kind::Country => {
                if out.country.is_empty() {
                    let c = match s(&[PathElement::Key("country"), PathElement::Key("iso_code")])? {
                        Some(c) => Some(c),
                        None => match s(&[
                            PathElement::Key("registered_country"),
                            PathElement::Key("iso_code"),
                        ])? {
                            Some(c) => Some(c),
                            None => s(&[PathElement::Key("country_code")])?,
                        },
                    };
                    if let Some(c) = c {
                        out.country = c.into();
                    }
                }
                if b(&[
                    PathElement::Key("traits"),
                    PathElement::Key("is_anonymous_proxy"),
                ])? == Some(true)
                {
                    out.is_proxy = true;
                }
            }
            Kind::Asn => {
                if let Some(n) =
                    r.decode_path::<u32>(&[PathElement::Key("autonomous_system_number")])?
                {
                    out.asn = n;
                }
                if let Some(o) = s(&[PathElement::Key("autonomous_system_organization")])? {
                    out.as_org = Some(o.into());
                }
            }
            Kind::Anonymous => {
                for k in ["is_public_proxy", "is_anonymous_vpn", "is_anonymous"] {
                    if b(&[PathElement::Key(k)])? == Some(true) {
                        out.is_proxy = true;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Explicit values for addresses no database places.
pub fn special_country(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => {
            if a.is_unspecified() {
                Some("unspecified")
            } else if a.is_loopback() {
                Some("loopback")
            } else if a.is_private() || (a.octets()[0] == 100 && a.octets()[1] & 0xc0 == 64) {
                Some("private")
            } else if a.is_link_local() {
                Some("link-local")
            } else if a.is_multicast() || a.is_broadcast() {
                Some("multicast")
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            if a.is_unspecified() {
                Some("unspecified")
            } else if a.is_loopback() {
                Some("loopback")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("private")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if a.is_multicast() {
                Some("multicast")
            } else if let Some(v4) = a.to_ipv4_mapped() {
                special_country(IpAddr::V4(v4))
            } else {
                None
            }
        }
    }
}

/// All the databases given, with a per-address cache. Clone it per worker
/// thread: the databases are shared, the caches are not (no lock on lookups).
#[derive(Clone, Default)]
pub struct GeoSet {
    dbs: Vec<GeoDb>,
    cache: HashMap<IpAddr, GeoInfo>,
    /// Lookups that failed inside a database (counted, value `unknown`).
    pub lookup_errors: u64,
    /// Times the cache was full and cleared.
    pub cache_resets: u64,
    /// Databases reloaded because their file changed.
    pub reloads: u64,
}

impl GeoSet {
    /// Opens every database.
    pub fn open(paths: &[PathBuf]) -> Result<GeoSet, EnrichError> {
        let dbs = paths
            .iter()
            .map(|p| GeoDb::open(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GeoSet {
            dbs,
            ..Default::default()
        })
    }

    /// Whether any database was given.
    pub fn is_empty(&self) -> bool {
        self.dbs.is_empty()
    }

    /// Each database's type and build time (seconds since the epoch), for
    /// the record of how a dataset was made.
    pub fn describe(&self) -> Vec<(String, u64)> {
        self.dbs
            .iter()
            .map(|d| {
                let m = d.reader.metadata();
                (m.database_type.clone(), m.build_epoch)
            })
            .collect()
    }

    /// When the oldest database was built (seconds since the epoch, from
    /// its metadata), if any is open.
    pub fn oldest_build_epoch(&self) -> Option<u64> {
        self.dbs
            .iter()
            .map(|d| d.reader.metadata().build_epoch)
            .min()
    }

    /// Whether an ASN database was given.
    pub fn has_asn(&self) -> bool {
        self.dbs.iter().any(|d| d.kind == Kind::Asn)
    }

    /// Everything known about an address.
    pub fn lookup(&mut self, ip: IpAddr) -> &GeoInfo {
        if !self.cache.contains_key(&ip) {
            if self.cache.len() >= DEFAULT_GEO_CACHE {
                self.cache.clear();
                self.cache_resets += 1;
            }
            let mut info = GeoInfo::default();
            if let Some(s) = special_country(ip) {
                info.country = s.into();
            } else {
                for db in &self.dbs {
                    if db.fill(ip, &mut info).is_err() {
                        self.lookup_errors += 1;
                    }
                }
                if info.country.is_empty() {
                    info.country = "unknown".into();
                }
            }
            self.cache.insert(ip, info);
        }
        &self.cache[&ip]
    }

    /// Reopens databases whose file changed on disk (long live runs).
    /// A file that fails to load keeps the old copy in use; the error is returned.
    pub fn reload_changed(&mut self) -> Vec<EnrichError> {
        let mut errors = Vec::new();
        for db in &mut self.dbs {
            let now = std::fs::metadata(&db.path).and_then(|m| m.modified()).ok();
            if now.is_some() && now != db.modified {
                match GeoDb::open(&db.path) {
                    Ok(new) => {
                        *db = new;
                        self.reloads += 1;
                        self.cache.clear();
                    }
                    Err(e) => {
                        db.modified = now;
                        errors.push(e);
                    }
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values_and_thread_sharing() {
        assert_eq!(
            special_country("192.168.1.1".parse().unwrap()),
            Some("private")
        );
        assert_eq!(
            special_country("100.64.0.1".parse().unwrap()),
            Some("private")
        );
        assert_eq!(
            special_country("::ffff:10.0.0.1".parse().unwrap()),
            Some("private")
        );
        assert_eq!(special_country("fd00::1".parse().unwrap()), Some("private"));
        assert_eq!(
            special_country("255.255.255.255".parse().unwrap()),
            Some("multicast")
        );
        assert_eq!(special_country("8.8.8.8".parse().unwrap()), None);
        // Clones go to worker threads; an empty set answers from the special values.
        let set = GeoSet::default();
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let mut s = set.clone();
                std::thread::spawn(move || s.lookup("10.0.0.1".parse().unwrap()).country.clone())
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().as_ref(), "private");
        }
        assert_eq!(
            GeoSet::default()
                .clone()
                .lookup("8.8.8.8".parse().unwrap())
                .country
                .as_ref(),
            "unknown"
        );
    }
}
