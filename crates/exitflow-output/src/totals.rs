//! A node's totals (`node=NAME/_totals.json`): what every ingest and
//! every written hour added up to — flows, packets, bytes, frames ignored,
//! rows generalised and withheld, files written.
//!
//! Under an hourly profile (default, strict) the totals must be no finer
//! than the dataset: two copies an hour apart (or one after a one-hour
//! ingest) must not give an hour's exact counts, nor, to an adversary who
//! made all but one of a quiet hour's flows, the last flow's exact size or
//! whether it was withheld. So each write's increments are noised and
//! rounded before they are added ([`TotalsRule::noisy`]): discrete
//! Laplace noise of half a grid step, then unbiased random rounding to the
//! grid ([`COUNT_GRID`] flows or frames, [`PACKET_GRID`] packets,
//! [`BYTE_GRID`] bytes). A write's increment of a flow count is then
//! ε = 1/8-differentially private per counter; of packets and bytes, a
//! flow of `x` bytes is hidden at ε = x / 512 KiB (a large transfer is
//! not: the relay's published bandwidth history shows it too). The
//! exact values are never written: the file only ever holds multiples of
//! the grids. Counts that the files themselves show (captures, files,
//! dataset bytes) and the exit policy (public) stay exact. Research keeps
//! every total exact.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::noise::Rng;
use crate::{OutputError, layout};

/// Grid of noisy flow and frame counts: increments are multiples of it.
pub const COUNT_GRID: u64 = 16;
/// Grid of noisy packet counts.
pub const PACKET_GRID: u64 = 1024;
/// Grid of noisy byte counts (1 MiB).
pub const BYTE_GRID: u64 = 1 << 20;
/// The noise added to an increment before it is rounded, as a fraction
/// of the grid: scale `grid / NOISE_PER_GRID`.
pub const NOISE_PER_GRID: u64 = 2;
/// The name under which excluded frames are counted in
/// [`NodeTotals::ignored_packets`].
pub const EXCLUDED_KEY: &str = "excluded";

/// How a profile writes a node's totals ([`crate::Policy::totals_rule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TotalsRule {
    /// The file's modification time is rounded down to this many ms.
    pub granularity_ms: u64,
    /// Each write's increments are noised and rounded (hourly profiles).
    pub noisy: bool,
}

/// Per-node totals, accumulated over every ingest into the dataset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTotals {
    /// Node name.
    pub node: String,
    /// Captures (or capture sessions) ingested.
    pub captures: u64,
    /// Flows written.
    pub flows: u64,
    /// Flows with at most 4 packets.
    pub failed_flows: u64,
    /// Packets metered into flows.
    pub packets: u64,
    /// Bytes metered (original frame lengths).
    pub bytes: u64,
    /// Frames not metered, by reason.
    pub ignored_packets: BTreeMap<String, u64>,
    /// Flows evicted from a full table.
    pub evicted_flows: u64,
    /// Unanswered TCP flows expired by the half-open timeout.
    pub half_open_expired: u64,
    /// Parquet files completed.
    pub files: u64,
    /// Bytes of Parquet files completed.
    pub dataset_bytes: u64,
    /// Flows metered but never written (live capture: the dataset could
    /// not be written and the write buffer was full).
    #[serde(default)]
    pub lost_flows: u64,
    /// Flows written with a column generalised so that k rows of their
    /// node-hour share them (default profile).
    #[serde(default)]
    pub generalised_flows: u64,
    /// Flows not written as rows: even generalised, fewer than k rows of
    /// their node-hour shared them (counted in `flows`, `packets`, `bytes`).
    #[serde(default)]
    pub suppressed_flows: u64,
    /// Strict: flows of cells under k folded into `Other`.
    #[serde(default)]
    pub folded_flows: u64,
    /// Writes whose increments were noised and rounded (hourly profiles):
    /// a counter's noise is about `grid × √noisy_writes`.
    #[serde(default)]
    pub noisy_writes: u64,
    /// What noisy sums owe below zero, by counter (shown as 0 meanwhile).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub noise_below_zero: BTreeMap<String, u64>,
    /// The relay's exit policy as last recorded (public: it is in the consensus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_policy: Option<ExitPolicyNote>,
}

/// A relay's exit policy, as a tor policy summary, and where it was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitPolicyNote {
    /// `accept PORTS` or `reject PORTS` (the consensus `p` line's form).
    pub summary: String,
    /// `torrc` or `consensus`.
    pub source: String,
}

impl NodeTotals {
    /// Adds another set of totals.
    pub fn merge(&mut self, o: &NodeTotals) {
        self.captures += o.captures;
        self.flows += o.flows;
        self.failed_flows += o.failed_flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
        for (k, v) in &o.ignored_packets {
            *self.ignored_packets.entry(k.clone()).or_default() += v;
        }
        self.evicted_flows += o.evicted_flows;
        self.half_open_expired += o.half_open_expired;
        self.files += o.files;
        self.dataset_bytes += o.dataset_bytes;
        self.lost_flows += o.lost_flows;
        self.generalised_flows += o.generalised_flows;
        self.suppressed_flows += o.suppressed_flows;
        self.folded_flows += o.folded_flows;
        self.noisy_writes += o.noisy_writes;
        if o.exit_policy.is_some() {
            self.exit_policy.clone_from(&o.exit_policy);
        }
    }

    /// What grew from `earlier` to `self` (counters only grow); the node
    /// name is kept, `captures` is 0.
    pub fn since(&self, earlier: &NodeTotals) -> NodeTotals {
        NodeTotals {
            node: self.node.clone(),
            captures: self.captures.saturating_sub(earlier.captures),
            flows: self.flows.saturating_sub(earlier.flows),
            failed_flows: self.failed_flows.saturating_sub(earlier.failed_flows),
            packets: self.packets.saturating_sub(earlier.packets),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            ignored_packets: self
                .ignored_packets
                .iter()
                .map(|(k, v)| {
                    let was = earlier.ignored_packets.get(k).copied().unwrap_or(0);
                    (k.clone(), v.saturating_sub(was))
                })
                .collect(),
            evicted_flows: self.evicted_flows.saturating_sub(earlier.evicted_flows),
            half_open_expired: self
                .half_open_expired
                .saturating_sub(earlier.half_open_expired),
            files: self.files.saturating_sub(earlier.files),
            dataset_bytes: self.dataset_bytes.saturating_sub(earlier.dataset_bytes),
            lost_flows: self.lost_flows.saturating_sub(earlier.lost_flows),
            generalised_flows: self
                .generalised_flows
                .saturating_sub(earlier.generalised_flows),
            suppressed_flows: self
                .suppressed_flows
                .saturating_sub(earlier.suppressed_flows),
            folded_flows: self.folded_flows.saturating_sub(earlier.folded_flows),
            noisy_writes: self.noisy_writes.saturating_sub(earlier.noisy_writes),
            noise_below_zero: BTreeMap::new(),
            exit_policy: self.exit_policy.clone(),
        }
    }

    /// Adds `o` as an hourly profile must: every flow-following counter's
    /// increment (zero ones too, and every reason of ignored frames)
    /// noised and rounded to its grid; the counts the files show and the
    /// exit policy exactly.
    pub fn merge_noisy(&mut self, o: &NodeTotals, rng: &mut Rng) {
        // A noisy sum may dip below zero (a counter that stays 0, noised
        // at every write). The file shows 0 and keeps what is owed, so that
        // the stored sum stays unbiased instead of drifting up.
        let mut owed = std::mem::take(&mut self.noise_below_zero);
        let mut add = |key: &str, total: &mut u64, inc: u64, grid: u64| {
            let scale = (grid / NOISE_PER_GRID).max(1) as f64;
            let noisy =
                (inc.min(i64::MAX as u64 / 2) as i64).saturating_add(rng.discrete_laplace(scale));
            let step = i128::from(rng.round_to(noisy, grid)) * i128::from(grid);
            let sum = i128::from(*total) - i128::from(owed.remove(key).unwrap_or(0)) + step;
            if sum >= 0 {
                *total = u64::try_from(sum).unwrap_or(u64::MAX);
            } else {
                *total = 0;
                owed.insert(key.to_owned(), u64::try_from(-sum).unwrap_or(u64::MAX));
            }
        };
        add("flows", &mut self.flows, o.flows, COUNT_GRID);
        add(
            "failed_flows",
            &mut self.failed_flows,
            o.failed_flows,
            COUNT_GRID,
        );
        add("packets", &mut self.packets, o.packets, PACKET_GRID);
        add("bytes", &mut self.bytes, o.bytes, BYTE_GRID);
        add(
            "evicted_flows",
            &mut self.evicted_flows,
            o.evicted_flows,
            COUNT_GRID,
        );
        add(
            "half_open_expired",
            &mut self.half_open_expired,
            o.half_open_expired,
            COUNT_GRID,
        );
        add("lost_flows", &mut self.lost_flows, o.lost_flows, COUNT_GRID);
        add(
            "generalised_flows",
            &mut self.generalised_flows,
            o.generalised_flows,
            COUNT_GRID,
        );
        add(
            "suppressed_flows",
            &mut self.suppressed_flows,
            o.suppressed_flows,
            COUNT_GRID,
        );
        add(
            "folded_flows",
            &mut self.folded_flows,
            o.folded_flows,
            COUNT_GRID,
        );
        // Every reason, occurred or not: a key that appeared only when its
        // frames did would tell the hour of the first one.
        let mut reasons: std::collections::BTreeSet<String> = exitflow_decode::Skip::ALL
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
        reasons.insert(EXCLUDED_KEY.to_owned());
        reasons.extend(self.ignored_packets.keys().cloned());
        reasons.extend(o.ignored_packets.keys().cloned());
        for k in reasons {
            let inc = o.ignored_packets.get(&k).copied().unwrap_or(0);
            let key = format!("ignored_packets.{k}");
            add(
                &key,
                self.ignored_packets.entry(k).or_default(),
                inc,
                COUNT_GRID,
            );
        }
        self.noise_below_zero = owed;
        self.noisy_writes += 1;
        self.captures += o.captures;
        self.files += o.files;
        self.dataset_bytes += o.dataset_bytes;
        if o.exit_policy.is_some() {
            self.exit_policy.clone_from(&o.exit_policy);
        }
    }
}

/// Adds `t` to the node's `_totals.json` as `rule` says (atomically
/// replaced; its time no finer than the rule's); returns the new totals.
pub fn add(node_dir: &Path, t: &NodeTotals, rule: TotalsRule) -> Result<NodeTotals, OutputError> {
    let path = node_dir.join(layout::TOTALS_FILE);
    let mut all = read(&path)?.unwrap_or_default();
    if rule.noisy {
        all.merge_noisy(t, &mut Rng::default());
    } else {
        all.merge(t);
    }
    all.node = t.node.clone();
    write(&path, &all, rule)?;
    Ok(all)
}

/// Records the exit policy in force in the node's totals, counts
/// unchanged (a start of the service is not a write of counts).
pub fn note_exit_policy(
    node_dir: &Path,
    node: &str,
    policy: &ExitPolicyNote,
    rule: TotalsRule,
) -> Result<(), OutputError> {
    let path = node_dir.join(layout::TOTALS_FILE);
    let mut all = read(&path)?.unwrap_or_default();
    all.node = node.to_owned();
    all.exit_policy = Some(policy.clone());
    write(&path, &all, rule)
}

fn write(path: &Path, all: &NodeTotals, rule: TotalsRule) -> Result<(), OutputError> {
    let text = serde_json::to_string_pretty(all).expect("plain data serialises");
    // Times set before the rename: an error after it would make the caller
    // add the same increment again, with fresh noise (two readings of it).
    crate::files::write_atomic_coarse(path, text.as_bytes(), rule.granularity_ms)
}

/// Reads a node's totals file, `None` when absent.
pub fn read(path: &Path) -> Result<Option<NodeTotals>, OutputError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| OutputError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(OutputError::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(flows: u64, suppressed: u64, packets: u64, bytes: u64) -> NodeTotals {
        NodeTotals {
            node: "n".into(),
            captures: 1,
            flows,
            failed_flows: flows / 3,
            packets,
            bytes,
            suppressed_flows: suppressed,
            files: 1,
            dataset_bytes: 5000,
            ..NodeTotals::default()
        }
    }

    #[test]
    fn noisy_totals_hold_only_grid_multiples_and_stay_unbiased() {
        let mut rng = Rng::default();
        let mut all = NodeTotals::default();
        let n = 2000u64;
        for _ in 0..n {
            all.merge_noisy(&hour(1003, 3, 40_001, 7_000_123), &mut rng);
        }
        assert_eq!(all.flows % COUNT_GRID, 0);
        assert_eq!(all.suppressed_flows % COUNT_GRID, 0);
        assert_eq!(all.packets % PACKET_GRID, 0);
        assert_eq!(all.bytes % BYTE_GRID, 0);
        for (k, v) in &all.ignored_packets {
            assert_eq!(v % COUNT_GRID, 0, "{k}");
        }
        assert!(all.ignored_packets.contains_key("ip_fragment"));
        assert!(all.ignored_packets.contains_key(EXCLUDED_KEY));
        // The counts the files show stay exact.
        assert_eq!(
            (all.captures, all.files, all.dataset_bytes),
            (n, n, 5000 * n)
        );
        // Unbiased: the sums are within a few standard deviations of the truth.
        let near = |got: u64, want: u64, grid: u64| {
            let sd = grid as f64 * (n as f64).sqrt();
            (got as f64 - want as f64).abs() < 5.0 * sd
        };
        assert!(near(all.flows, 1003 * n, COUNT_GRID), "{}", all.flows);
        assert!(
            near(all.suppressed_flows, 3 * n, COUNT_GRID),
            "{}",
            all.suppressed_flows
        );
        assert!(near(all.bytes, 7_000_123 * n, BYTE_GRID), "{}", all.bytes);
    }

    /// The attack the noise is for: an adversary who made all but one of
    /// an hour's flows, with the totals before and after that hour's
    /// write, tries to tell whether the last flow existed, was withheld,
    /// and how big it was. Whatever the truth, each write's increment is
    /// spread over several grid steps, and a one-flow difference moves its
    /// distribution by little: no outcome is conclusive.
    #[test]
    fn one_flow_more_or_less_in_an_hour_is_not_conclusive_from_two_copies() {
        let mut rng = Rng::default();
        let trials = 20_000;
        let dist = |rng: &mut Rng, t: &NodeTotals| {
            let mut h: BTreeMap<(u64, u64, u64), u64> = BTreeMap::new();
            for _ in 0..trials {
                let mut before = NodeTotals {
                    flows: 1 << 20,
                    suppressed_flows: 1 << 20,
                    bytes: 1 << 40,
                    ..NodeTotals::default()
                };
                let b = before.clone();
                before.merge_noisy(t, rng);
                let d = before.since(&b);
                *h.entry((d.flows, d.suppressed_flows, d.bytes)).or_default() += 1;
            }
            h
        };
        let without = dist(&mut rng, &hour(32, 0, 320, 64 * 1024));
        let with = dist(&mut rng, &hour(33, 1, 330, 64 * 1024 + 20_000));
        // Outcomes seen often under one world are seen under the other at
        // a comparable rate (ε per counter is 1/8; three counters).
        for (k, a) in &with {
            if *a >= 500 {
                let b = without.get(k).copied().unwrap_or(0);
                assert!(b * 3 >= *a, "{k:?}: {a} with the flow, {b} without");
            }
        }
        // And the increments really are spread: more than one outcome of
        // the flow count, of the withheld count and of the bytes.
        let distinct = |f: fn(&(u64, u64, u64)) -> u64| {
            with.keys()
                .map(f)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        assert!(distinct(|k| k.0) >= 3);
        assert!(distinct(|k| k.1) >= 2);
        assert!(distinct(|k| k.2) >= 2);
    }

    /// Review finding: clamping each noisy sum at zero made counters that
    /// stay 0 drift up write after write. What is owed below zero is kept,
    /// so the stored sum stays a zero-mean walk.
    #[test]
    fn a_counter_that_stays_zero_does_not_drift_up() {
        let mut rng = Rng::default();
        let (runs, writes) = (400, 200);
        let mut signed = 0f64;
        let mut shown = 0f64;
        for _ in 0..runs {
            let mut all = NodeTotals::default();
            for _ in 0..writes {
                all.merge_noisy(&hour(100, 0, 0, 0), &mut rng);
            }
            let owed = all.noise_below_zero.get("lost_flows").copied().unwrap_or(0);
            signed += all.lost_flows as f64 - owed as f64;
            shown += all.lost_flows as f64;
            assert_eq!(all.noisy_writes, writes);
            assert!(all.lost_flows == 0 || owed == 0);
        }
        // One write's noise has a standard deviation under a grid step; a
        // walk of 200 about 14 steps (224 flows); the mean of 400 walks is
        // within about a step of 0.
        let (signed, shown) = (signed / runs as f64, shown / runs as f64);
        assert!(signed.abs() < 2.0 * COUNT_GRID as f64, "{signed}");
        // What is shown (never negative) is about half the walk's spread,
        // where clamping the stored sum gave about the whole of it.
        assert!(shown < 120.0, "{shown}");
    }

    #[test]
    fn exact_rule_adds_exactly_and_noting_the_policy_leaves_counts_alone() {
        let d = tempfile::tempdir().unwrap();
        let rule = TotalsRule {
            granularity_ms: 1,
            noisy: false,
        };
        add(d.path(), &hour(7, 1, 70, 700), rule).unwrap();
        let all = add(d.path(), &hour(7, 1, 70, 700), rule).unwrap();
        assert_eq!((all.flows, all.packets, all.bytes), (14, 140, 1400));
        let note = ExitPolicyNote {
            summary: "accept 80".into(),
            source: "torrc".into(),
        };
        let noisy = TotalsRule {
            granularity_ms: 3_600_000,
            noisy: true,
        };
        note_exit_policy(d.path(), "n", &note, noisy).unwrap();
        let back = read(&d.path().join(layout::TOTALS_FILE)).unwrap().unwrap();
        assert_eq!((back.flows, back.packets, back.bytes), (14, 140, 1400));
        assert_eq!(back.exit_policy, Some(note));
    }
}
