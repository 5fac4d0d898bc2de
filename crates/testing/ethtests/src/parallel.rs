//! The parallel cross-check: a block the serial executor ran is run again
//! through Phalanx's parallel engine, on the leader path
//! ([`execute_leader`]) and on the validator path following the leader's
//! schedule ([`schedule_for`] then [`execute_scheduled`]), and both outcomes
//! must equal the serial one field for field (receipts, read/write sets,
//! state changes, gas, bloom, receipts root, rw digest).
//!
//! The serial outcome is itself checked against the fixture (post-state root,
//! logs, receipts root), so equality with it also checks the parallel outcome
//! against the fixture.
//!
//! The engine falls back to serial execution in some cases by design; the
//! check allows only the fallbacks that are legitimate for a valid block
//! ([`allowed_fallback`]) and counts every path taken in a [`Tally`], so a
//! reader sees how many cases really ran in parallel.

use alloy_primitives::keccak256;
use phalanx_core_types::{RecoveredTx, StateView};
use phalanx_execution_evm::{BlockEnv, BlockOutcome};
use phalanx_execution_parallel::{
    execute_leader, execute_scheduled, schedule_for, Fallback, ParallelConfig, ParallelOutcome,
    ScheduleVerdict,
};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// Environment variable overriding the stride of the parallel check (1
/// checks every case; see [`ParallelCheck::selects`]).
pub const PARALLEL_STRIDE_ENV: &str = "PHALANX_ETHTESTS_PARALLEL_STRIDE";

/// Environment variable that, set to `1`, makes the parallel check ignore the
/// skip list's `[[parallel_skip]]` entries (for a full local run).
pub const PARALLEL_ALL_ENV: &str = "PHALANX_ETHTESTS_PARALLEL_ALL";

/// Which cases go through the parallel engine, with how many workers, and
/// the tally of what happened.
#[derive(Debug)]
pub struct ParallelCheck {
    threads: Vec<usize>,
    stride: u64,
    honour_skips: bool,
    tally: Tally,
}

impl ParallelCheck {
    /// Checks every selected case once per entry of `threads` (worker
    /// counts, each at least one). `stride` selects cases: 1 selects every
    /// case, `n` about one in `n` (see [`ParallelCheck::selects`]).
    pub fn new(threads: &[usize], stride: u64) -> Self {
        assert!(!threads.is_empty() && threads.iter().all(|&t| t > 0), "threads: {threads:?}");
        assert!(stride > 0, "stride must be positive");
        Self { threads: threads.to_vec(), stride, honour_skips: true, tally: Tally::default() }
    }

    /// [`ParallelCheck::new`] with `stride` unless [`PARALLEL_STRIDE_ENV`]
    /// sets another, honouring `[[parallel_skip]]` unless
    /// [`PARALLEL_ALL_ENV`] is `1`. An unparsable or zero stride panics
    /// rather than silently checking nothing.
    pub fn from_env(threads: &[usize], stride: u64) -> Self {
        let stride = match std::env::var(PARALLEL_STRIDE_ENV) {
            Err(_) => stride,
            Ok(v) => match v.parse() {
                Ok(stride) if stride > 0 => stride,
                _ => panic!("{PARALLEL_STRIDE_ENV}={v}: expected a positive integer"),
            },
        };
        let mut check = Self::new(threads, stride);
        check.honour_skips = !std::env::var(PARALLEL_ALL_ENV).is_ok_and(|v| v == "1");
        check
    }

    /// The stride in force.
    pub fn stride(&self) -> u64 {
        self.stride
    }

    /// Whether the case named `label` is checked: a fixed hash of the label
    /// modulo the stride, so the selection is deterministic (the same cases
    /// every run, whatever the thread interleaving) and spread over the
    /// whole suite rather than clustered in a few directories.
    pub fn selects(&self, label: &str) -> bool {
        let hash = keccak256(label.as_bytes());
        let word = u64::from_be_bytes(hash[..8].try_into().expect("a hash has 8 leading bytes"));
        word % self.stride == 0
    }

    /// `Some(self)` when the case named `label` is to be checked: selected
    /// by the stride and not listed in the skip list's `[[parallel_skip]]`
    /// (`parallel_skip` is that entry's reason). Cases left out are counted
    /// in the tally by reason.
    pub fn for_case(&self, label: &str, parallel_skip: Option<&str>) -> Option<&Self> {
        if let Some(reason) = parallel_skip.filter(|_| self.honour_skips) {
            self.tally.add(format!("not checked (skip.toml parallel_skip): {reason}"));
            return None;
        }
        if !self.selects(label) {
            self.tally.add(format!("not checked: not selected at stride {}", self.stride));
            return None;
        }
        Some(self)
    }

    /// What the checks did so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Runs `txs` (the candidate transactions, on `state` under `env`) on the
    /// leader and validator paths for every configured worker count. `serial`
    /// is the serial executor's outcome over the same input, which skipped
    /// invalid transactions, and `included` the indices it included. `Err`
    /// says what diverged.
    pub fn check<S: StateView>(
        &self,
        state: &S,
        env: &BlockEnv,
        txs: &[RecoveredTx],
        serial: &BlockOutcome,
        included: &[usize],
    ) -> Result<(), String> {
        for &threads in &self.threads {
            // Both size and dependency-chain thresholds off: every non-empty
            // block goes through the parallel machinery, whatever its shape.
            let config =
                ParallelConfig { threads, min_txs_parallel: 0, sequential_bound_percent: 0 };
            self.check_with(state, env, txs, serial, included, &config)
                .map_err(|e| format!("{threads} threads: {e}"))?;
        }
        Ok(())
    }

    fn check_with<S: StateView>(
        &self,
        state: &S,
        env: &BlockEnv,
        txs: &[RecoveredTx],
        serial: &BlockOutcome,
        included: &[usize],
        config: &ParallelConfig,
    ) -> Result<(), String> {
        let leader = self.leader(state, env, txs, config)?;
        if leader.included != included {
            return Err(format!(
                "leader included {:?}, serial included {included:?} (rejected: {:?})",
                leader.included, leader.rejected
            ));
        }
        expect_same("leader", &leader.outcome, serial)?;
        // The validator executes the block the leader built: the included
        // transactions, in order, under the leader's schedule.
        let block: Vec<RecoveredTx> = leader.included.iter().map(|&i| txs[i].clone()).collect();
        let validator = self.validator(state, env, txs, &block, &leader, config)?;
        expect_same("validator", &validator, serial)
    }

    /// The leader path, its fallback checked and tallied.
    fn leader<S: StateView>(
        &self,
        state: &S,
        env: &BlockEnv,
        txs: &[RecoveredTx],
        config: &ParallelConfig,
    ) -> Result<ParallelOutcome, String> {
        let threads = config.threads;
        let leader = execute_leader(state, env, txs, config).map_err(|e| format!("leader: {e}"))?;
        let path = match leader.stats.fallback {
            None => "parallel".to_string(),
            Some(f) if allowed_fallback(&f) => format!("fallback {}", fallback_name(&f)),
            Some(f) => return Err(format!("leader: unexpected fallback {f:?}")),
        };
        self.tally.add(format!("leader {threads}t: {path}"));
        if leader.stats.fallback.is_none() && leader.included.len() > 1 {
            // Blocks of several transactions are where the engine's
            // speculation, validation and re-execution are exercised.
            self.tally.add(format!("leader {threads}t: parallel, several txs"));
            let stats = &leader.stats;
            self.tally
                .add_n(format!("leader {threads}t: sum of re-executions"), stats.re_executions);
            self.tally.add_n(format!("leader {threads}t: sum of aborts"), stats.aborts);
            self.tally.add_n(
                format!("leader {threads}t: sum of dependency waits"),
                stats.dependency_waits,
            );
        }
        Ok(leader)
    }

    /// The validator path on `block` (what `leader` included of
    /// `candidates`) by `leader`'s schedule: the verdict must be `Followed`
    /// when the leader ran in parallel (its graph is honest), `Serial` when
    /// it fell back (it published no graph).
    fn validator<S: StateView>(
        &self,
        state: &S,
        env: &BlockEnv,
        candidates: &[RecoveredTx],
        block: &[RecoveredTx],
        leader: &ParallelOutcome,
        config: &ParallelConfig,
    ) -> Result<BlockOutcome, String> {
        let schedule = schedule_for(leader, candidates, env);
        let validator = execute_scheduled(state, env, block, &schedule, config)
            .map_err(|e| format!("validator: {e}"))?;
        let expected = if leader.stats.fallback.is_none() { "Followed" } else { "Serial" };
        let verdict = verdict_name(&validator.verdict);
        if verdict != expected {
            return Err(format!(
                "validator verdict {:?}, expected {expected} (leader fallback {:?})",
                validator.verdict, leader.stats.fallback
            ));
        }
        let rerun = match validator.stats.fallback.and_then(|s| s.fallback) {
            None => String::new(),
            Some(f) if allowed_fallback(&f) => format!(", fallback {}", fallback_name(&f)),
            Some(f) => return Err(format!("validator: unexpected fallback {f:?}")),
        };
        self.tally.add(format!("validator {}t: {verdict}{rerun}", config.threads));
        Ok(validator.outcome)
    }
}

/// Whether the engine may legitimately fall back to serial execution for
/// `fallback` on a conformance case: a transaction reading the beneficiary,
/// one exceeding the block's remaining gas, or an execution error are cases
/// the engine hands to the serial executor by design, and an empty block has
/// nothing to run in parallel. `TooFewTransactions` on a non-empty block and
/// `Sequential` are not: the check sets `min_txs_parallel` and
/// `sequential_bound_percent` to 0, so they would mean the parallel engine
/// was never exercised.
pub fn allowed_fallback(fallback: &Fallback) -> bool {
    matches!(
        fallback,
        Fallback::TooFewTransactions { count: 0 }
            | Fallback::CoinbaseRead { .. }
            | Fallback::BlockGasLimit { .. }
            | Fallback::ExecutionError { .. }
            | Fallback::CreditOverflow { .. }
    )
}

fn fallback_name(fallback: &Fallback) -> &'static str {
    match fallback {
        Fallback::TooFewTransactions { count: 0 } => "EmptyBlock",
        Fallback::TooFewTransactions { .. } => "TooFewTransactions",
        Fallback::CoinbaseRead { .. } => "CoinbaseRead",
        Fallback::BlockGasLimit { .. } => "BlockGasLimit",
        Fallback::ExecutionError { .. } => "ExecutionError",
        Fallback::CreditOverflow { .. } => "CreditOverflow",
        Fallback::Sequential { .. } => "Sequential",
        Fallback::Contention { .. } => "Contention",
        Fallback::CheapTransactions { .. } => "CheapTransactions",
        Fallback::SerialFinishedFirst => "SerialFinishedFirst",
        Fallback::ObservedSequential { .. } => "ObservedSequential",
    }
}

fn verdict_name(verdict: &ScheduleVerdict) -> &'static str {
    match verdict {
        ScheduleVerdict::Followed => "Followed",
        ScheduleVerdict::Serial => "Serial",
        ScheduleVerdict::Wrong { .. } => "Wrong",
        ScheduleVerdict::Unjudged { .. } => "Unjudged",
    }
}

/// `Err` naming the fields where `got` differs from the serial outcome.
fn expect_same(path: &str, got: &BlockOutcome, serial: &BlockOutcome) -> Result<(), String> {
    let differing = outcome_diff(got, serial);
    if differing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{path} outcome differs from serial in {} (gas {} vs {}, {} vs {} receipts)",
        differing.join(", "),
        got.gas_used,
        serial.gas_used,
        got.receipts.len(),
        serial.receipts.len()
    ))
}

/// The names of the fields in which two outcomes differ.
pub fn outcome_diff(a: &BlockOutcome, b: &BlockOutcome) -> Vec<&'static str> {
    let fields = [
        ("receipts", a.receipts != b.receipts),
        ("rw_sets", a.rw_sets != b.rw_sets),
        ("changes", a.changes != b.changes),
        ("gas_used", a.gas_used != b.gas_used),
        ("logs_bloom", a.logs_bloom != b.logs_bloom),
        ("receipts_root", a.receipts_root != b.receipts_root),
        ("rw_digest", a.rw_digest != b.rw_digest),
    ];
    fields.into_iter().filter(|(_, differs)| *differs).map(|(name, _)| name).collect()
}

/// Counts of the paths the parallel checks took ("leader 2t: parallel",
/// "validator 2t: Followed", ...), safe to share between suite workers.
#[derive(Debug, Default)]
pub struct Tally {
    counts: Mutex<BTreeMap<String, usize>>,
}

impl Tally {
    fn add(&self, key: String) {
        self.add_n(key, 1);
    }

    fn add_n(&self, key: String, n: u64) {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(key).or_default();
        *count = count.saturating_add(n);
    }

    /// The counts so far, by path.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many checks took exactly the path `key`.
    pub fn count(&self, key: &str) -> usize {
        self.counts().get(key).copied().unwrap_or(0)
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, n) in self.counts() {
            writeln!(f, "  {key}: {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
