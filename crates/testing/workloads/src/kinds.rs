//! Setup and measured transactions of every workload kind.

use crate::builder::{expect_code, Builder, Step};
use crate::plan::Planned;
use crate::uniswap::Uniswap;
use crate::{CpuParams, WorkloadError, WorkloadKind};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_sol_types::SolCall;
use phalanx_execution_evm::MemoryState;
use phalanx_tools_loadgen::artifacts::{
    cpu_heavy, erc20_deploy_input, kv_store, ICPUHeavy, IKVStore, IERC20,
};
use std::collections::BTreeSet;

/// Gas limit of a native transfer.
pub const TRANSFER_GAS: u64 = 21_000;
/// Gas limit of an ERC-20 transfer or a KV store `set` (about 30-55k used).
pub const TOKEN_CALL_GAS: u64 = 100_000;
/// Wei a native transfer sends, plus the transaction's index.
const TRANSFER_WEI: u64 = 1_000;
/// ERC-20 tokens each sender is granted by the owner during setup.
const ERC20_GRANT: u128 = 1_000_000 * 1_000_000_000_000_000_000;
/// ERC-20 supply: grants for `ACCOUNTS_MAX` senders with room to spare.
const ERC20_SUPPLY: u128 = 1_000_000_000_000 * 1_000_000_000_000_000_000;

/// The recipient address of `target` (never a sender: senders' keys come from
/// a different derivation, and a collision would need a keccak collision).
pub fn recipient(target: usize) -> Address {
    Address::from_word(keccak256(format!("phalanx-workload-recipient-{target}")))
}

/// The KV store / CPU-heavy key of `target`.
pub fn key(target: usize) -> B256 {
    keccak256(format!("phalanx-workload-key-{target}"))
}

/// The value transaction `index` stores: distinct per transaction, so every
/// `set` on a shared key really changes the slot.
fn kv_value(seed: u64, index: usize) -> B256 {
    keccak256(format!("phalanx-workload-value-{seed}-{index}"))
}

/// The contracts deployed for the kinds present in a plan.
#[derive(Debug, Default)]
pub(crate) struct Deployed {
    erc20: Option<Address>,
    kv: Option<Address>,
    cpu: Option<Address>,
    uniswap: Option<Uniswap>,
}

impl Deployed {
    /// Queues the setup every kind in `planned` needs.
    pub(crate) fn setup(b: &mut Builder, planned: &[Planned]) -> Self {
        let of = |kind| planned.iter().filter(move |p: &&Planned| p.kind == kind);
        let mut d = Deployed::default();
        if of(WorkloadKind::Erc20).next().is_some() {
            let init = erc20_deploy_input("Workload", "WKL", U256::from(ERC20_SUPPLY));
            let token = b.deploy(init, 3_000_000, "deploy ERC20");
            let senders: BTreeSet<usize> = of(WorkloadKind::Erc20).map(|p| p.sender).collect();
            for sender in senders {
                let to = b.address(Builder::sender(sender));
                let grant = IERC20::transferCall { to, value: U256::from(ERC20_GRANT) };
                b.call(Builder::OWNER, token, grant.abi_encode(), TOKEN_CALL_GAS, "grant ERC20");
            }
            d.erc20 = Some(token);
        }
        if of(WorkloadKind::KvStore).next().is_some() {
            d.kv = Some(b.deploy(kv_store().bytecode.clone(), 1_000_000, "deploy KVStore"));
        }
        if of(WorkloadKind::CpuHeavy).next().is_some() {
            d.cpu = Some(b.deploy(cpu_heavy().bytecode.clone(), 2_000_000, "deploy CPUHeavy"));
        }
        let swaps: Vec<&Planned> = of(WorkloadKind::Uniswap).collect();
        if !swaps.is_empty() {
            d.uniswap = Some(Uniswap::setup(b, &swaps));
        }
        d
    }

    /// Fails unless every deployed contract has code in `state`.
    pub(crate) fn check(&self, state: &MemoryState) -> Result<(), WorkloadError> {
        for (address, name) in [(self.erc20, "ERC20"), (self.kv, "KVStore"), (self.cpu, "CPUHeavy")]
        {
            if let Some(address) = address {
                expect_code(state, address, name)?;
            }
        }
        self.uniswap.as_ref().map_or(Ok(()), |u| u.check(state))
    }

    /// The measured transaction `index`, planned as `p`.
    pub(crate) fn step(
        &self,
        b: &mut Builder,
        index: usize,
        p: &Planned,
        seed: u64,
        cpu: CpuParams,
    ) -> Step {
        let signer = Builder::sender(p.sender);
        let call = |b: &mut Builder, to: Option<Address>, input: Vec<u8>, gas: u64| {
            let to = to.expect("setup deployed every contract the plan uses");
            b.step(signer, TxKind::Call(to), input.into(), U256::ZERO, gas, "measured")
        };
        match p.kind {
            WorkloadKind::Transfer => {
                let value = U256::from(TRANSFER_WEI + index as u64);
                let to = TxKind::Call(recipient(p.target));
                b.step(signer, to, Bytes::new(), value, TRANSFER_GAS, "measured")
            }
            WorkloadKind::Erc20 => {
                let value = U256::from(1 + index as u64);
                let input = IERC20::transferCall { to: recipient(p.target), value }.abi_encode();
                call(b, self.erc20, input, TOKEN_CALL_GAS)
            }
            WorkloadKind::KvStore => {
                let input = IKVStore::setCall { key: key(p.target), value: kv_value(seed, index) };
                call(b, self.kv, input.abi_encode(), TOKEN_CALL_GAS)
            }
            WorkloadKind::CpuHeavy => {
                let (input, gas) = cpu_call(index, p.target, seed, cpu);
                call(b, self.cpu, input, gas)
            }
            WorkloadKind::Uniswap => {
                self.uniswap.as_ref().expect("setup deployed Uniswap").swap(b, p)
            }
            WorkloadKind::Mixed => unreachable!("plans never hold Mixed"),
        }
    }
}

/// Calldata and gas limit of CPU-heavy transaction `index`: even indices
/// compute Fibonacci, odd ones sort.
fn cpu_call(index: usize, target: usize, seed: u64, cpu: CpuParams) -> (Vec<u8>, u64) {
    let key = key(target);
    if index & 1 == 0 {
        let n = U256::from(cpu.fib_n);
        let gas = 60_000u64.saturating_add(cpu.fib_n.saturating_mul(100));
        (ICPUHeavy::fibAndStoreCall { n, key }.abi_encode(), gas)
    } else {
        let size = cpu.sort_size;
        let sort_seed = U256::from_be_bytes(keccak256(format!("{seed}-{index}")).0);
        let log2 = u64::from(u64::BITS - size.leading_zeros()).max(1);
        let gas = 80_000u64.saturating_add(size.saturating_mul(log2).saturating_mul(600));
        let input = ICPUHeavy::sortAndStoreCall { size: U256::from(size), seed: sort_seed, key }
            .abi_encode();
        (input, gas)
    }
}
