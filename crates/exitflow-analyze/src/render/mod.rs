//! The report: every number as JSON, and from that JSON alone (so a JSON
//! computed elsewhere, by Spark say, renders the same) a Markdown document
//! and one self-contained HTML page with inline SVG charts, each chart next
//! to its table (nothing fetched from the network).
//!
//! `figures` builds the typed JSON (`crate::contract`) from the scan's
//! aggregates; `document` (with `tables` and `compare`) turns a report's
//! JSON into sections of paragraphs, tables and charts, section by
//! section; `markdown`, `html` and `svg` write them out.
//!
//! The main tables are over exit traffic (exit flows of more than 4
//! packets); the comparison with the published studies is over the 2021
//! study's own definition; every flow of every role has a section too.
use serde_json::Value;

mod compare;
mod document;
mod figures;
mod html;
mod markdown;
mod svg;
mod tables;

pub use figures::{doc, json};
pub use html::{FOLD_ROWS, html, html_from_json};
pub use markdown::{markdown, markdown_from_json, md_text};

use crate::pct;

/// Entries in the "top 8 + Other" charts.
pub const CHART_TOP: usize = 8;

/// Rows of the abuse tables.
pub const ABUSE_ROWS: usize = 20;

/// Destination ports of login services, watched for brute force.
pub const LOGIN_PORTS: &[(u64, &str)] = &[
    (21, "FTP"),
    (22, "SSH"),
    (23, "Telnet"),
    (25, "SMTP"),
    (110, "POP3"),
    (143, "IMAP"),
    (445, "SMB"),
    (587, "SMTP submission"),
    (993, "IMAPS"),
    (995, "POP3S"),
    (3389, "RDP"),
    (5900, "VNC"),
];

/// What the study's denominator is, in words.
pub const STUDY_SCOPE: &str = "exit flows of more than 4 packets";

/// The same when no flow has the exit role.
pub const STUDY_SCOPE_NO_ROLES: &str = "flows of more than 4 packets, every role (no flow has the exit role: the relay's own addresses were not given)";

/// `YYYY-MM-DD HH:00` (UTC) of a time in ms.
pub fn hour_label(ms: u64) -> String {
    format!(
        "{} {:02}:00",
        exitflow_output::dataset::utc_date(ms),
        (ms % 86_400_000) / 3_600_000
    )
}

/// The 2021 study's definition of its row set, in words.
pub const DEFINITION_2021: &str =
    "flows of more than 4 packets, every Tor role (relay traffic included)";

/// Exit traffic, in words.
pub const DEFINITION_EXIT: &str = "exit flows of more than 4 packets";

/// All flows, in words.
pub const DEFINITION_ALL: &str = "every flow of every role, failed ones included";

/// A table of the document, with what 100 % is.
pub(super) struct Table {
    pub(super) head: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
    pub(super) note: Option<String>,
    /// Past [`FOLD_ROWS`] rows, the rest folded in HTML (not for a
    /// table of facts read whole, as how the report was made).
    pub(super) fold: bool,
}

/// A chart: bars (label, value) or columns over ordered labels.
pub(super) enum Chart {
    Bars {
        title: String,
        items: Vec<(String, u64)>,
        total: u64,
        unit: &'static str,
    },
    Columns {
        title: String,
        labels: Vec<String>,
        values: Vec<f64>,
        unit: &'static str,
    },
}

pub(super) enum Block {
    Para(String),
    /// A paragraph the reader must not miss (a comparison that is not like
    /// for like).
    Warning(String),
    /// The same blocks for each node: a switch in HTML (one node shown at a
    /// time, no script), one subsection per node in Markdown.
    Nodes(Vec<(String, Vec<Block>)>),
    Table(Table),
    Chart(Chart),
}

pub(super) struct Section {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) blocks: Vec<Block>,
}

pub(super) fn s(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

pub(super) fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

pub(super) fn f2(v: &Value) -> String {
    if v.is_null() {
        return TOO_FEW.into();
    }
    format!("{:.2}", v.as_f64().unwrap_or(0.0))
}

/// A count with thousands separators (`1,234,567`).
pub fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a published value too noisy to show says instead (JSON `null`).
pub const TOO_FEW: &str = "too few flows to publish";

/// An integer cell, or [`TOO_FEW`] for a withheld value.
pub(super) fn n_or_few(v: &Value) -> String {
    if v.is_null() {
        TOO_FEW.into()
    } else {
        thousands(u(v))
    }
}

/// (value, flows, %) rows of a JSON list of [value, flows].
pub(super) fn pairs(v: &Value, total: u64) -> Vec<Vec<String>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let n = u(&p[1]);
                    vec![s(&p[0]), thousands(n), format!("{:.2}", pct(n, total))]
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn bar_items(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .map(|a| a.iter().map(|p| (s(&p[0]), u(&p[1]))).collect())
        .unwrap_or_default()
}

pub(super) fn table(head: &[&str], rows: Vec<Vec<String>>, note: Option<String>) -> Block {
    Block::Table(Table {
        head: head.iter().map(|h| h.to_string()).collect(),
        rows,
        note,
        fold: true,
    })
}

pub(super) fn of(n: u64, what: &str) -> Option<String> {
    Some(format!("100 % = {} {what}.", thousands(n)))
}

pub(super) fn title(j: &Value) -> &'static str {
    if j["synthetic"].as_bool().unwrap_or(false) {
        "Exit traffic report (synthetic data)"
    } else {
        "Exit traffic report"
    }
}
