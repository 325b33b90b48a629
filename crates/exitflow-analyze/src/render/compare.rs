//! The comparison with the published studies, and the notes on how the
//! numbers were made and published.
use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use super::document::Ctx;
use super::*;

pub(super) fn comparison(c: &Ctx) -> Vec<Section> {
    let defs = c.defs;
    let has_exit = c.has_exit;
    let studies = &c.studies;
    let h = &c.j["how_made"];
    let mut out = Vec::new();
    // Compared with published studies: the 2021 study's definition beside
    // its figures, exit traffic beside it.
    let compared: &[(&str, &str)] = &[
        ("tls_share", "TLS share (%)"),
        ("tls_tor_share", "TLS.Tor: connections to relays (%)"),
        ("http_share", "HTTP share (%)"),
        ("bittorrent_share", "BitTorrent share (%)"),
        ("unknown_share", "Unknown share (%)"),
        ("guessed_share", "Labels guessed from the port (%)"),
        ("failed_share", "Failed flows (%)"),
        ("mean_duration_s", "Mean flow duration (s)"),
        ("port_443_share", "Destination port 443 (%)"),
        ("port_5222_share", "Destination port 5222 (%)"),
        ("port_80_share", "Destination port 80 (%)"),
        ("port_25_share", "Destination port 25 (%)"),
        (
            "port_5222_top3_countries_share",
            "Port 5222: top 3 countries (%)",
        ),
        ("dst_proxy_share", "Destination flagged as proxy (%)"),
        ("unique_dst_countries", "Destination countries"),
        ("unique_src_countries", "Source countries (not the relay)"),
        (
            "http_unknown_content_type_share",
            "HTTP flows without content type (%)",
        ),
        ("content_type_text", "Content type text (%)"),
        ("content_type_application", "Content type application (%)"),
        ("content_type_image", "Content type image (%)"),
        ("content_type_audio", "Content type audio (%)"),
        ("content_type_video", "Content type video (%)"),
        ("content_type_other", "Content type other (%)"),
    ];
    let mut head = vec![
        "figure".to_string(),
        "this dataset, 2021 definition".to_string(),
        "this dataset, exit traffic".to_string(),
    ];
    head.extend(studies.iter().map(|p| s(&p["name"])));
    head.push("denominator (published)".into());
    head.push("notes on the published figure".into());
    let count_keys = ["unique_dst_countries", "unique_src_countries"];
    let cell = |v: &Value, k: &str| {
        if count_keys.contains(&k) {
            n_or_few(v)
        } else {
            f2(v)
        }
    };
    let cmp_rows = compared
        .iter()
        .map(|(k, label)| {
            let mut r = vec![
                label.to_string(),
                cell(&defs["study_2021"][*k], k),
                if has_exit {
                    cell(&defs["exit"][*k], k)
                } else {
                    "–".into()
                },
            ];
            let mut den = BTreeSet::new();
            let mut notes = Vec::new();
            for p in studies {
                r.push(
                    p["figures"][*k]
                        .as_f64()
                        .map_or("–".into(), |v| format!("{v:.2}")),
                );
                if let Some(d) = p["denominators"][*k].as_str() {
                    den.insert(format!("{}: {d} ({})", s(&p["name"]), s(&p["where"][*k])));
                }
                if let Some(n) = p["figure_notes"][*k].as_str() {
                    notes.push(format!("{}: {n}", s(&p["name"])));
                }
            }
            if let Some((_, n)) = DATASET_NOTES.iter().find(|(key, _)| key == k) {
                notes.push(format!("This dataset: {n}"));
            }
            r.push(den.into_iter().collect::<Vec<_>>().join("; "));
            r.push(notes.join(" "));
            r
        })
        .collect();
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut blocks = Vec::new();
    if let Some(w) = timeout_warning(&h["timeouts"]) {
        blocks.push(Block::Warning(w));
    }
    blocks.push(table(
        &head_refs,
        cmp_rows,
        Some(format!(
            "2021 definition: {DEFINITION_2021} (source countries: of those flows, without the ones the relay began). Exit traffic: {DEFINITION_EXIT}. Failed: of the same roles' flows, failed ones included. Content types: of HTTP flows with one."
        )),
    ));
    for p in studies {
        let mut text = format!("{} — {}", s(&p["name"]), s(&p["citation"]));
        for n in p["notes"].as_array().into_iter().flatten() {
            text.push_str(" Note: ");
            text.push_str(&s(n));
        }
        blocks.push(Block::Para(text));
    }
    out.push(Section {
        id: "published".into(),
        title: "Compared with published studies".into(),
        blocks,
    });
    out
}

/// Where this dataset's own figure is not like for like with the
/// published one, whatever the data.
pub(super) const DATASET_NOTES: &[(&str, &str)] = &[
    (
        "guessed_share",
        "not comparable: exitflow marks a label guessed where NFStream 6.6 does not (on the mix-1 capture 14.3 % of labels against NFStream's 4.6 %), so this row says little beside the study's.",
    ),
    (
        "mean_duration_s",
        "comparable with the study's only where no timeout warning is shown above (its active timeout was 3600 s).",
    ),
];

/// The 2021 study's flow timeouts: NFStream's defaults but for
/// `active_timeout=3600` (its appendix A.2).
pub const STUDY_TIMEOUTS: &str = "idle 120 s, active 3600 s";

/// A warning when the dataset's flows were not metered with the 2021
/// study's timeouts (`how_made.timeouts`, as recorded in the files).
pub(super) fn timeout_warning(timeouts: &Value) -> Option<String> {
    let list: Vec<String> = timeouts
        .as_array()
        .map(|v| v.iter().map(s).collect())
        .unwrap_or_default();
    let like_study = |t: &String| t.starts_with(STUDY_TIMEOUTS);
    if !list.is_empty() && list.iter().all(like_study) {
        return None;
    }
    let used = if list.is_empty() {
        "not recorded in the files".to_string()
    } else {
        list.join("; ")
    };
    Some(format!(
        "Flow timeouts differ from the 2021 study's: this dataset's are {used}; the study ran NFStream with {STUDY_TIMEOUTS} (its appendix A.2). A shorter active timeout cuts long flows into more, shorter ones, so flow counts, shares and mean durations are not like for like. Ingest or capture with --flow-preset study-2021 to meter as the study did."
    ))
}

/// The publication paragraph of the introduction.
pub(super) fn publication_intro(p: &Value) -> String {
    let nodes = p["nodes"].as_object().cloned().unwrap_or_default();
    let units: usize = nodes
        .values()
        .map(|n| n["units"].as_array().map_or(0, Vec::len))
        .sum();
    let mut eps = BTreeSet::new();
    let mut bounds = BTreeSet::new();
    let mut budgets = BTreeSet::new();
    for n in nodes.values() {
        budgets.insert(n["budget_per_day"].to_string());
        for u in n["units"].as_array().into_iter().flatten() {
            eps.insert(u["epsilon"].to_string());
            bounds.insert(u["action_bound"].to_string());
        }
    }
    let join = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>().join(", ");
    let covered = &p["window_covered"];
    let mut out = format!(
        "Published with differential privacy (δ = {:.0e}, from the sampler's resolution). This report is the sum of {units} stored release units (one node's UTC days each, released once with fresh noise; listed in report.json), covering {} to {} UTC: a window snaps to whole units. Each unit spent ε = {} (budget {} per node-day); the unit of privacy is up to {} flow(s) of one client per unit. A value of an open vocabulary (ports, countries, protocols, user-agent families) is shown only when its noisy count reached the unit's threshold, so that values with no flows are almost never shown (at most {} expected per table of a unit); a value's sum counts the units where it reached the threshold; '{}' is the noisy total minus the values shown. Each table states its noise. Not released: {}.",
        p["delta"].as_f64().unwrap_or(0.0),
        s(&covered[0]),
        s(&covered[1]),
        join(eps),
        join(budgets),
        join(bounds),
        p["phantom_values_per_table_and_unit"],
        crate::publish::assemble::OTHER_ESTIMATE,
        s(&p["not_released"]),
    );
    out.push_str(" Packets, bytes and durations are released as sums of the stored per-flow values clipped per flow: power-of-two buckets under the strict profile, so they read low (the hourly exact sums are not released: their sensitivity is the clip, not a bucket).");
    let pending = p["not_yet_complete"].as_array().map_or(0, Vec::len);
    if pending > 0 {
        let _ = write!(
            out,
            " {pending} unit(s) of the window are not over yet and were not released."
        );
    }
    out
}

/// Sections and the statistic whose noise their tables carry.
pub(super) const SECTION_STATISTICS: &[(&str, &str, &str)] = &[
    ("applications", "master_protocols", "flows per protocol"),
    ("categories", "categories", "flows per category"),
    ("dst-countries", "dst_countries", "flows per country"),
    ("src-countries", "src_countries", "flows per country"),
    ("ports", "dst_ports", "flows per port"),
    ("user-agents", "user_agent_families", "flows per family"),
    ("content-types", "content_type_families", "flows per family"),
    ("hours", "hours_utc", "flows per hour"),
    ("nodes", "flows", "flows per node"),
];

/// Under --publish, a section's noise: scale, 95 % interval, threshold, or
/// that too few flows were there to publish anything.
pub(super) fn noise_note(p: &Value, section: &str) -> Option<String> {
    let (_, stat, what) = SECTION_STATISTICS.iter().find(|x| x.0 == section)?;
    // Source countries are over two slices (exit and other roles, more
    // than 4 packets): their noise adds.
    let slices: &[&str] = if section == "src-countries" {
        &["exit", "other"]
    } else {
        &["exit"]
    };
    let ts: Vec<&Value> = slices
        .iter()
        .map(|sl| &p["all_nodes_tables"][*sl][stat])
        .filter(|t| !t.is_null())
        .collect();
    let t = ts.first()?;
    if ts
        .iter()
        .all(|t| t["too_few_flows"].as_bool() == Some(true))
    {
        return Some(format!(
            "Too few flows to publish: no value reached the threshold of {} flows per unit (noise scale {:.1} per unit).",
            t["threshold_per_unit"],
            t["noise_scale_per_unit"].as_f64().unwrap_or(0.0)
        ));
    }
    let units: u64 = ts.iter().map(|t| u(&t["units"])).sum();
    let half = ts
        .iter()
        .map(|t| t["ci95_half_width"].as_f64().unwrap_or(0.0).powi(2))
        .sum::<f64>()
        .sqrt();
    let mut note = format!(
        "Differential privacy: noise of scale {:.1} per unit; a value of all nodes sums {units} unit(s), 95 % interval ±{half:.0} {what}",
        t["noise_scale_per_unit"].as_f64().unwrap_or(0.0),
    );
    if let Some(th) = t["threshold_per_unit"].as_i64() {
        let _ = write!(
            note,
            "; a value is shown only where it reached {th} flows in a unit"
        );
    }
    note.push('.');
    Some(note)
}
