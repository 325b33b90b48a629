//! Noise for released counts: the discrete Laplace (two-sided geometric)
//! mechanism over fresh CSPRNG randomness, its 95 % intervals, and the
//! thresholds that keep absent values out of a published table.
//!
//! Counts are integers, so the noise is integer too: `P(k) ∝ α^|k|` with
//! `α = exp(−ε/Δ)` is exactly ε-differentially private for a query of L1
//! sensitivity Δ, and an integer output has none of the low-order-bit leaks
//! of floating-point Laplace noise. Randomness comes from the operating
//! system every time: nothing is derived from a secret, so nothing needs
//! to be kept, and a value is never drawn twice (each unit is released
//! once, see `store`).

pub use exitflow_output::noise::{MAX_SCALE, Rng};

/// The scale of the noise: sensitivity over ε.
pub fn scale(sensitivity: f64, epsilon: f64) -> f64 {
    sensitivity / epsilon
}

/// `1 − α` for `α = exp(−1/b)`, precise when `b` is large.
fn one_minus_alpha(b: f64) -> f64 {
    -(-1.0 / b).exp_m1()
}

/// `P(X ≥ t)` for one discrete Laplace draw of scale `b`, `t ≥ 1`.
fn tail(b: f64, t: i64) -> f64 {
    let alpha = (-1.0 / b).exp();
    alpha.powf(t as f64) / (1.0 + alpha)
}

/// The smallest threshold `t` such that, in a table of `vocabulary` values
/// whose true counts are all 0, the expected number of values whose noise
/// alone reaches `t` is at most `phantom` (a union bound over the table).
pub fn threshold(vocabulary: usize, b: f64, phantom: f64) -> i64 {
    let alpha = (-1.0 / b).exp();
    // V · α^t / (1 + α) ≤ p  ⇔  t ≥ ln(p (1 + α) / V) / ln α, ln α = −1/b.
    let t = (-(phantom * (1.0 + alpha) / vocabulary.max(1) as f64).ln() * b).ceil();
    let t = (t.max(1.0)) as i64;
    debug_assert!(vocabulary as f64 * tail(b, t) <= phantom * 1.000_001);
    t
}

/// Half-width of a 95 % interval of the sum of `units` independent draws
/// of scale `b`: exact for one draw; over several, the normal
/// approximation with the sum's exact variance (the sum of Laplace draws
/// is close to normal from a few on).
pub fn half_width_95(b: f64, units: usize) -> f64 {
    if units == 0 {
        return 0.0;
    }
    let alpha = (-1.0 / b).exp();
    if units == 1 {
        // P(|X| ≥ t) = 2α^t/(1+α) = 0.05, ln α = −1/b.
        return (-(0.025 * (1.0 + alpha)).ln() * b).ceil();
    }
    let variance = units as f64 * 2.0 * alpha / one_minus_alpha(b).powi(2);
    (1.96 * variance.sqrt()).ceil()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrete_laplace_has_mean_zero_and_the_stated_variance() {
        let mut r = Rng::default();
        let b = 5.0;
        let n = 200_000;
        let xs: Vec<i64> = (0..n).map(|_| r.discrete_laplace(b)).collect();
        let mean = xs.iter().sum::<i64>() as f64 / n as f64;
        let var = xs.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let alpha = (-1.0f64 / b).exp();
        let want = 2.0 * alpha / (1.0 - alpha).powi(2);
        assert!(mean.abs() < 0.1, "{mean}");
        assert!((var / want - 1.0).abs() < 0.03, "{var} vs {want}");
        assert_eq!(r.drawn, n as u64);
        // Fresh randomness: two generators do not agree.
        let mut s = Rng::default();
        let a: Vec<i64> = (0..64).map(|_| r.discrete_laplace(b)).collect();
        let c: Vec<i64> = (0..64).map(|_| s.discrete_laplace(b)).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn thresholds_keep_absent_values_out_at_the_stated_rate() {
        // A table of 1,000 values, all absent, released 2,000 times at a
        // phantom rate of 0.05: about 100 phantoms in all, never 0.05 × 3.
        let mut r = Rng::default();
        let b = 3.0;
        let t = threshold(1000, b, 0.05);
        let mut phantoms = 0;
        for _ in 0..2000 {
            for _ in 0..1000 {
                if r.discrete_laplace(b) >= t {
                    phantoms += 1;
                }
            }
        }
        assert!(
            phantoms < 150,
            "{phantoms} phantoms in 2,000 tables (t = {t})"
        );
        // And not far above what is needed: at t − 2 there are more.
        assert!(1000.0 * tail(b, t - 2) > 0.05);
    }

    #[test]
    fn intervals_cover_95_percent_and_grow_with_the_units() {
        let mut r = Rng::default();
        let b = 4.0;
        for units in [1usize, 2, 7] {
            let h = half_width_95(b, units);
            let trials = 20_000;
            let outside = (0..trials)
                .filter(|_| {
                    let s: i64 = (0..units).map(|_| r.discrete_laplace(b)).sum();
                    s.unsigned_abs() as f64 > h
                })
                .count();
            let rate = outside as f64 / trials as f64;
            assert!(rate <= 0.06, "{units} units: {rate} outside ±{h}");
            assert!(
                rate >= 0.005,
                "{units} units: ±{h} is far too wide ({rate})"
            );
        }
        assert!(half_width_95(b, 7) > half_width_95(b, 2));
    }
}
