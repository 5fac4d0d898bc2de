//! Deterministic randomness: a SplitMix64 generator and a Zipf sampler.
//!
//! Self-contained so that a seed prepares the same block on every platform and
//! with every version of the `rand` crates.

/// SplitMix64 (Steele, Lea and Flood): fast, and good enough to pick targets.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n`; `n` must be positive. The modulo bias is below
    /// `n / 2^64`, irrelevant for picking targets.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0) has no value");
        (self.next_u64() % n as u64) as usize
    }
}

/// Samples ranks `0..n` with probability proportional to `1 / (rank + 1)^s`.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    /// Cumulative weights; the last is the total.
    cumulative: Vec<f64>,
}

impl Zipf {
    /// A sampler over `n > 0` ranks with exponent `s >= 0`.
    pub(crate) fn new(n: usize, s: f64) -> Self {
        assert!(n > 0 && s.is_finite() && s >= 0.0, "Zipf needs n > 0 and finite s >= 0");
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|k| {
                total += (k as f64).powf(-s);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// One rank drawn with `rng`.
    pub(crate) fn sample(&self, rng: &mut SplitMix64) -> usize {
        let total = *self.cumulative.last().expect("n > 0");
        let u = rng.next_f64() * total;
        let rank = self.cumulative.partition_point(|&c| c <= u);
        // `u < total`, so a rank is always found; the clamp guards rounding.
        rank.min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_deterministic_and_in_range() {
        let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
        for _ in 0..1_000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let f = a.next_f64();
            assert!((0.0..1.0).contains(&f));
            assert!(a.below(3) < 3);
            b.next_f64();
            b.below(3);
        }
    }

    #[test]
    fn zipf_zero_is_roughly_uniform_and_large_s_is_skewed() {
        let mut rng = SplitMix64::new(1);
        let uniform = Zipf::new(4, 0.0);
        let mut counts = [0usize; 4];
        for _ in 0..4_000 {
            counts[uniform.sample(&mut rng)] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1_200).contains(&c)), "{counts:?}");
        let skewed = Zipf::new(1_000, 3.0);
        let hot = (0..1_000).filter(|_| skewed.sample(&mut rng) == 0).count();
        // P(rank 0) = 1 / zeta(3) ~ 0.83.
        assert!(hot > 750, "rank 0 drawn {hot} times of 1000");
    }
}
