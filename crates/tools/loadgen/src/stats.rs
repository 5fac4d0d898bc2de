//! Latency samples, percentiles and the report/summary types.

use rand::Rng;

/// Upper bound on latency samples kept for a run's summary; beyond it the
/// sample is a uniform reservoir over all confirmations.
pub const SAMPLES_MAX: usize = 200_000;

/// The nearest-rank `p`-th percentile (`0.0 ..= 100.0`) of `sorted`, which
/// must be sorted ascending; `0` for an empty slice.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    debug_assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "percentile input must be sorted");
    if sorted.is_empty() {
        return 0;
    }
    let p = p.clamp(0.0, 100.0);
    // Nearest rank: the smallest value with at least p% of samples <= it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A bounded uniform sample of latencies (reservoir sampling, Algorithm R).
#[derive(Debug, Clone)]
pub struct LatencySamples {
    samples: Vec<u64>,
    seen: u64,
    cap: usize,
}

impl LatencySamples {
    /// An empty sample keeping at most `cap` values (`cap >= 1`).
    pub fn new(cap: usize) -> Self {
        assert!(cap >= 1, "a latency sample needs room for one value");
        Self { samples: Vec::new(), seen: 0, cap }
    }

    /// Records one latency in milliseconds.
    pub fn record(&mut self, latency_ms: u64) {
        self.seen += 1;
        if self.samples.len() < self.cap {
            self.samples.push(latency_ms);
            return;
        }
        let slot = rand::thread_rng().gen_range(0..self.seen);
        if let Ok(slot) = usize::try_from(slot) {
            if slot < self.cap {
                self.samples[slot] = latency_ms;
            }
        }
    }

    /// How many latencies were recorded (not how many are kept).
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// `(p50, p99)` of the kept sample, in milliseconds.
    pub fn p50_p99(&self) -> (u64, u64) {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        (percentile(&sorted, 50.0), percentile(&sorted, 99.0))
    }

    /// Empties the sample.
    pub fn clear(&mut self) {
        self.samples.clear();
        self.seen = 0;
    }
}

/// Progress of a run over the last report interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Milliseconds since the load phase started.
    pub elapsed_ms: u64,
    /// The highest block number observed.
    pub height: u64,
    /// Transactions accepted by `eth_sendRawTransaction` so far.
    pub sent: u64,
    /// Transactions observed in blocks so far.
    pub confirmed: u64,
    /// Transactions refused by the node or never included (timed out) so far.
    pub failed: u64,
    /// Accepted transactions per second over the interval.
    pub tps_sent: f64,
    /// Confirmed transactions per second over the interval.
    pub tps_confirmed: f64,
    /// Median send-to-inclusion latency over the interval, milliseconds.
    pub latency_p50_ms: u64,
    /// 99th percentile send-to-inclusion latency over the interval, milliseconds.
    pub latency_p99_ms: u64,
}

/// Totals of a finished run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Length of the load phase, milliseconds (setup excluded).
    pub elapsed_ms: u64,
    /// Block height when the run ended.
    pub height: u64,
    /// Transactions accepted by the node.
    pub sent: u64,
    /// Transactions observed in blocks.
    pub confirmed: u64,
    /// Transactions refused or never included.
    pub failed: u64,
    /// Transactions still pending when the run stopped waiting.
    pub pending: u64,
    /// Mean accepted transactions per second.
    pub tps_sent: f64,
    /// Mean confirmed transactions per second, over the load phase plus the
    /// final wait for in-flight transactions.
    pub tps_confirmed: f64,
    /// Median send-to-inclusion latency, milliseconds.
    pub latency_p50_ms: u64,
    /// 99th percentile send-to-inclusion latency, milliseconds.
    pub latency_p99_ms: u64,
    /// Largest observed latency, milliseconds.
    pub latency_max_ms: u64,
    /// The contract the workload deployed (the token for `Erc20`).
    pub contract: Option<alloy_primitives::Address>,
}

/// Events per second for `count` events over `elapsed_ms` (0 for no time).
pub fn per_second(count: u64, elapsed_ms: u64) -> f64 {
    if elapsed_ms == 0 {
        return 0.0;
    }
    count as f64 * 1_000.0 / elapsed_ms as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 51.0), 3);
    }

    #[test]
    fn reservoir_stays_bounded_and_counts_everything() {
        let mut s = LatencySamples::new(100);
        for i in 0..10_000 {
            s.record(i % 10);
        }
        assert_eq!(s.seen(), 10_000);
        assert!(s.samples.len() <= 100);
        let (p50, p99) = s.p50_p99();
        assert!(p50 <= p99 && p99 <= 9);
        s.clear();
        assert_eq!(s.p50_p99(), (0, 0));
    }

    #[test]
    fn rates() {
        assert_eq!(per_second(500, 250), 2_000.0);
        assert_eq!(per_second(5, 0), 0.0);
    }
}
