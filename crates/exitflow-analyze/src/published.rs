//! The published studies the report sets beside a dataset
//! (`data/published.toml`).
use std::collections::BTreeMap;

use serde::Serialize;

/// A published study's figures (data/published.toml).
#[derive(Clone, Debug, serde::Deserialize, Serialize)]
pub struct Published {
    /// Short name (authors and year).
    pub name: String,
    /// Authors.
    pub authors: String,
    /// Title.
    pub title: String,
    /// Where it was published.
    pub venue: String,
    /// Year.
    pub year: u32,
    /// Where the publication contradicts itself, and other caveats.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Figures by key (the report's JSON keys).
    pub figures: BTreeMap<String, f64>,
    /// What 100 % is for each figure.
    #[serde(default)]
    pub denominators: BTreeMap<String, String>,
    /// Where in the publication each figure is.
    #[serde(default, rename = "where")]
    pub place: BTreeMap<String, String>,
    /// Where a figure does not add up with the publication's own counts or
    /// text, shown beside the figure.
    #[serde(default)]
    pub figure_notes: BTreeMap<String, String>,
}

impl Published {
    /// The full citation.
    pub fn citation(&self) -> String {
        format!(
            "{}: {}. {}, {}.",
            self.authors, self.title, self.venue, self.year
        )
    }
}

/// The published studies compared with.
pub fn published() -> Vec<Published> {
    #[derive(serde::Deserialize)]
    struct File {
        study: Vec<Published>,
    }
    let f: File =
        toml::from_str(include_str!("../data/published.toml")).expect("data/published.toml parses");
    f.study
}
