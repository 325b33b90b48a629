//! Safe publication of a report (`--publish`).
//!
//! Every count the report shows is a histogram bin over flows: one flow adds
//! 1 to exactly one bin of each table, so each table has L1 sensitivity 1
//! (per node and for the combined column, which a flow also enters once).
//! Each count gets Laplace noise of scale 1/ε (ε-differential privacy per
//! table, by parallel composition within a table), then is rounded up to a
//! multiple of `round` (as Tor's own statistics are), and bins below `k`
//! flows are folded into "Other". The tables are `T` statistics released
//! together, so the whole report is (T·ε)-differentially private by
//! sequential composition; the JSON states ε, T, k and the rounding.
//! Packets and bytes have no bounded sensitivity (a flow can carry any
//! number) and are rounded only, to [`BYTES_ROUND`] and [`PACKETS_ROUND`].
//! A neighbouring dataset here differs by one flow; protecting a whole user
//! (many flows) needs ε divided by the flows one user may contribute.
use std::collections::HashMap;

use crate::{Agg, Counts, Report};

/// Default ε per statistic.
pub const DEFAULT_EPSILON: f64 = 0.3;
/// Default threshold: bins with fewer flows are folded into Other.
pub const DEFAULT_K: u64 = 10;
/// Default rounding: counts are rounded up to a multiple of this.
pub const DEFAULT_ROUND: u64 = 4;
/// Bytes are rounded up to a multiple of this.
pub const BYTES_ROUND: u64 = 1 << 20;
/// Packets are rounded up to a multiple of this.
pub const PACKETS_ROUND: u64 = 1024;
/// Tables released per aggregate (for the composition statement).
pub const TABLES: u32 = 12;

/// Publication settings.
#[derive(Clone, Copy, Debug)]
pub struct PublishConfig {
    /// ε per statistic; `None` for no noise (rounding and threshold only).
    pub epsilon: Option<f64>,
    /// Threshold.
    pub k: u64,
    /// Rounding step.
    pub round: u64,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            epsilon: Some(DEFAULT_EPSILON),
            k: DEFAULT_K,
            round: DEFAULT_ROUND,
        }
    }
}

/// A source of Laplace noise from the operating system's random numbers.
pub struct Noise {
    scale: f64,
}

impl Noise {
    fn uniform() -> f64 {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).expect("the operating system provides random numbers");
        // 53 random bits in (0, 1).
        ((u64::from_le_bytes(b) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// One Laplace(0, scale) sample (inverse CDF).
    pub fn sample(&self) -> f64 {
        let u = Self::uniform() - 0.5;
        -self.scale * u.signum() * (1.0 - 2.0 * u.abs()).ln()
    }
}

fn round_up(v: u64, step: u64) -> u64 {
    v.div_ceil(step.max(1)) * step.max(1)
}

/// The noisy count (clamped at 0).
fn noisy(v: u64, noise: Option<&Noise>) -> u64 {
    match noise {
        Some(n) => (v as f64 + n.sample()).round().max(0.0) as u64,
        None => v,
    }
}

/// Noise, clamp at 0, round up.
fn protect(v: u64, cfg: &PublishConfig, noise: Option<&Noise>) -> u64 {
    round_up(noisy(v, noise), cfg.round)
}

/// Noise each bin; bins under `k` (before rounding) go to Other; round up.
fn protect_counts(c: &mut Counts, cfg: &PublishConfig, noise: Option<&Noise>) {
    let mut other = 0u64;
    let mut out: Counts = HashMap::with_capacity(c.len());
    for (key, v) in c.drain() {
        let n = noisy(v, noise);
        if n < cfg.k || key == "Other" {
            other += v;
        } else {
            out.insert(key, round_up(n, cfg.round));
        }
    }
    let o = noisy(other, noise);
    if o >= cfg.k {
        out.insert("Other".into(), round_up(o, cfg.round));
    }
    *c = out;
}

fn protect_agg(a: &mut Agg, cfg: &PublishConfig, noise: Option<&Noise>) {
    a.flows = protect(a.flows, cfg, noise);
    a.failed_flows = protect(a.failed_flows, cfg, noise);
    a.http_flows = protect(a.http_flows, cfg, noise);
    a.src_proxy = protect(a.src_proxy, cfg, noise);
    a.dst_proxy = protect(a.dst_proxy, cfg, noise);
    a.packets = round_up(a.packets, PACKETS_ROUND);
    a.bytes = round_up(a.bytes, BYTES_ROUND);
    // Durations: the mean is published from a clipped, noised sum (a flow adds
    // at most one active timeout).
    a.duration_ms = match noise {
        Some(n) => (a.duration_ms as f64 + n.sample() * 1_800_000.0).max(0.0) as u64,
        None => a.duration_ms,
    };
    for h in a.hours_utc.iter_mut().chain(a.hours_local.iter_mut()) {
        let n = noisy(*h, noise);
        *h = if n < cfg.k { 0 } else { round_up(n, cfg.round) };
    }
    for c in [
        &mut a.applications,
        &mut a.categories,
        &mut a.dst_countries,
        &mut a.src_countries,
        &mut a.user_agents,
        &mut a.content_types,
        &mut a.roles,
    ] {
        protect_counts(c, cfg, noise);
    }
    let mut ports: Counts = a
        .dst_ports
        .drain()
        .map(|(p, n)| (p.to_string(), n))
        .collect();
    protect_counts(&mut ports, cfg, noise);
    // "Other" ports are kept under port 0's key-less slot: dropped from the port table.
    a.dst_ports = ports
        .into_iter()
        .filter_map(|(p, n)| Some((p.parse().ok()?, n)))
        .collect();
}

/// Applies the publication rules to a report in place, and records them.
pub fn protect_report(r: &mut Report, cfg: &PublishConfig) {
    let noise = cfg.epsilon.map(|e| Noise {
        scale: 1.0 / e.max(1e-9),
    });
    r.publication = Some(serde_json::json!({
        "epsilon_per_statistic": cfg.epsilon,
        "statistics": TABLES,
        "epsilon_total_per_aggregate": cfg.epsilon.map(|e| e * f64::from(TABLES)),
        "sensitivity": "1 flow per histogram bin (L1 = 1 per table); packets and bytes rounded only",
        "noise": if cfg.epsilon.is_some() { "Laplace(0, 1/epsilon) per count" } else { "none" },
        "k_threshold": cfg.k,
        "rounding": cfg.round,
        "bytes_rounding": BYTES_ROUND,
        "packets_rounding": PACKETS_ROUND,
    }));
    for a in r.nodes.values_mut() {
        protect_agg(a, cfg, noise.as_ref());
    }
    protect_agg(&mut r.all, cfg, noise.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laplace_noise_has_the_right_scale() {
        let n = Noise { scale: 1.0 / 0.3 };
        let xs: Vec<f64> = (0..20_000).map(|_| n.sample()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let mad = xs.iter().map(|x| x.abs()).sum::<f64>() / xs.len() as f64;
        // E|X| = scale for a Laplace distribution.
        assert!(mean.abs() < 0.2, "{mean}");
        assert!((mad - 1.0 / 0.3).abs() < 0.2, "{mad}");
    }

    #[test]
    fn small_bins_fold_into_other_and_counts_round_up() {
        let cfg = PublishConfig {
            epsilon: None,
            k: 10,
            round: 4,
        };
        let mut c: Counts = [("a", 100u64), ("b", 9), ("c", 3), ("d", 11)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        protect_counts(&mut c, &cfg, None);
        assert_eq!(c["a"], 100);
        assert_eq!(c["d"], 12);
        assert_eq!(c["Other"], 12);
        assert!(!c.contains_key("b") && !c.contains_key("c"));
    }
}
