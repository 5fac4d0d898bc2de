//! Deterministic blocks for testing and benchmarking block executors.
//!
//! [`prepare`] turns a [`WorkloadSpec`] into a [`Prepared`] workload: a state
//! with every contract deployed and every balance distributed, a block
//! environment, and a block of signed EIP-1559 transactions that are all valid
//! on that state. The kinds are BLOCKBENCH's (YCSB key-value store, CPUHeavy)
//! plus native transfers, OpenZeppelin ERC-20 transfers and Uniswap V2 swaps
//! through a one-call router; [`Conflict`] sets how much the transactions
//! contend, from fully disjoint to one hot location or one nonce chain.
//!
//! The setup is never written into the state directly: starting from a
//! genesis that only funds accounts, every deployment, token grant, pool,
//! liquidity deposit and approval is a real transaction executed by the serial
//! executor, whose state changes are folded into the returned state. The same
//! seed always prepares the same block (signatures are RFC 6979).

mod builder;
mod error;
mod kinds;
mod plan;
mod rng;
mod spec;
mod uniswap;

#[cfg(test)]
mod tests;

pub use builder::{BASE_FEE_PER_GAS, CHAIN_ID, GENESIS_BALANCE_WEI, PROPOSER};
pub use error::WorkloadError;
pub use kinds::{key, recipient, TOKEN_CALL_GAS, TRANSFER_GAS};
pub use spec::{
    fully_dependent, Conflict, CpuParams, WorkloadKind, WorkloadSpec, ACCOUNTS_MAX, TXS_MAX,
};
pub use uniswap::{POOL_LIQUIDITY, SWAP_GAS, SWAP_IN};

use builder::{block_env, Builder};
use phalanx_core_types::RecoveredTx;
use phalanx_execution_evm::{BlockEnv, MemoryState};

/// A workload ready to execute: `txs` are valid, in order, on `state` under `env`.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The state after setup: accounts funded, contracts deployed, tokens
    /// distributed, pools filled, approvals given.
    pub state: MemoryState,
    /// The measured block's environment (the height after the setup blocks;
    /// the gas limit covers every transaction's gas limit).
    pub env: BlockEnv,
    /// The measured block: signed EIP-1559 transactions with consecutive
    /// nonces per sender and no priority fee.
    pub txs: Vec<RecoveredTx>,
    /// The kind of each transaction of `txs` (never [`WorkloadKind::Mixed`]).
    pub kinds: Vec<WorkloadKind>,
    /// Which transactions of `txs` use the hot target (recipient, key or pool 0).
    pub hot: Vec<bool>,
    /// One line saying what the block is, for benchmark reports.
    pub description: String,
}

/// Prepares the workload `spec` describes: runs its setup through the serial
/// executor and signs its measured block (in parallel, on all cores).
///
/// Fails if `spec` is out of bounds ([`WorkloadSpec::validate`]) or if a
/// setup transaction does not succeed (a bug, not a property of the spec).
pub fn prepare(spec: &WorkloadSpec) -> Result<Prepared, WorkloadError> {
    spec.validate()?;
    let planned = plan::plan(spec);
    let mut b = Builder::new(spec.senders_used());
    let deployed = kinds::Deployed::setup(&mut b, &planned);
    let setup_txs = b.setup_len();
    let (state, setup_blocks) = b.run_setup()?;
    deployed.check(&state)?;
    let steps: Vec<_> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| deployed.step(&mut b, i, p, spec.seed, spec.cpu))
        .collect();
    let txs = b.sign(&steps);
    let gas = txs.iter().map(RecoveredTx::gas_limit).fold(0u64, u64::saturating_add);
    let hot: Vec<bool> = planned.iter().map(|p| p.target == plan::HOT_TARGET).collect();
    let description = describe(spec, hot.iter().filter(|h| **h).count(), setup_txs, setup_blocks);
    Ok(Prepared {
        state,
        env: block_env(setup_blocks + 1, gas),
        txs,
        kinds: planned.iter().map(|p| p.kind).collect(),
        hot,
        description,
    })
}

fn describe(spec: &WorkloadSpec, hot: usize, setup_txs: usize, setup_blocks: u64) -> String {
    let conflict = match spec.conflict {
        Conflict::HotKey { ratio } => {
            format!("hot-key ratio {ratio} ({hot} txs on the hot target)")
        }
        Conflict::Zipf { s } => format!("Zipf s={s} ({hot} txs on the hottest target)"),
        Conflict::Chain => "one sender, one nonce chain (fully dependent)".to_string(),
    };
    format!(
        "{} × {} from {} senders, {conflict}, seed {}; setup {setup_txs} txs in {setup_blocks} blocks",
        spec.txs,
        spec.kind.name(),
        spec.senders_used(),
        spec.seed
    )
}
