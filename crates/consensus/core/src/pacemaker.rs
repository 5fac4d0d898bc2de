//! The pacemaker: which view the replica is in and how long it waits there.
//!
//! Liveness only. Views advance on certificates (a QC or TC for the current
//! view or a later one); the per-view timeout doubles (by the configured
//! factor, capped) with every view entered through a timeout certificate and
//! resets when a view is entered through a quorum certificate.
//!
//! A view also has to fit the execution it carries (execute-then-vote): the
//! leader builds and executes its block, then every replica executes it
//! before voting. So the timeout adds [`WORK_ALLOWANCE_FACTOR`] times the
//! mean of the replica's recent local build and execution times
//! ([`Pacemaker::record_work_ms`]). With a fixed timeout, views carrying
//! large blocks timed out for nothing on a loaded machine (docs/BENCHMARKS.md:
//! 72–103 spurious view timeouts in 15 s of ERC20 load on the four-validator
//! devnet at a 250 ms base timeout, 6–8 with the allowance).

use crate::types::View;

/// How a view was entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Through a QC: the chain made progress.
    Progress,
    /// Through a TC: the previous view failed.
    Timeout,
}

/// Timer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutPolicy {
    /// Timeout of a view after progress.
    pub base_timeout_ms: u64,
    /// Multiplier applied per consecutive failed view (at least 1).
    pub timeout_backoff: u64,
    /// Cap on any view's timeout.
    pub max_timeout_ms: u64,
}

impl TimeoutPolicy {
    /// The timeout after `failures` consecutive failed views.
    pub fn duration_ms(&self, failures: u32) -> u64 {
        let factor = self.timeout_backoff.max(1).saturating_pow(failures);
        self.base_timeout_ms.saturating_mul(factor).min(self.max_timeout_ms)
    }
}

/// How many of the replica's latest build or execution durations the work
/// estimate remembers: enough to ride out one small block among large ones,
/// few enough that the estimate follows the load down within a few views.
pub const WORK_WINDOW: usize = 8;

/// A view's timeout allows this many times the work estimate on top of the
/// policy's duration: one leader build and one execution by the replica.
pub const WORK_ALLOWANCE_FACTOR: u64 = 2;

/// The current view, the backoff counter and the work estimate.
#[derive(Debug, Clone)]
pub struct Pacemaker {
    view: View,
    failures: u32,
    policy: TimeoutPolicy,
    /// The latest build and execution durations (ms), oldest overwritten.
    work_ms: [u64; WORK_WINDOW],
    /// Where the next duration goes in `work_ms`.
    work_next: usize,
}

impl Pacemaker {
    /// Starts in `view` with no failures.
    pub fn new(view: View, policy: TimeoutPolicy) -> Self {
        Self { view, failures: 0, policy, work_ms: [0; WORK_WINDOW], work_next: 0 }
    }

    /// Notes that a local block build (as leader) or execution took
    /// `duration_ms`, measured by the replica's clock.
    pub fn record_work_ms(&mut self, duration_ms: u64) {
        self.work_ms[self.work_next] = duration_ms;
        self.work_next = (self.work_next + 1) % WORK_WINDOW;
    }

    /// The mean of the latest [`WORK_WINDOW`] builds and executions (the
    /// mean, not the longest: a rare slow block should not lengthen the
    /// next views' timeouts, which is what a silent leader costs).
    pub fn work_estimate_ms(&self) -> u64 {
        let sum = self.work_ms.iter().fold(0u64, |sum, ms| sum.saturating_add(*ms));
        sum / WORK_WINDOW as u64
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// The timeout of the current view: the policy's duration after the
    /// failures so far plus [`WORK_ALLOWANCE_FACTOR`] times the work
    /// estimate, capped at the policy's maximum.
    pub fn timeout_ms(&self) -> u64 {
        let allowance = self.work_estimate_ms().saturating_mul(WORK_ALLOWANCE_FACTOR);
        let base = self.policy.duration_ms(self.failures);
        base.saturating_add(allowance).min(self.policy.max_timeout_ms)
    }

    /// Moves to `certified_view + 1` if that is ahead of the current view.
    /// Returns the new view when it moved.
    pub fn advance(&mut self, certified_view: View, entry: Entry) -> Option<View> {
        let next = certified_view.checked_add(1)?;
        if next <= self.view {
            return None;
        }
        self.view = next;
        self.failures = match entry {
            Entry::Progress => 0,
            Entry::Timeout => self.failures.saturating_add(1),
        };
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: TimeoutPolicy =
        TimeoutPolicy { base_timeout_ms: 100, timeout_backoff: 2, max_timeout_ms: 1000 };

    #[test]
    fn backoff_doubles_and_caps_and_resets() {
        let mut p = Pacemaker::new(1, POLICY);
        assert_eq!(p.timeout_ms(), 100);
        assert_eq!(p.advance(1, Entry::Timeout), Some(2));
        assert_eq!(p.timeout_ms(), 200);
        p.advance(2, Entry::Timeout);
        p.advance(3, Entry::Timeout);
        p.advance(4, Entry::Timeout);
        p.advance(5, Entry::Timeout);
        assert_eq!(p.timeout_ms(), 1000);
        assert_eq!(p.advance(6, Entry::Progress), Some(7));
        assert_eq!(p.timeout_ms(), 100);
        assert_eq!(POLICY.duration_ms(u32::MAX), 1000, "no overflow");
    }

    #[test]
    fn recent_work_extends_the_timeout_and_ages_out() {
        let mut p = Pacemaker::new(1, POLICY);
        for _ in 0..WORK_WINDOW {
            p.record_work_ms(150);
        }
        assert_eq!(p.work_estimate_ms(), 150);
        assert_eq!(p.timeout_ms(), 100 + 2 * 150);
        // The mean of the window: one short build moves it by an eighth.
        p.record_work_ms(70);
        assert_eq!(p.work_estimate_ms(), (7 * 150 + 70) / 8);
        // The cap holds.
        p.record_work_ms(10_000);
        assert_eq!(p.timeout_ms(), 1000);
        // After a window of short work the long one is forgotten.
        for _ in 0..WORK_WINDOW {
            p.record_work_ms(10);
        }
        assert_eq!(p.timeout_ms(), 120);
        assert_eq!(p.advance(1, Entry::Timeout), Some(2));
        assert_eq!(p.timeout_ms(), 220, "backoff applies to the base, not the allowance");
        p.record_work_ms(u64::MAX);
        assert_eq!(p.timeout_ms(), 1000, "no overflow");
    }

    #[test]
    fn never_goes_back() {
        let mut p = Pacemaker::new(5, POLICY);
        assert_eq!(p.advance(3, Entry::Progress), None);
        assert_eq!(p.advance(4, Entry::Progress), None);
        assert_eq!(p.view(), 5);
        assert_eq!(p.advance(u64::MAX, Entry::Progress), None);
    }
}
