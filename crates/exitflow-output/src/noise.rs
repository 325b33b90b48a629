//! Randomness for what is released or stored noisy: fresh CSPRNG bits from
//! the operating system, discrete Laplace (two-sided geometric) noise, and
//! unbiased random rounding. Used by `report --publish` (in the analyze
//! crate) and by the node totals an hourly profile writes
//! ([`crate::totals`]).
//!
//! Nothing is derived from a secret, so nothing needs to be kept, and a
//! value is never drawn twice.

/// Uniform bits from the operating system, fetched in blocks.
pub struct Rng {
    buf: Vec<u8>,
    pos: usize,
    /// Noise values drawn (the ledger's `draws` is checked against it).
    pub drawn: u64,
}

/// Bytes fetched from the operating system at a time.
const RNG_BLOCK: usize = 64 * 1024;

impl Default for Rng {
    fn default() -> Rng {
        Rng {
            buf: vec![0; RNG_BLOCK],
            pos: RNG_BLOCK,
            drawn: 0,
        }
    }
}

impl Rng {
    /// 64 uniform bits.
    pub fn next_u64(&mut self) -> u64 {
        if self.pos + 8 > self.buf.len() {
            getrandom::fill(&mut self.buf).expect("the operating system provides random numbers");
            self.pos = 0;
        }
        let b: [u8; 8] = self.buf[self.pos..self.pos + 8]
            .try_into()
            .expect("8 bytes");
        self.pos += 8;
        u64::from_le_bytes(b)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// `x / grid` rounded to a neighbouring integer at random, up with
    /// probability equal to the fractional part: unbiased, and the
    /// remainder below `grid` is not kept. `grid ≥ 1`.
    pub fn round_to(&mut self, x: i64, grid: u64) -> i64 {
        let g = grid.max(1) as i64;
        let (q, r) = (x.div_euclid(g), x.rem_euclid(g) as u64);
        // A uniform value in [0, grid) below r with probability r / grid.
        let up = self.next_u64() % grid.max(1) < r;
        q + i64::from(up)
    }

    /// A geometric count of failures before a success, `P(k) = (1−α)α^k`.
    fn geometric(&mut self, ln_alpha: f64) -> i64 {
        let g = (self.unit().ln() / ln_alpha).floor();
        // ln(u) ≤ 0 and ln α < 0: g ≥ 0; the cap only matters for α → 1.
        g.min(i64::MAX as f64 / 4.0) as i64
    }

    /// One draw of discrete Laplace noise of scale `b` (`α = exp(−1/b)`),
    /// `0 < b ≤` [`MAX_SCALE`].
    pub fn discrete_laplace(&mut self, b: f64) -> i64 {
        assert!(b > 0.0 && b <= MAX_SCALE, "noise scale {b} out of range");
        self.drawn += 1;
        let ln_alpha = -1.0 / b;
        self.geometric(ln_alpha) - self.geometric(ln_alpha)
    }
}

/// The largest noise scale drawn: below it a draw never nears the
/// sampler's cap, and stored values stay far inside `i64`.
pub const MAX_SCALE: f64 = (1u64 << 50) as f64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_rounding_is_unbiased_and_lands_on_a_neighbour() {
        let mut r = Rng::default();
        for (x, grid) in [
            (0i64, 16u64),
            (5, 16),
            (-5, 16),
            (1_000_003, 1 << 20),
            (17, 1),
        ] {
            let n = 40_000;
            let mut sum = 0i128;
            for _ in 0..n {
                let q = r.round_to(x, grid);
                let lo = x.div_euclid(grid as i64);
                assert!(q == lo || q == lo + 1, "{x}/{grid} -> {q}");
                if x.rem_euclid(grid as i64) == 0 {
                    assert_eq!(q, lo, "a multiple of the grid is kept as it is");
                }
                sum += i128::from(q) * grid as i128;
            }
            let mean = sum as f64 / n as f64;
            assert!(
                (mean - x as f64).abs() <= 0.03 * grid as f64,
                "{x} on a grid of {grid}: mean {mean}"
            );
        }
    }
}
