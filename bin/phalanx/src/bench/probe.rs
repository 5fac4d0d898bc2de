//! How much parallelism the machine actually gives right now.
//!
//! Shared and virtual machines do not always run two threads at once even
//! when they report two cores: a neighbour's load or the hypervisor can take
//! the second one away for a while. The speedup of a parallel executor can
//! never exceed what the machine gives, so `bench exec` measures that beside
//! every row: `threads` threads of pure arithmetic (no memory traffic, no
//! synchronisation) against one, as a ratio of work rates. On an idle
//! machine with enough cores it is `threads`.

use std::time::Instant;

/// Iterations of one probe unit: a few milliseconds, the scale of one block.
const PROBE_ITERATIONS: u64 = 3_000_000;

/// A fixed amount of pure arithmetic the optimiser cannot remove.
fn spin(iterations: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..iterations {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
    }
    std::hint::black_box(x)
}

/// One measurement: how many times faster `threads` threads did `threads`
/// units of work than one thread did one unit (ideal: `threads`).
pub(crate) fn parallelism(threads: usize) -> f64 {
    let start = Instant::now();
    spin(PROBE_ITERATIONS);
    let one = start.elapsed().as_secs_f64();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| spin(PROBE_ITERATIONS));
        }
        spin(PROBE_ITERATIONS);
    });
    let all = start.elapsed().as_secs_f64();
    threads as f64 * one / all
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_thread_is_its_own_baseline() {
        // One thread against itself: about 1 whatever the machine's load
        // (a wide band: the two runs are separate moments).
        let ratio = super::parallelism(1);
        assert!(ratio > 0.2 && ratio < 5.0, "ratio {ratio}");
    }
}
