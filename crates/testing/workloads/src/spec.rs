//! What a workload is: its kind, size, senders, conflict and seed.

use crate::WorkloadError;

/// Upper bound on the measured transactions of one workload.
pub const TXS_MAX: usize = 100_000;

/// Upper bound on the sender accounts of one workload.
pub const ACCOUNTS_MAX: usize = 100_000;

/// The contract activity a workload's transactions perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    /// Native value transfers to a recipient.
    Transfer,
    /// OpenZeppelin ERC-20 `transfer`s (`PhalanxToken`) to a recipient.
    Erc20,
    /// Exact-input swaps through `SwapHelper` on a Uniswap V2 pair (one pool
    /// per target; each pool pairs its own token with one shared base token).
    Uniswap,
    /// BLOCKBENCH's YCSB `KVStore.set` of a fresh value under a key.
    KvStore,
    /// BLOCKBENCH's CPUHeavy: `fibAndStore` and `sortAndStore` alternately,
    /// each folding its result into the slot of a key.
    CpuHeavy,
    /// The five kinds above interleaved round-robin (transaction `i` has kind
    /// `WorkloadKind::SINGLE[i % 5]`), each with its own hot location.
    Mixed,
}

impl WorkloadKind {
    /// Every kind, [`Mixed`](Self::Mixed) last.
    pub const ALL: [WorkloadKind; 6] = [
        WorkloadKind::Transfer,
        WorkloadKind::Erc20,
        WorkloadKind::Uniswap,
        WorkloadKind::KvStore,
        WorkloadKind::CpuHeavy,
        WorkloadKind::Mixed,
    ];

    /// The kinds a single transaction can have (all but `Mixed`), in the
    /// order `Mixed` interleaves them.
    pub const SINGLE: [WorkloadKind; 5] = [
        WorkloadKind::Transfer,
        WorkloadKind::Erc20,
        WorkloadKind::Uniswap,
        WorkloadKind::KvStore,
        WorkloadKind::CpuHeavy,
    ];

    /// The kind's lower-case name, as a command line would spell it.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Transfer => "transfer",
            WorkloadKind::Erc20 => "erc20",
            WorkloadKind::Uniswap => "uniswap",
            WorkloadKind::KvStore => "kvstore",
            WorkloadKind::CpuHeavy => "cpuheavy",
            WorkloadKind::Mixed => "mixed",
        }
    }

    /// The kind named `name` (see [`name`](Self::name)), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// How much the measured transactions contend for state.
///
/// Every transaction has one *target*: the recipient (transfers, ERC-20), the
/// key (KV store, CPU-heavy) or the pool (Uniswap) it touches. Target 0 is the
/// hot one; the others are fresh per transaction unless stated otherwise.
/// Senders are chosen independently of the conflict: transaction `i` is sent
/// by sender `i % accounts`, so only `accounts >= txs` gives distinct senders.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Conflict {
    /// Exactly `round(ratio * txs)` transactions (chosen by the seed) use the
    /// hot target; each other transaction has a target of its own. 0.0 makes
    /// every transaction touch disjoint state (given distinct senders), 1.0
    /// makes all of them write one location.
    HotKey {
        /// Fraction of transactions on the hot target, in `[0, 1]`.
        ratio: f64,
    },
    /// Each transaction draws its target from a Zipf distribution with
    /// exponent `s` over `txs` targets (target 0 the most popular); 0.0 is
    /// uniform, larger is more skewed.
    Zipf {
        /// The exponent, finite and non-negative.
        s: f64,
    },
    /// One sender sends every transaction with consecutive nonces (targets
    /// distinct): a fully dependent block, whatever `accounts` says.
    Chain,
}

impl Conflict {
    /// No contention: `HotKey { ratio: 0.0 }`.
    pub const NONE: Conflict = Conflict::HotKey { ratio: 0.0 };
    /// Every transaction on the hot target: `HotKey { ratio: 1.0 }`.
    pub const FULL: Conflict = Conflict::HotKey { ratio: 1.0 };
}

/// Work per CPU-heavy transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuParams {
    /// `n` of `fibAndStore(n, key)` (about 60 gas per step).
    pub fib_n: u64,
    /// Array length of `sortAndStore(size, seed, key)`.
    pub sort_size: u64,
}

impl Default for CpuParams {
    fn default() -> Self {
        Self { fib_n: 2_000, sort_size: 128 }
    }
}

/// A workload to prepare: `txs` transactions of `kind` from `accounts`
/// senders with the given `conflict`; `seed` fixes every random choice, so
/// equal specs prepare identical blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkloadSpec {
    /// What the transactions do.
    pub kind: WorkloadKind,
    /// Number of measured transactions, `1..=TXS_MAX`.
    pub txs: usize,
    /// Number of distinct senders, `1..=ACCOUNTS_MAX` (ignored by [`Conflict::Chain`]).
    pub accounts: usize,
    /// Contention between the transactions.
    pub conflict: Conflict,
    /// Seed of every random choice.
    pub seed: u64,
    /// Work per CPU-heavy transaction.
    pub cpu: CpuParams,
}

impl WorkloadSpec {
    /// `txs` transactions of `kind` from `txs` distinct senders without
    /// contention, seed 0, default CPU work.
    pub fn new(kind: WorkloadKind, txs: usize) -> Self {
        Self {
            kind,
            txs,
            accounts: txs,
            conflict: Conflict::NONE,
            seed: 0,
            cpu: CpuParams::default(),
        }
    }

    /// This spec with `conflict`.
    pub fn with_conflict(self, conflict: Conflict) -> Self {
        Self { conflict, ..self }
    }

    /// This spec with `accounts` senders.
    pub fn with_accounts(self, accounts: usize) -> Self {
        Self { accounts, ..self }
    }

    /// This spec with `seed`.
    pub fn with_seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }

    /// Checks every bound; `prepare` calls it first.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.txs == 0 || self.txs > TXS_MAX {
            return Err(WorkloadError::TxCount { txs: self.txs, max: TXS_MAX });
        }
        if self.accounts == 0 || self.accounts > ACCOUNTS_MAX {
            return Err(WorkloadError::AccountCount { accounts: self.accounts, max: ACCOUNTS_MAX });
        }
        match self.conflict {
            Conflict::HotKey { ratio } if !(0.0..=1.0).contains(&ratio) => {
                Err(WorkloadError::HotRatio { ratio })
            }
            Conflict::Zipf { s } if !(s.is_finite() && s >= 0.0) => {
                Err(WorkloadError::ZipfExponent { s })
            }
            _ => Ok(()),
        }
    }

    /// The number of distinct senders the transactions actually use.
    pub fn senders_used(&self) -> usize {
        match self.conflict {
            Conflict::Chain => 1,
            _ => self.accounts.min(self.txs),
        }
    }
}

/// A fully dependent block: `txs` transactions of `kind` sent by one account
/// with consecutive nonces (see [`Conflict::Chain`]).
pub fn fully_dependent(kind: WorkloadKind, txs: usize) -> WorkloadSpec {
    WorkloadSpec::new(kind, txs).with_conflict(Conflict::Chain).with_accounts(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in WorkloadKind::ALL {
            assert_eq!(WorkloadKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(WorkloadKind::from_name("nope"), None);
    }

    #[test]
    fn validate_rejects_out_of_range_specs() {
        let ok = WorkloadSpec::new(WorkloadKind::Erc20, 10);
        assert!(ok.validate().is_ok());
        assert!(WorkloadSpec { txs: 0, ..ok }.validate().is_err());
        assert!(WorkloadSpec { txs: TXS_MAX + 1, ..ok }.validate().is_err());
        assert!(ok.with_accounts(0).validate().is_err());
        assert!(ok.with_conflict(Conflict::HotKey { ratio: 1.5 }).validate().is_err());
        assert!(ok.with_conflict(Conflict::HotKey { ratio: f64::NAN }).validate().is_err());
        assert!(ok.with_conflict(Conflict::Zipf { s: -1.0 }).validate().is_err());
        assert!(ok.with_conflict(Conflict::Zipf { s: f64::INFINITY }).validate().is_err());
        assert!(fully_dependent(WorkloadKind::KvStore, 5).validate().is_ok());
    }

    #[test]
    fn senders_used_is_bounded_by_txs() {
        let spec = WorkloadSpec::new(WorkloadKind::Transfer, 10);
        assert_eq!(spec.with_accounts(100).senders_used(), 10);
        assert_eq!(spec.with_accounts(3).senders_used(), 3);
        assert_eq!(fully_dependent(WorkloadKind::Transfer, 10).senders_used(), 1);
    }
}
