//! The serial head start: a block starts running serially on the calling
//! thread while a helper makes the static prediction (DiPETrans' look at the
//! block before execution) that decides whether it should run in parallel.
//!
//! Why: a block the prediction finds too dependent runs serially anyway, and
//! it used to wait for the prediction first (perf: ~0.3 ms per 2,000 ERC-20
//! transfers, 2–3% of their serial time). Now the prediction costs that block
//! no wall-clock time. A block the prediction sends to the parallel engine
//! loses nothing either: the engine starts when the prediction ends, as
//! before; only the CPU time of the abandoned serial prefix is spent in
//! vain.
//!
//! The prefix is also evidence. When the prediction asks for the engine, the
//! serial run has recorded the read/write sets of the transactions it ran;
//! if at least [`PREFIX_TXS_MIN`] of them are too dependent to gain from the
//! threads although the prediction saw them as independent, the block has
//! conflicts no static pass can see (cheap calls writing one hot slot, which
//! the optimistic engine only finds by running into them), and it goes on
//! serially ([`Fallback::ObservedSequential`]). Conflicts the prediction
//! does see in the prefix (one sender's nonce chain) say nothing about the
//! rest of the block, which the prediction has judged whole.
//!
//! **Invariant:** whichever way it goes, the outcome is the serial executor's
//! or the engine's, both equal to serial execution of the block.

use crate::assemble::Policy;
use crate::pool::run_workers;
use crate::{
    block_graph, certain_prediction, lazy, sequential_bound, Fallback, ParallelOutcome,
    ParallelStats, RejectedTx,
};
use alloy_primitives::Address;
use phalanx_core_types::{RecoveredTx, StateView};
use phalanx_execution_evm::{BlockEnv, BlockExecutor, ExecError};
use phalanx_execution_schedule::{critical_path, critical_path_within, Schedule};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Transactions the serial prefix must have run for its dependencies to
/// count as evidence (as the optimistic engine's early contention window).
pub(crate) const PREFIX_TXS_MIN: usize = 16;

/// How the race ended.
pub(crate) enum HeadStart {
    /// The block is done: its serial outcome (or the serial executor's error).
    Serial(Result<ParallelOutcome, ExecError>),
    /// The prediction wants the parallel engine; the serial run was dropped.
    /// Holds the engine's lazy credit recipients.
    Parallel(Vec<Option<Address>>),
}

/// What each side of the race returns.
enum Side {
    /// The serial run, with the prefix's fallback if it went on against the
    /// prediction; `None` if it stopped for the parallel engine.
    Serial(Option<(Result<ParallelOutcome, ExecError>, Option<Fallback>)>),
    /// The prediction: the lazy recipients and the fallback it found, if
    /// any; `None` if the serial run had finished before it began.
    Prediction(Option<(Vec<Option<Address>>, Option<Fallback>)>),
}

/// What the serial side is told when the prediction wants the engine.
struct Verdict {
    /// Set once the prediction wants the engine (after `predicted`).
    parallel_wanted: AtomicBool,
    /// The certain prediction's graph of the whole block.
    predicted: OnceLock<Schedule>,
}

/// Races serial execution of `txs` against the static prediction on
/// `threads` threads with `bound_percent` (see [`sequential_bound`]).
/// The serial run stops between two transactions once the prediction wants
/// the engine, unless its prefix is evidence against it (module docs). A
/// serial run that finishes the block is kept: its stats name the
/// prediction's fallback, the prefix's, or [`Fallback::SerialFinishedFirst`].
pub(crate) fn race<S: StateView>(
    state: &S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    policy: Policy,
    threads: usize,
    bound_percent: u32,
) -> HeadStart {
    let verdict = Verdict { parallel_wanted: AtomicBool::new(false), predicted: OnceLock::new() };
    let serial_done = AtomicBool::new(false);
    let sides = run_workers(2, |id| {
        if id == 0 {
            let prefix = Prefix { txs, env, threads, bound_percent, verdict: &verdict };
            let outcome = serial_unless(state, env, txs, policy, |executor, included, ran| {
                prefix.stop(executor, included, ran)
            });
            serial_done.store(true, Ordering::Release);
            return Side::Serial(outcome);
        }
        // A helper that starts late (another block's workers held it) has
        // nothing left to decide.
        if serial_done.load(Ordering::Acquire) {
            return Side::Prediction(None);
        }
        let lazy = lazy::lazy_recipients(txs, env.proposer);
        let graph = certain_prediction(txs, &lazy);
        let fallback = sequential_bound(&graph, threads, bound_percent);
        if fallback.is_none() {
            verdict.predicted.get_or_init(|| graph);
            verdict.parallel_wanted.store(true, Ordering::Release);
        }
        Side::Prediction(Some((lazy, fallback)))
    });
    let mut sides = sides.into_iter();
    let (Some(Side::Serial(serial)), Some(Side::Prediction(prediction))) =
        (sides.next(), sides.next())
    else {
        unreachable!("worker 0 runs the serial side, worker 1 the prediction");
    };
    match (serial, prediction) {
        (Some((result, observed)), prediction) => {
            let fallback = observed
                .or(prediction.and_then(|(_, fallback)| fallback))
                .unwrap_or(Fallback::SerialFinishedFirst);
            HeadStart::Serial(result.map(|mut outcome| {
                outcome.stats.fallback = Some(fallback);
                outcome
            }))
        }
        (None, Some((lazy, _))) => HeadStart::Parallel(lazy),
        (None, None) => unreachable!("the serial run stops only when the prediction asks"),
    }
}

/// The serial side's view of the race.
struct Prefix<'a> {
    txs: &'a [RecoveredTx],
    env: &'a BlockEnv,
    threads: usize,
    bound_percent: u32,
    verdict: &'a Verdict,
}

/// What the serial run does before its next transaction.
pub(crate) enum Next {
    /// Run it.
    Go,
    /// Stop: the engine takes the block.
    Stop,
    /// Run the rest of the block without asking again, for this reason.
    Finish(Fallback),
}

impl Prefix<'_> {
    /// Whether the serial run, having run the first `ran` transactions of
    /// the block with `executor` (`included` the valid ones), stops for the
    /// engine.
    fn stop<S: StateView>(
        &self,
        executor: &BlockExecutor<'_, &S>,
        included: &[usize],
        ran: usize,
    ) -> Next {
        if !self.verdict.parallel_wanted.load(Ordering::Acquire) {
            return Next::Go;
        }
        if included.len() < PREFIX_TXS_MIN {
            // Too short to be evidence: no graph to build.
            return Next::Stop;
        }
        let predicted = self.verdict.predicted.get().expect("set before the flag");
        let observed =
            block_graph(included.iter().map(|&i| &self.txs[i]), executor.rw_sets(), self.env);
        let evidence = PrefixEvidence {
            ran,
            observed_critical: critical_path(&observed) as usize,
            observed_txs: observed.tx_count(),
            predicted_critical: critical_path_within(predicted, ran) as usize,
        };
        match evidence.sequential(self.threads, self.bound_percent) {
            Some(fallback) => Next::Finish(fallback),
            None => Next::Stop,
        }
    }
}

/// The serial prefix's dependencies when the prediction came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrefixEvidence {
    /// Transactions of the block the prefix covers (valid or not).
    pub ran: usize,
    /// Its valid transactions, whose read/write sets were observed.
    pub observed_txs: usize,
    /// The longest dependency chain among them, observed.
    pub observed_critical: usize,
    /// The longest chain the certain prediction sees among the `ran` first.
    pub predicted_critical: usize,
}

impl PrefixEvidence {
    /// [`Fallback::ObservedSequential`] when at least [`PREFIX_TXS_MIN`]
    /// transactions were observed and their chain bounds any schedule on
    /// `threads` threads below `bound_percent` of serial speed, while the
    /// predicted chain over the same transactions does not (a chain the
    /// prediction sees was judged with the whole block already). Only the
    /// critical path counts, a lower bound on any makespan: a sample of
    /// the block decides serial execution only when no schedule could gain.
    pub(crate) fn sequential(&self, threads: usize, bound_percent: u32) -> Option<Fallback> {
        let bound = |critical: usize, n: usize| {
            let makespan = critical.max(n.div_ceil(threads.max(1))).max(1);
            n * 100 / makespan
        };
        if self.observed_txs < PREFIX_TXS_MIN || threads <= 1 || bound_percent == 0 {
            return None;
        }
        let observed = bound(self.observed_critical, self.observed_txs);
        let predicted = bound(self.predicted_critical, self.ran.max(1));
        let min = bound_percent as usize;
        (observed < min && predicted >= min).then(|| Fallback::ObservedSequential {
            prefix_txs: u32::try_from(self.ran).unwrap_or(u32::MAX),
            bound_percent: u32::try_from(observed).unwrap_or(u32::MAX),
        })
    }
}

/// The serial executor ([`crate::serial`] runs it never stopping): before
/// each transaction, `next` (given the executor, the indices of the
/// transactions included so far and the number run) says whether to go on. `None` if it
/// stopped; else the outcome and the reason `next` gave to finish, if any.
pub(crate) fn serial_unless<'s, S: StateView>(
    state: &'s S,
    env: &BlockEnv,
    txs: &[RecoveredTx],
    policy: Policy,
    mut next: impl FnMut(&BlockExecutor<'s, &'s S>, &[usize], usize) -> Next,
) -> Option<(Result<ParallelOutcome, ExecError>, Option<Fallback>)> {
    let mut executor = BlockExecutor::with_capacity(state, *env, txs.len());
    let (mut included, mut rejected) = (Vec::new(), Vec::new());
    let mut finishing = None;
    for (index, tx) in txs.iter().enumerate() {
        if finishing.is_none() {
            match next(&executor, &included, index) {
                Next::Go => {}
                Next::Stop => return None,
                Next::Finish(fallback) => finishing = Some(fallback),
            }
        }
        match executor.execute(tx) {
            Ok(_) => included.push(index),
            Err(ExecError::InvalidTransaction { hash, reason }) => {
                if policy == Policy::RejectBlock {
                    let error = ExecError::InvalidBlockTransaction { index, reason };
                    return Some((Err(error), finishing));
                }
                rejected.push(RejectedTx { index, hash, reason });
            }
            Err(other) => return Some((Err(other), finishing)),
        }
    }
    let stats = ParallelStats::default();
    let outcome = executor.finish();
    let outcome = ParallelOutcome { outcome, included, rejected, stats, run_ns: Vec::new() };
    Some((Ok(outcome), finishing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::blocks::base;
    use crate::tests::{counter, env, key, transfer, tx};
    use alloy_primitives::{Bytes, TxKind};
    use phalanx_execution_evm::execute_block;

    /// Runs `txs` serially as the race's serial side does, with the
    /// prediction (the certain one, on two threads) arriving once `at`
    /// transactions have run: the serial side's decision, without timing.
    fn serial_side(txs: &[RecoveredTx], at: usize) -> Option<Option<Fallback>> {
        let (state, env) = (base(60), env(30_000_000));
        let lazy = lazy::lazy_recipients(txs, env.proposer);
        let verdict =
            Verdict { parallel_wanted: AtomicBool::new(false), predicted: OnceLock::new() };
        verdict.predicted.get_or_init(|| certain_prediction(txs, &lazy));
        let prefix = Prefix { txs, env: &env, threads: 2, bound_percent: 125, verdict: &verdict };
        let run =
            serial_unless(&state, &env, txs, Policy::RejectBlock, |executor, included, ran| {
                if ran == at {
                    verdict.parallel_wanted.store(true, Ordering::Release);
                }
                prefix.stop(executor, included, ran)
            });
        let (outcome, fallback) = run?;
        assert_eq!(outcome.unwrap().outcome, execute_block(&state, &env, txs).unwrap());
        Some(fallback)
    }

    #[test]
    fn a_hot_slot_seen_in_the_prefix_keeps_the_block_serial() {
        // Sixty senders each bump the one counter slot with a call the
        // prediction does not know: independent to it, one chain in fact.
        let data = Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]);
        let bump = |s| tx(&key(s), 0, TxKind::Call(counter()), 0, data.clone(), 100_000, 2);
        let txs: Vec<_> = (1..=60u8).map(bump).collect();
        let expected = Fallback::ObservedSequential { prefix_txs: 20, bound_percent: 100 };
        assert_eq!(serial_side(&txs, 20), Some(Some(expected)));
        // Too few transactions run when the prediction comes: the engine's.
        assert_eq!(serial_side(&txs, PREFIX_TXS_MIN - 1), None);
    }

    #[test]
    fn whichever_side_wins_the_race_the_outcome_is_serial() {
        let (state, env) = (base(60), env(30_000_000));
        let data = Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]);
        let bump = |s| tx(&key(s), 0, TxKind::Call(counter()), 0, data.clone(), 100_000, 2);
        let hot: Vec<_> = (1..=60u8).map(bump).collect();
        let spread: Vec<_> =
            (1..=60u8).map(|s| transfer(&key(s), 0, Address::repeat_byte(s), 1)).collect();
        let config =
            crate::ParallelConfig { threads: 2, min_txs_parallel: 1, ..Default::default() };
        for txs in [hot, spread] {
            let serial = execute_block(&state, &env, &txs).unwrap();
            for _ in 0..20 {
                let leader = crate::execute_leader(&state, &env, &txs, &config).unwrap();
                assert_eq!(leader.outcome, serial);
                let validator = crate::execute_block_parallel(&state, &env, &txs, &config);
                assert_eq!(validator.unwrap().outcome, serial);
            }
        }
    }

    #[test]
    fn a_predicted_chain_in_the_prefix_stops_for_the_engine() {
        // One sender's nonce chain: the prediction sees it.
        let txs: Vec<_> =
            (0..60).map(|n| transfer(&key(1), n, Address::repeat_byte(0x70), 1)).collect();
        assert_eq!(serial_side(&txs, 20), None);
    }

    fn evidence(observed_critical: usize, predicted_critical: usize) -> PrefixEvidence {
        PrefixEvidence { ran: 40, observed_txs: 40, observed_critical, predicted_critical }
    }

    #[test]
    fn an_unseen_chain_in_the_prefix_finishes_serially() {
        // Forty transactions in one observed chain, none predicted.
        let fallback = evidence(40, 1).sequential(2, 125);
        let expected = Fallback::ObservedSequential { prefix_txs: 40, bound_percent: 100 };
        assert_eq!(fallback, Some(expected));
        // Chains of half the prefix still allow 2x on two threads, not on more.
        assert_eq!(evidence(20, 1).sequential(2, 125), None);
        assert!(evidence(20, 1).sequential(8, 250).is_some());
    }

    #[test]
    fn a_predicted_chain_or_a_short_prefix_is_no_evidence() {
        // One sender's nonce chain: the prediction saw it (and judged the
        // whole block parallel), so the prefix says nothing new.
        assert_eq!(evidence(40, 40).sequential(2, 125), None);
        let short = PrefixEvidence { ran: 15, observed_txs: 15, ..evidence(15, 1) };
        assert_eq!(short.sequential(2, 125), None);
        assert_eq!(evidence(40, 1).sequential(1, 125), None, "one thread");
        assert_eq!(evidence(40, 1).sequential(2, 0), None, "parallel paths forced");
    }
}
