//! A published report is assembled from stored releases only: every value
//! is a sum of released unit values (post-processing), so no window, time
//! zone or node set can learn more than the units themselves say.
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::noise;
use super::units::{Released, STATISTICS, UnitRelease};
use crate::{Counts, NodeAgg};

/// The label of a table's estimated remainder.
pub const OTHER_ESTIMATE: &str = "Other (estimate)";

/// What is known of one statistic over the units summed.
#[derive(Clone, Debug, Default)]
struct StatInfo {
    /// Largest noise scale of the units (intervals use it: conservative).
    scale: f64,
    /// Largest per-unit threshold (histograms).
    threshold: i64,
    /// Units summed.
    units: usize,
    /// Days of those units (a value of the hours of the day sums one draw per day).
    days: usize,
    /// Values published in at least one unit (histograms).
    published: usize,
}

/// One node's (or all nodes') assembled slices and what is known of them.
#[derive(Default)]
pub struct Assembled {
    /// The values, as the renderer reads them.
    pub agg: NodeAgg,
    info: BTreeMap<(usize, &'static str), StatInfo>,
}

fn clamp(v: i64) -> u64 {
    v.max(0) as u64
}

/// Sums `units` (of one node or of several) into slices; each unit's
/// time zone gives its released UTC hours' local hours.
pub fn assemble(units: &[(&UnitRelease, &crate::Zone)]) -> Assembled {
    let mut out = Assembled::default();
    // Raw sums first (unclamped: sums of noisy values stay unbiased).
    let mut scalars: BTreeMap<(usize, &str), i64> = BTreeMap::new();
    let mut hist: BTreeMap<(usize, &str), BTreeMap<String, i64>> = BTreeMap::new();
    let mut series: BTreeMap<(usize, u64), i64> = BTreeMap::new();
    // Hours of the day, UTC and local: raw sums, clamped once at the end.
    let mut hod = [[0i64; 24]; 4];
    let mut hod_local = [[0i64; 24]; 4];
    for (u, zone) in units {
        let mut clock = crate::zone::LocalClock::new(zone);
        for (i, scope) in exitflow_output::aggregate::SCOPES.iter().enumerate() {
            let Some(stats) = u.slices.get(*scope) else {
                continue;
            };
            for (name, _, _) in STATISTICS {
                let Some(r) = stats.get(*name) else { continue };
                let info = out.info.entry((i, name)).or_default();
                info.units += 1;
                info.days += u.days as usize;
                match r {
                    Released::Value { scale, value } => {
                        info.scale = info.scale.max(*scale);
                        let e = scalars.entry((i, name)).or_default();
                        *e = e.saturating_add(*value);
                    }
                    Released::Series { scale, values } => {
                        info.scale = info.scale.max(*scale);
                        for (h, v) in values.iter().enumerate() {
                            let t = u.start_ms + h as u64 * super::HOUR_MS;
                            let e = series.entry((i, t)).or_default();
                            *e = e.saturating_add(*v);
                            let d = ((t % super::DAY_MS) / super::HOUR_MS) as usize;
                            hod[i][d] = hod[i][d].saturating_add(*v);
                            let l = clock.hour_of_day(t);
                            hod_local[i][l] = hod_local[i][l].saturating_add(*v);
                        }
                    }
                    Released::Histogram {
                        scale,
                        threshold,
                        bins,
                        ..
                    } => {
                        info.scale = info.scale.max(*scale);
                        info.threshold = info.threshold.max(*threshold);
                        let h = hist.entry((i, name)).or_default();
                        for (k, v) in bins {
                            let e = h.entry(k.clone()).or_default();
                            *e = e.saturating_add(*v);
                        }
                    }
                }
            }
        }
    }
    for (i, a) in out.agg.slices.iter_mut().enumerate() {
        let sc = |n: &str| clamp(scalars.get(&(i, n)).copied().unwrap_or(0));
        a.flows = sc("flows");
        a.http_flows = sc("http_flows");
        a.guessed = sc("guessed_flows");
        a.src_proxy = sc("src_proxy_flows");
        a.dst_proxy = sc("dst_proxy_flows");
        a.packets = sc("packets_clipped");
        a.bytes = sc("bytes_clipped");
        a.duration_ms = sc("duration_ms_clipped");
        a.packets_clipped = a.packets;
        a.bytes_clipped = a.bytes;
        a.duration_clipped_ms = a.duration_ms;
        let failed = i == crate::EXIT_FAILED || i == crate::OTHER_FAILED;
        a.failed_flows = if failed { a.flows } else { 0 };
        for ((s, h), v) in &series {
            if *s != i {
                continue;
            }
            let v = clamp(*v);
            let e = a.timeline.entry(*h).or_default();
            e[0] = e[0].saturating_add(v);
            if failed {
                e[1] = e[1].saturating_add(v);
            }
        }
        for h in 0..24 {
            a.hours_utc[h] = clamp(hod[i][h]);
            a.hours_local[h] = clamp(hod_local[i][h]);
        }
        let get = |n: &str| hist.get(&(i, n)).cloned().unwrap_or_default();
        let counts = |m: BTreeMap<String, i64>| -> Counts {
            m.into_iter().map(|(k, v)| (k, clamp(v))).collect()
        };
        let with_other = |mut c: Counts, total: u64| -> Counts {
            let shown: u64 = c.values().sum();
            if total > shown {
                c.insert(OTHER_ESTIMATE.into(), total - shown);
            }
            c
        };
        a.applications = with_other(counts(get("master_protocols")), a.flows);
        a.categories = with_other(counts(get("categories")), a.flows);
        a.dst_countries = with_other(counts(get("dst_countries")), a.flows);
        a.src_countries = with_other(counts(get("src_countries")), a.flows);
        a.user_agents = with_other(counts(get("user_agent_families")), a.http_flows);
        a.content_types = counts(get("content_type_families"));
        a.roles = with_other(counts(get("tor_roles")), a.flows);
        a.dst_ports = get("dst_ports")
            .into_iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, clamp(v))))
            .collect();
        let on_port = a
            .dst_ports
            .get(&super::units::PORT_COUNTRY_PORT)
            .copied()
            .unwrap_or(0);
        let pc = with_other(counts(get("dst_countries_of_port_5222")), on_port);
        if !pc.is_empty() {
            a.port_countries.insert(super::units::PORT_COUNTRY_PORT, pc);
        }
        for (name, _, _) in STATISTICS {
            if let Some(info) = out.info.get_mut(&(i, name)) {
                info.published = hist.get(&(i, *name)).map_or(0, BTreeMap::len);
            }
        }
    }
    out
}

impl Assembled {
    /// The assembled value of a count or sum of slice `i`.
    fn scalar(&self, i: usize, name: &str) -> u64 {
        let a = &self.agg.slices[i];
        match name {
            "flows" => a.flows,
            "http_flows" => a.http_flows,
            "guessed_flows" => a.guessed,
            "src_proxy_flows" => a.src_proxy,
            "dst_proxy_flows" => a.dst_proxy,
            "packets_clipped" => a.packets_clipped,
            "bytes_clipped" => a.bytes_clipped,
            "duration_ms_clipped" => a.duration_clipped_ms,
            _ => 0,
        }
    }

    /// Per slice and statistic: noise scale per unit, units summed, the
    /// 95 % interval of a value, the threshold, and whether the table had
    /// too few flows to publish anything.
    pub fn tables(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (i, scope) in exitflow_output::aggregate::SCOPES.iter().enumerate() {
            let mut m = serde_json::Map::new();
            for (name, kind, _) in STATISTICS {
                let Some(info) = self.info.get(&(i, *name)) else {
                    continue;
                };
                let hist = matches!(kind, super::units::Kind::Histogram);
                let scalar = matches!(kind, super::units::Kind::Count | super::units::Kind::Sum(_));
                let per_value_units = if matches!(kind, super::units::Kind::Series) {
                    info.days
                } else {
                    info.units
                };
                m.insert(
                    (*name).to_owned(),
                    json!({
                        "noise_scale_per_unit": info.scale,
                        "units": info.units,
                        "ci95_half_width": noise::half_width_95(info.scale, per_value_units),
                        "threshold_per_unit": if hist { Some(info.threshold) } else { None },
                        "too_few_flows": (hist && info.published == 0)
                            || (scalar && (self.scalar(i, name) as f64) < noise::half_width_95(info.scale, per_value_units)),
                    }),
                );
            }
            out.insert((*scope).to_owned(), Value::Object(m));
        }
        Value::Object(out)
    }
}
