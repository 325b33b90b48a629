//! The report's JSON as types: what `exitflow report` writes, what
//! `spark/report.py` must write too, and what `report --from-json` accepts.
//! One module per part; [`schema`] is the JSON Schema generated from them
//! (docs/report.schema.json), against which Spark's output is validated.
//! Every struct refuses unknown fields and needs every field, so a renamed
//! key fails on both sides.
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod definition;
mod figures;

pub use definition::{Definition, Definitions};
pub use figures::{Abuse, AllFlows, Figures, Period, PortCountries};

/// The version of this contract, in every report's `report_version`.
pub const REPORT_VERSION: u32 = 3;

/// A whole report.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportDoc {
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// Made from synthetic traffic (`exitflow demo`).
    pub synthetic: bool,
    /// Parquet files read.
    pub files: u64,
    /// How the data and the report were made.
    pub how_made: HowMade,
    /// Each node's figures.
    pub nodes: BTreeMap<String, Figures>,
    /// All nodes together.
    pub all: Figures,
    /// The published studies set beside the figures.
    pub published: Vec<PublishedStudy>,
    /// How the numbers were protected for publication (`report --publish`),
    /// or `null`.
    pub publication: Option<serde_json::Value>,
    /// Each node's exit policy as recorded.
    pub exit_policies: BTreeMap<String, ExitPolicy>,
    /// Each node's k-anonymity counts.
    pub anonymity: BTreeMap<String, Anonymity>,
}

/// What the files say about how they were made.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HowMade {
    /// exitflow versions that wrote the files.
    pub exitflow_versions: Vec<String>,
    /// Privacy policies the files were written under (`profile=...`).
    pub privacy_policies: Vec<String>,
    /// GeoIP databases.
    pub geoip: Vec<String>,
    /// Flow timeouts (`idle 120 s, active 1800 s, ...`).
    pub timeouts: Vec<String>,
    /// What made the report.
    pub report_by: String,
}

/// A node's exit policy.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExitPolicy {
    /// tor's summary (`accept PORTS` or `reject PORTS`).
    pub summary: String,
    /// Where it was read: `torrc` or `consensus`.
    pub source: String,
}

/// A node's k-anonymity counts (from its totals).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Anonymity {
    /// Flows taken.
    pub flows: u64,
    /// Flows written with a column generalised.
    pub generalised_flows: u64,
    /// Flows not written as rows.
    pub suppressed_flows: u64,
    /// Flows counted under Other in strict tables.
    pub folded_flows: u64,
}

/// A published study, as `data/published.toml` gives it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedStudy {
    /// Short name.
    pub name: String,
    /// Full citation.
    pub citation: String,
    /// Caveats of the publication.
    pub notes: Vec<String>,
    /// Figures by key (keys of [`Definition`]).
    pub figures: BTreeMap<String, f64>,
    /// What 100 % is, by key.
    pub denominators: BTreeMap<String, String>,
    /// Where in the publication, by key.
    #[serde(rename = "where")]
    pub place: BTreeMap<String, String>,
    /// Where a figure does not add up, by key.
    pub figure_notes: BTreeMap<String, String>,
}

/// The report's JSON Schema (draft 2020-12), pretty-printed.
pub fn schema() -> String {
    let s = schemars::schema_for!(ReportDoc);
    serde_json::to_string_pretty(&s).expect("a schema serialises") + "\n"
}

/// A report's JSON checked against the contract: the typed report, or
/// what does not match (a missing, unknown or mistyped field, by path).
pub fn check(j: &serde_json::Value) -> Result<ReportDoc, String> {
    ReportDoc::deserialize(j).map_err(|e| e.to_string())
}
