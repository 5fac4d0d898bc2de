//! The replica's own work (building and executing blocks) timed with the
//! event clock, for the pacemaker's work allowance, and the once-per-view
//! re-arming of the timer when the view's proposal is ready locally.

use crate::types::{BlockId, View};
use std::collections::VecDeque;

/// Executions in flight that are timed; older ones are forgotten (a
/// replica catching up issues many at once, and one estimate is enough).
const EXEC_TIMED_MAX: usize = 64;

/// Start times of the replica's builds and executions.
#[derive(Debug, Default)]
pub(super) struct WorkClock {
    /// The view being built for and when the build was asked for.
    build_started_ms: Option<(View, u64)>,
    /// Executions asked for, oldest first, with when they were asked for.
    exec_started_ms: VecDeque<(BlockId, u64)>,
    /// When the latest execution finished: the driver executes one block
    /// after another, so a block asked for with others starts when the one
    /// before it finishes, not when it was asked for.
    exec_finished_ms: u64,
    /// The latest view whose timer was re-armed because its proposal became
    /// ready locally.
    rearmed_view: Option<View>,
}

impl WorkClock {
    /// A build for `view` was asked for at `now_ms`.
    pub(super) fn build_started(&mut self, view: View, now_ms: u64) {
        self.build_started_ms = Some((view, now_ms));
    }

    /// The build for `view` came back at `now_ms`: how long it took.
    pub(super) fn build_finished(&mut self, view: View, now_ms: u64) -> Option<u64> {
        let (started_view, started_ms) = self.build_started_ms.take()?;
        (started_view == view).then(|| now_ms.saturating_sub(started_ms))
    }

    /// The execution of `id` was asked for at `now_ms`.
    pub(super) fn exec_started(&mut self, id: BlockId, now_ms: u64) {
        if self.exec_started_ms.len() == EXEC_TIMED_MAX {
            self.exec_started_ms.pop_front();
        }
        self.exec_started_ms.push_back((id, now_ms));
    }

    /// The execution of `id` came back at `now_ms`: how long it took itself.
    pub(super) fn exec_finished(&mut self, id: BlockId, now_ms: u64) -> Option<u64> {
        let position = self.exec_started_ms.iter().position(|(started, _)| *started == id)?;
        let (_, asked_ms) = self.exec_started_ms.remove(position)?;
        let started_ms = asked_ms.max(self.exec_finished_ms);
        self.exec_finished_ms = self.exec_finished_ms.max(now_ms);
        Some(now_ms.saturating_sub(started_ms))
    }

    /// Whether `view`'s timer may be re-armed now: once per view.
    pub(super) fn rearm(&mut self, view: View) -> bool {
        if self.rearmed_view.is_some_and(|done| done >= view) {
            return false;
        }
        self.rearmed_view = Some(view);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    fn id(n: u8) -> BlockId {
        B256::repeat_byte(n)
    }

    #[test]
    fn executions_asked_together_are_timed_one_after_another() {
        let mut clock = WorkClock::default();
        clock.exec_started(id(1), 100);
        clock.exec_started(id(2), 100);
        assert_eq!(clock.exec_finished(id(1), 150), Some(50));
        // Block 2 waited for block 1: its own execution is 150..190.
        assert_eq!(clock.exec_finished(id(2), 190), Some(40));
        assert_eq!(clock.exec_finished(id(2), 200), None, "timed once");
        clock.exec_started(id(3), 300);
        assert_eq!(clock.exec_finished(id(3), 310), Some(10));
    }

    #[test]
    fn builds_are_timed_per_view_and_timers_rearm_once_per_view() {
        let mut clock = WorkClock::default();
        clock.build_started(4, 10);
        assert_eq!(clock.build_finished(5, 30), None, "another view's build");
        clock.build_started(5, 40);
        assert_eq!(clock.build_finished(5, 65), Some(25));
        assert!(clock.rearm(5));
        assert!(!clock.rearm(5));
        assert!(!clock.rearm(4));
        assert!(clock.rearm(6));
    }

    #[test]
    fn timed_executions_are_bounded() {
        let mut clock = WorkClock::default();
        for n in 0..=u8::try_from(EXEC_TIMED_MAX).unwrap() {
            clock.exec_started(id(n), u64::from(n));
        }
        assert_eq!(clock.exec_started_ms.len(), EXEC_TIMED_MAX);
        assert_eq!(clock.exec_finished(id(0), 1_000), None, "the oldest was forgotten");
    }
}
