//! The block execution schedule.
//!
//! A Phalanx block carries `schedule` bytes (committed to by the header's
//! `schedule_hash`). The leader runs the block with the optimistic parallel
//! executor, which yields each transaction's [`ReadWriteSet`]; from those it
//! builds a [`Schedule`] — a dependency graph between the transactions — and
//! validators run the block by that graph in parallel, without speculation,
//! then check it with [`Schedule::check_sufficient`].
//!
//! - [`Schedule`], [`BlockSchedule`]: the graph and the block-level choice
//!   between it and serial execution (empty bytes); canonical codec in
//!   [`Schedule::encode`] / [`Schedule::decode`].
//! - [`Schedule::from_rw_sets`]: read-after-write edges on the latest writer,
//!   under the multi-version contract documented on [`Schedule`].
//! - [`Groups`]: PaVM's disjoint-set groups (§III-E), for comparison.
//! - [`analyse_graph`], [`analyse_groups`], [`compare`]: critical paths,
//!   speedup bounds and list-scheduling simulation on 2–64 cores.
//! - [`predict`], [`StaticTxInfo`], [`agreement`]: DiPETrans-style static
//!   conflict prediction from the transactions alone, and how well it agrees
//!   with what execution observed.
//!
//! **Why a graph and not groups.** One location that many transactions touch
//! (a fee sink written blindly, a configuration slot everybody reads) merges
//! every group that touches it, while the graph adds only the read-after-write
//! edges that ordering actually needs; a chain of groups is itself a graph
//! ([`Groups::to_schedule`]), so the format can carry either and the choice
//! is the leader's, by measurement ([`Comparison::preferred`]).
//!
//! [`ReadWriteSet`]: phalanx_core_types::ReadWriteSet

mod agreement;
mod analysis;
mod codec;
#[cfg(test)]
mod equivalence;
mod groups;
mod keyhash;
mod observed;
mod predict;
mod reach;
mod schedule;
mod varint;

pub use agreement::{agreement, Agreement};
pub use analysis::{
    analyse_graph, analyse_groups, compare, critical_path, critical_path_weighted,
    critical_path_within, list_schedule_makespan, Comparison, GraphAnalysis, GroupsAnalysis,
    ScheduleKind, Speedup, CORE_COUNTS,
};
pub use codec::{ScheduleError, SCHEDULE_VERSION};
pub use groups::Groups;
pub use observed::Exempt;
pub use predict::{
    predict, predict_groups, StaticTxInfo, SELECTOR_APPROVE, SELECTOR_TRANSFER,
    SELECTOR_TRANSFER_FROM, STATIC_ARGS_MAX,
};
pub use reach::Insufficient;
pub use schedule::{BlockSchedule, Schedule, SCHEDULE_EDGES_MAX};
