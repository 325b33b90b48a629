//! Safe publication (`report --publish`): differential privacy for the
//! dataset's whole life.
//!
//! - **Release units.** A publication is made of fixed units: one node ×
//!   a fixed period of whole UTC days (one by default, aligned to
//!   1970-01-01) × the fixed list of statistics of [`units::STATISTICS`].
//!   Each unit is released at most once, with fresh noise from the
//!   operating system's CSPRNG, and stored in the node's `_releases/`
//!   with its ε ([`store`]).
//! - **Reports are sums of stored units** ([`assemble`]): a window snaps
//!   to whole units, local hours are UTC hours shifted, all nodes are the
//!   sum of the nodes. Re-running a report, overlapping windows, time
//!   zones and node sets add no information.
//! - **A budget** of ε per node per day (default 0.3, as Tor's PrivCount
//!   measurements used) bounds every release of the dataset's life; the
//!   ledger records each, and a release that would exceed it is refused.
//! - **No phantom values**: open vocabularies are released over a fixed
//!   public vocabulary with a threshold from its size and the noise scale
//!   ([`noise::threshold`]).
//! - **The unit of privacy** is up to `action_bound` flows per unit (one
//!   by default): the sensitivity of every count is the bound, of every
//!   sum the bound times the per-flow clip.
pub mod assemble;
pub mod noise;
pub mod store;
pub mod units;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::{AnalyzeError, Filter, NodeAgg, Report};
use store::NodeStore;
use units::{MadeBy, UnitRelease, UnitSpec};

/// Per-flow clips of the summed packets, bytes and durations (shared with
/// the strict profile's aggregate tables, which store the clipped sums).
pub use exitflow_output::aggregate::{BYTES_CLIP, DURATION_CLIP_MS, PACKETS_CLIP};

/// Default ε of one unit (each day of a node spends it once).
pub const DEFAULT_EPSILON: f64 = 0.3;
/// Default budget: ε any day of a node may spend over the dataset's life.
pub const DEFAULT_BUDGET: f64 = 0.3;
/// Largest ε or budget accepted: beyond it the guarantee means nothing.
pub const MAX_EPSILON: f64 = 10.0;
/// Default days per unit.
pub const DEFAULT_UNIT_DAYS: u32 = 1;
/// Largest unit.
pub const MAX_UNIT_DAYS: u32 = 366;
/// Default flows of one client a unit protects.
pub const DEFAULT_ACTION_BOUND: u32 = 1;
/// Largest action bound accepted.
pub const MAX_ACTION_BOUND: u32 = 1_000_000;
/// A unit is released only once it ended this long ago: flows of its last
/// hour are written when the hour and their timeouts are over.
pub const RELEASE_GRACE_MS: u64 = 6 * HOUR_MS;
/// New units one run may release: a window that asks for more (a year of
/// days, or a stray directory from 1970) is refused, naming the count.
pub const MAX_NEW_UNITS_PER_RUN: usize = 400;
/// The largest k of the strict profile's folding a unit is released
/// from (the noise scale grows with it): with 2k − 1 below the packet
/// clip, a histogram's scale stays under the clipped sums' that
/// [`PublishConfig::validate`] bounds.
pub const MAX_FOLD_K: u32 = 1000;
/// One hour, ms.
pub const HOUR_MS: u64 = 3_600_000;
/// One day, ms.
pub const DAY_MS: u64 = 86_400_000;

/// Publication settings.
#[derive(Clone, Debug)]
pub struct PublishConfig {
    /// ε of each new unit.
    pub epsilon: f64,
    /// ε any day of a node may spend in all (may lower the ledger's).
    pub budget: f64,
    /// Days per new unit.
    pub unit_days: u32,
    /// Flows of one client a new unit protects.
    pub action_bound: u32,
    /// The time now (ms): units that ended less than [`RELEASE_GRACE_MS`]
    /// before are not released yet.
    pub now_ms: u64,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            epsilon: DEFAULT_EPSILON,
            budget: DEFAULT_BUDGET,
            unit_days: DEFAULT_UNIT_DAYS,
            action_bound: DEFAULT_ACTION_BOUND,
            now_ms: 0,
        }
    }
}

impl PublishConfig {
    /// Refuses settings under which "differential privacy" would not hold
    /// or would mean nothing.
    pub fn validate(&self) -> Result<(), AnalyzeError> {
        let s = |m: String| Err(AnalyzeError::Settings(m));
        let ok = |e: f64| e.is_finite() && e > 0.0 && e <= MAX_EPSILON;
        if !ok(self.epsilon) {
            return s(format!(
                "--epsilon {} is not in (0, {MAX_EPSILON}]",
                self.epsilon
            ));
        }
        if !ok(self.budget) {
            return s(format!(
                "--budget {} is not in (0, {MAX_EPSILON}]",
                self.budget
            ));
        }
        if self.epsilon > self.budget {
            return s(format!(
                "--epsilon {} is over the budget of {} per node-day",
                self.epsilon, self.budget
            ));
        }
        if !(1..=MAX_UNIT_DAYS).contains(&self.unit_days) {
            return s(format!(
                "--unit-days {} is not in 1..={MAX_UNIT_DAYS}",
                self.unit_days
            ));
        }
        let widest = units::STATISTICS
            .iter()
            .filter_map(|(n, k, _)| match k {
                units::Kind::Sum(clip) => Some(
                    *clip as f64 * f64::from(self.action_bound)
                        / (self.epsilon * units::epsilon_share(n)),
                ),
                _ => None,
            })
            .fold(0.0, f64::max);
        if widest > noise::MAX_SCALE {
            return s(format!(
                "--epsilon {} with --action-bound {} gives the clipped sums noise of scale {widest:.3e}, beyond the largest drawn ({:.3e}): raise ε or lower the bound",
                self.epsilon,
                self.action_bound,
                noise::MAX_SCALE
            ));
        }
        if !(1..=MAX_ACTION_BOUND).contains(&self.action_bound) {
            return s(format!(
                "--action-bound {} is not in 1..={MAX_ACTION_BOUND}",
                self.action_bound
            ));
        }
        Ok(())
    }
}

/// Each node's directory under the roots; a node in two roots is refused
/// (its releases must have one home).
fn node_dirs(
    roots: &[PathBuf],
    filter: &Filter,
) -> Result<BTreeMap<String, PathBuf>, AnalyzeError> {
    let mut out: BTreeMap<String, PathBuf> = BTreeMap::new();
    for root in roots {
        let rd = std::fs::read_dir(root).map_err(|source| AnalyzeError::Io {
            path: root.clone(),
            source,
        })?;
        for e in rd {
            let e = e.map_err(|source| AnalyzeError::Io {
                path: root.clone(),
                source,
            })?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(node) = exitflow_output::layout::node_of(&name) else {
                continue;
            };
            if !filter.nodes.is_empty() && !filter.nodes.iter().any(|n| n == node) {
                continue;
            }
            if let Some(first) = out.insert(node.to_owned(), e.path()) {
                return Err(AnalyzeError::Settings(format!(
                    "node {node} is in {} and in {}: a published node's releases need one home (merge the directories first)",
                    first.display(),
                    e.path().display()
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(AnalyzeError::empty(roots));
    }
    Ok(out)
}

/// The first and last day (ms) of a node's day directories.
fn data_days(node_dir: &Path) -> Result<Option<(u64, u64)>, AnalyzeError> {
    let mut days = Vec::new();
    for e in std::fs::read_dir(node_dir).map_err(|source| AnalyzeError::Io {
        path: node_dir.to_owned(),
        source,
    })? {
        let Ok(e) = e else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(d) = name.strip_prefix(exitflow_output::layout::DATE_PREFIX)
            && let Some(ms) = exitflow_output::dataset::parse_utc_date(d)
        {
            days.push(ms);
        }
    }
    Ok(days
        .iter()
        .min()
        .zip(days.iter().max())
        .map(|(a, b)| (*a, *b)))
}

/// The k of the folding the unit's files were written under
/// (`exitflow.policy`): the strict profile's hourly tables fold values of
/// fewer than k flows into Other (`units::fold_multiplier`); flow rows
/// without k-anonymity fold nothing (1). Rows k-anonymised by local recoding are
/// refused: one flow can change how the hour's other rows are generalised,
/// in a cascade with no bound, so no sensitivity holds.
fn fold_k(node: &str, start_ms: u64, made: &MadeBy) -> Result<u32, AnalyzeError> {
    let day = exitflow_output::dataset::utc_date(start_ms);
    let refuse = |why: String| {
        Err(AnalyzeError::Settings(format!(
            "node {node}, day {day}: {why}"
        )))
    };
    if made.unlabelled {
        return refuse(
            "a file does not say which privacy profile wrote it (exitflow.policy): the sensitivity of its flows is unknown".into(),
        );
    }
    let profiles: std::collections::BTreeSet<&str> = made
        .policies
        .iter()
        .map(|p| {
            p.split_whitespace()
                .find_map(|kv| kv.strip_prefix("profile="))
                .unwrap_or("?")
        })
        .collect();
    if profiles.len() > 1 {
        return refuse(format!(
            "files of several profiles ({}) hold the day: the same flows may be in two of them (ingested twice), so their sensitivity is unknown; keep one profile per node",
            profiles.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut factor = 1u32;
    for p in &made.policies {
        let get = |key: &str| {
            p.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        };
        let k: u32 = get("k_anonymity").and_then(|v| v.parse().ok()).unwrap_or(1);
        if k > MAX_FOLD_K {
            return refuse(format!("k = {k} is beyond {MAX_FOLD_K}"));
        }
        let aggregates = get("aggregates_only") == Some("true");
        if aggregates {
            factor = factor.max(k.max(1));
        } else if k > 1 {
            return refuse(format!(
                "its flow rows were written k-anonymous (k = {k}, profile {}): one flow can change how the hour's other rows are generalised, without bound, so no differential privacy can be computed from them. Publish from data written under --profile strict (hourly tables) or research",
                get("profile").unwrap_or("?"),
            ));
        }
    }
    Ok(factor)
}

/// A unit is not released while an interrupted rewrite left one of its
/// hours twice on disk (the flows would count twice: twice the
/// sensitivity); the node's next writer removes the replaced files.
fn refuse_interrupted_writes(node_dir: &Path, start: u64, end: u64) -> Result<(), AnalyzeError> {
    let mut d = start;
    while d < end {
        let day =
            exitflow_output::layout::date_dir(node_dir, &exitflow_output::dataset::utc_date(d));
        if day.is_dir() {
            let twice =
                exitflow_output::dataset::replaced_files(&day).map_err(AnalyzeError::Dataset)?;
            if let Some(f) = twice.first() {
                return Err(AnalyzeError::Ledger {
                    path: f.clone(),
                    reason: "replaced by a newer file of its hour but still there (a write was interrupted): its flows would count twice; the node's next capture or ingest removes it, or remove it".into(),
                });
            }
        }
        d += DAY_MS;
    }
    Ok(())
}

/// What a publication did: the units used, released and not yet complete.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Units newly released (node, first day).
    pub released: Vec<(String, String)>,
    /// Units of the window not released yet because they are not over.
    pub pending: Vec<(String, String)>,
    /// Noise values drawn now.
    pub drawn: u64,
}

/// Releases the window's units that are complete and not yet released,
/// then assembles the report from the stored releases alone.
pub fn publish(
    roots: &[PathBuf],
    filter: &Filter,
    cfg: &PublishConfig,
) -> Result<(Report, Outcome), AnalyzeError> {
    cfg.validate()?;
    let unit_ms = u64::from(cfg.unit_days) * DAY_MS;
    let mut rng = noise::Rng::default();
    let mut outcome = Outcome::default();
    let mut report = Report {
        zones: filter.zones.clone(),
        ..Report::default()
    };
    let mut all_units: Vec<(UnitRelease, crate::Zone)> = Vec::new();
    let mut per_node = serde_json::Map::new();
    let mut window_all: Option<(u64, u64)> = None;
    for (node, dir) in node_dirs(roots, filter)? {
        let mut st = NodeStore::open(&dir, &node, cfg.budget)?;
        // The window: as asked, or the node's days (its measurement
        // period, public: the relay was in the consensus) and stored units.
        let days = data_days(&dir)?;
        let has_data = days.is_some();
        let mut span = days.map(|(a, b)| (a, b + DAY_MS));
        for u in st.units.values() {
            span = Some(span.map_or((u.start_ms, u.end_ms), |(a, b)| {
                (a.min(u.start_ms), b.max(u.end_ms))
            }));
        }
        let Some((lo, hi)) = span else { continue };
        let from = filter.from_ms.unwrap_or(lo);
        let to = filter.to_ms.unwrap_or(hi);
        // New units are aligned to whole units since the epoch, snapped outward.
        let first = from - from % unit_ms;
        let candidates = (to.saturating_sub(first)).div_ceil(unit_ms) as usize;
        if has_data && candidates > MAX_NEW_UNITS_PER_RUN {
            let fresh = (0..candidates as u64)
                .map(|i| first + i * unit_ms)
                .filter(|s0| {
                    !st.units
                        .values()
                        .any(|u| u.start_ms < s0 + unit_ms && *s0 < u.end_ms)
                })
                .count();
            if fresh > MAX_NEW_UNITS_PER_RUN {
                return Err(AnalyzeError::Settings(format!(
                    "node {node}: the window {} to {} would release {fresh} new units, more than {MAX_NEW_UNITS_PER_RUN} in one run (each is permanent): give --from/--to",
                    exitflow_output::dataset::utc_date(first),
                    exitflow_output::dataset::utc_date(to.saturating_sub(1)),
                )));
            }
        }
        let mut start = first;
        while start < to {
            let end = start + unit_ms;
            let stored: Vec<&UnitRelease> = st
                .units
                .values()
                .filter(|u| u.start_ms < end && start < u.end_ms)
                .collect();
            let covered_ms: u64 = stored
                .iter()
                .map(|u| u.end_ms.min(end) - u.start_ms.max(start))
                .sum();
            if !stored.is_empty() && covered_ms < unit_ms {
                // Each day is in one unit only: its ε is its unit's.
                return Err(AnalyzeError::Ledger {
                    path: dir.join(store::RELEASES_DIR).join(store::LEDGER_FILE),
                    reason: format!(
                        "a unit of {} day(s) from {} would release again the days of unit(s) {} (each day is released once): use --unit-days {} or a window of other days",
                        cfg.unit_days,
                        exitflow_output::dataset::utc_date(start),
                        stored
                            .iter()
                            .map(|u| store::unit_file(&u.unit, u.days))
                            .collect::<Vec<_>>()
                            .join(", "),
                        stored[0].days,
                    ),
                });
            }
            if stored.is_empty() && has_data {
                if end + RELEASE_GRACE_MS > cfg.now_ms {
                    outcome
                        .pending
                        .push((node.clone(), exitflow_output::dataset::utc_date(start)));
                } else {
                    st.check_budget(start, end, cfg.epsilon)?;
                    refuse_interrupted_writes(&dir, start, end)?;
                    let scan_filter = Filter {
                        nodes: vec![node.clone()],
                        from_ms: Some(start),
                        to_ms: Some(end),
                        zones: BTreeMap::new(),
                        rows: false,
                        days: Some((start.saturating_sub(DAY_MS), end + DAY_MS)),
                    };
                    let (truth, made) = match crate::scan(roots, &scan_filter) {
                        Ok(mut r) => {
                            let made = MadeBy {
                                versions: r.how.versions.clone(),
                                policies: r.how.policies.clone(),
                                timeouts: r.how.timeouts.clone(),
                                synthetic: r.how.synthetic,
                                unlabelled: r.how.unlabelled,
                            };
                            (r.nodes.remove(&node).unwrap_or_default(), made)
                        }
                        Err(AnalyzeError::Empty(_)) => (NodeAgg::default(), MadeBy::default()),
                        Err(e) => return Err(e),
                    };
                    // A rewrite that raced the scan would show now.
                    refuse_interrupted_writes(&dir, start, end)?;
                    let spec = UnitSpec {
                        node: &node,
                        start_ms: start,
                        days: cfg.unit_days,
                        epsilon: cfg.epsilon,
                        action_bound: cfg.action_bound,
                        fold_k: fold_k(&node, start, &made)?,
                    };
                    let mut u = units::release(&spec, &truth, &mut rng);
                    u.made = made;
                    outcome.released.push((node.clone(), u.unit.clone()));
                    st.record(u)?;
                }
            }
            start = end;
        }
        // Every stored unit that overlaps the window, whole.
        let used: Vec<&UnitRelease> = st
            .units
            .values()
            .filter(|u| u.start_ms < to && from < u.end_ms)
            .collect();
        let tz = filter.zones.get(&node).cloned().unwrap_or_default();
        let used: Vec<(&UnitRelease, &crate::Zone)> = used.into_iter().map(|u| (u, &tz)).collect();
        let a = assemble::assemble(&used);
        for (u, _) in &used {
            report.how.versions.extend(u.made.versions.iter().cloned());
            report.how.policies.extend(u.made.policies.iter().cloned());
            report.how.timeouts.extend(u.made.timeouts.iter().cloned());
            report.how.synthetic |= u.made.synthetic;
        }
        let covered = used
            .iter()
            .map(|(u, _)| (u.start_ms, u.end_ms))
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
        if let Some((a0, b0)) = covered {
            window_all = Some(window_all.map_or((a0, b0), |(x, y)| (x.min(a0), y.max(b0))));
        }
        per_node.insert(
            node.clone(),
            json!({
                "units": used.iter().map(|(u, _)| json!({
                    "unit": u.unit, "days": u.days, "epsilon": u.epsilon,
                    "action_bound": u.action_bound, "draws": u.draws,
                })).collect::<Vec<_>>(),
                "covered": covered.map(|(a, b)| [exitflow_output::dataset::utc_date(a), exitflow_output::dataset::utc_date(b - 1)]),
                "budget_per_day": st.ledger.budget_per_day,
                "epsilon_spent_max_day": st.ledger.releases.iter().map(|e| st.spent(e.start_ms)).fold(0.0, f64::max),
                "tables": a.tables(),
            }),
        );
        all_units.extend(used.iter().map(|(u, tz)| ((*u).clone(), (*tz).clone())));
        report.nodes.insert(node.clone(), a.agg);
    }
    outcome.drawn = rng.drawn;
    // All nodes: assembled from every unit at once, so that the sums are
    // of raw released values, clamped once.
    let all = assemble::assemble(&all_units.iter().map(|(u, tz)| (u, tz)).collect::<Vec<_>>());
    report.all = all.agg.clone();
    exit_policies_only(roots, &mut report)?;
    let asked = |t: Option<u64>| t.map(exitflow_output::dataset::utc_datetime);
    report.publication = Some(json!({
        "model": "release units: one node × whole UTC days × a fixed list of statistics, each released once with fresh noise and stored in the node's _releases/; this report is the sum of stored units",
        "unit_of_privacy": "up to action_bound flows of one client within one unit (one node's days)",
        "mechanism": "discrete Laplace (two-sided geometric), scale = sensitivity / ε per statistic; randomness from the operating system's CSPRNG",
        "delta": outcome_delta(&all_units),
        "phantom_values_per_table_and_unit": units::PHANTOM_PER_TABLE,
        "histogram_sums": "a value's sum over units counts the units where it reached the threshold; in the others it is in Other (estimate), so a value near the threshold is a lower bound",
        "statistics": units::STATISTICS.iter().map(|(n, ..)| *n).collect::<Vec<_>>(),
        "clipping": {"packets": PACKETS_CLIP, "bytes": BYTES_CLIP, "duration_ms": DURATION_CLIP_MS},
        "window_asked": [asked(filter.from_ms), asked(filter.to_ms)],
        "window_covered": window_all.map(|(a, b)| [exitflow_output::dataset::utc_datetime(a), exitflow_output::dataset::utc_datetime(b)]),
        "released_now": outcome.released.iter().map(|(n, u)| format!("{n}/{u}")).collect::<Vec<_>>(),
        "not_yet_complete": outcome.pending.iter().map(|(n, u)| format!("{n}/{u}")).collect::<Vec<_>>(),
        "nodes": per_node,
        "all_nodes_tables": all.tables(),
        "local_hours": "UTC hours shifted by the whole hours of each node's offset",
        "other": format!("'{}': the noisy total minus the published values, clamped at 0", assemble::OTHER_ESTIMATE),
        "not_released": "Master.App labels, raw user-agents and content types, per-hour ports (abuse tables), packet and byte totals of the node files, file counts and dataset sizes, GeoIP database names, k-anonymity counts",
    }));
    Ok((report, outcome))
}

/// δ of the units used: the sampler's uniforms have 2⁻⁵³ resolution, so
/// each draw's noise is bounded (at about 36.7 scales): δ ≤ draws × 2⁻⁵³.
fn outcome_delta(units: &[(UnitRelease, crate::Zone)]) -> f64 {
    units
        .iter()
        .map(|(u, _)| u.draws as f64)
        .fold(0.0, f64::max)
        * (-53f64).exp2()
}

/// The exit policies of the nodes (public data) from their totals.
fn exit_policies_only(roots: &[PathBuf], report: &mut Report) -> Result<(), AnalyzeError> {
    for node in report.nodes.keys() {
        for root in roots {
            let path = exitflow_output::layout::node_dir(root, node)
                .join(exitflow_output::layout::TOTALS_FILE);
            let t = exitflow_output::totals::read(&path).map_err(AnalyzeError::Totals)?;
            if let Some(p) = t.and_then(|t| t.exit_policy) {
                report.exit_policies.insert(node.clone(), p);
            }
        }
    }
    Ok(())
}
