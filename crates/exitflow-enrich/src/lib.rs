//! Enrichment for exitflow: each flow's endpoints get a country (and ASN,
//! and a proxy flag) from MaxMind DB files, and the flow a Tor role —
//! `exit`, `relay`, `dirport`, `management`, `resolver`, `relay-host` or
//! `other` — from the relay's consensus and configuration; the exit policy
//! from tor itself (its control port) when it can be asked.
#![forbid(unsafe_code)]

pub mod error;
pub mod exitpolicy;
pub mod geoip;
pub mod role;
pub mod tor;
pub mod torcontrol;
pub mod torrc;

pub use error::{EnrichError, LineError};
pub use exitpolicy::ExitPolicy;
pub use geoip::{GeoDb, GeoInfo, GeoSet};
pub use role::{Role, RoleConfig};
pub use tor::Consensus;
