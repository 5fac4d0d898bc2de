//! Exponential reconnection backoff with jitter.

use rand::Rng;
use std::time::Duration;

/// Doubles a delay from `min_ms` up to `max_ms` on every failure; each
/// returned delay is drawn uniformly from the upper half of the current step
/// ("equal jitter"), so validators that lost each other at the same instant
/// do not redial in lockstep, yet never wait less than half a step.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min_ms: u64,
    max_ms: u64,
    step_ms: u64,
}

impl Backoff {
    /// A backoff starting at `min_ms`; requires `0 < min_ms <= max_ms`.
    pub(crate) fn new(min_ms: u64, max_ms: u64) -> Backoff {
        assert!(0 < min_ms && min_ms <= max_ms, "backoff bounds must be ordered and positive");
        Backoff { min_ms, max_ms, step_ms: min_ms }
    }

    /// The delay before the next attempt; grows the step for the one after.
    pub(crate) fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let step = self.step_ms;
        self.step_ms = step.saturating_mul(2).min(self.max_ms);
        Duration::from_millis(rng.gen_range(step.div_ceil(2)..=step))
    }

    /// Back to the first step, after a connection succeeded.
    pub(crate) fn reset(&mut self) {
        self.step_ms = self.min_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_bounds_and_reset() {
        let mut rng = rand::thread_rng();
        let mut b = Backoff::new(10, 100);
        let steps = [10u64, 20, 40, 80, 100, 100];
        for step in steps {
            let d = b.next_delay(&mut rng).as_millis() as u64;
            assert!(step.div_ceil(2) <= d && d <= step, "{d} outside half-step of {step}");
        }
        b.reset();
        assert!(b.next_delay(&mut rng) <= Duration::from_millis(10));
    }
}
