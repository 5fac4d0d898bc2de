//! The pacemaker: which view the replica is in and how long it waits there.
//!
//! Liveness only. Views advance on certificates (a QC or TC for the current
//! view or a later one); the per-view timeout doubles (by the configured
//! factor, capped) with every view entered through a timeout certificate and
//! resets when a view is entered through a quorum certificate.

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

/// The current view and the backoff counter.
#[derive(Debug, Clone)]
pub struct Pacemaker {
    view: View,
    failures: u32,
    policy: TimeoutPolicy,
}

impl Pacemaker {
    /// Starts in `view` with no failures.
    pub fn new(view: View, policy: TimeoutPolicy) -> Self {
        Self { view, failures: 0, policy }
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// The timeout of the current view.
    pub fn timeout_ms(&self) -> u64 {
        self.policy.duration_ms(self.failures)
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
    fn never_goes_back() {
        let mut p = Pacemaker::new(5, POLICY);
        assert_eq!(p.advance(3, Entry::Progress), None);
        assert_eq!(p.advance(4, Entry::Progress), None);
        assert_eq!(p.view(), 5);
        assert_eq!(p.advance(u64::MAX, Entry::Progress), None);
    }
}
