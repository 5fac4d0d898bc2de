//! Accounts, nonces, signing, and running the setup transactions.

use crate::WorkloadError;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_network::TxSignerSync;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use phalanx_core_types::{Account, RecoveredTx, StateView};
use phalanx_execution_evm::{BlockEnv, BlockExecutor, MemoryState};

/// Chain id of every workload transaction and block.
pub const CHAIN_ID: u64 = 7777;

/// Base fee of every workload block, and each transaction's `max_fee_per_gas`
/// (the priority fee is zero, so the coinbase is never credited).
pub const BASE_FEE_PER_GAS: u64 = 1_000_000_000;

/// Wei every account starts with in the genesis state.
pub const GENESIS_BALANCE_WEI: u128 = 1_000_000 * 1_000_000_000_000_000_000;

/// The block proposer (`COINBASE`) of every workload block.
pub const PROPOSER: Address = Address::repeat_byte(0xc0);

/// Setup transactions per setup block (keeps a block's outcome small).
const SETUP_BLOCK_TXS: usize = 2_000;

/// Seed prefix of the workload's keys: signer `i` has private key
/// `keccak256("phalanx-workload-" + decimal(i))`; signer 0 is the owner.
const KEY_SEED: &str = "phalanx-workload-";

/// An unsigned transaction with its nonce assigned.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// Index of the signer (0 is the owner).
    pub signer: usize,
    pub nonce: u64,
    pub to: TxKind,
    pub input: Bytes,
    pub value: U256,
    pub gas_limit: u64,
    /// What a setup step is for (reported if it fails).
    pub what: &'static str,
}

/// The environment of workload block `height`, with room for `gas` gas.
pub(crate) fn block_env(height: u64, gas: u64) -> BlockEnv {
    BlockEnv {
        height,
        timestamp: 1_700_000_000 + height,
        proposer: PROPOSER,
        gas_limit: gas.max(30_000_000),
        base_fee_per_gas: BASE_FEE_PER_GAS,
        prev_randao: keccak256(height.to_be_bytes()),
        chain_id: CHAIN_ID,
    }
}

/// Maps `f` over `items` on all cores, keeping order.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(64);
    if items.len() <= chunk {
        return items.iter().map(&f).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a signing thread panicked")).collect()
    })
}

/// The owner (signer 0) and `senders` senders, their nonces, and the setup
/// steps queued so far.
#[derive(Debug)]
pub(crate) struct Builder {
    signers: Vec<PrivateKeySigner>,
    addresses: Vec<Address>,
    nonces: Vec<u64>,
    setup: Vec<Step>,
}

impl Builder {
    /// Index of the owner, who deploys and distributes everything.
    pub(crate) const OWNER: usize = 0;

    /// The owner plus `senders` senders, all with nonce 0.
    pub(crate) fn new(senders: usize) -> Self {
        let indices: Vec<usize> = (0..=senders).collect();
        let signers = par_map(&indices, |i| {
            PrivateKeySigner::from_bytes(&keccak256(format!("{KEY_SEED}{i}")))
                .expect("keccak256 output is a valid secp256k1 scalar")
        });
        let addresses = signers.iter().map(|s| s.address()).collect();
        Self { signers, addresses, nonces: vec![0; senders + 1], setup: Vec::new() }
    }

    /// Signer index of sender `i`.
    pub(crate) fn sender(i: usize) -> usize {
        1 + i
    }

    /// The address of signer `signer`.
    pub(crate) fn address(&self, signer: usize) -> Address {
        self.addresses[signer]
    }

    /// Number of setup steps queued.
    pub(crate) fn setup_len(&self) -> usize {
        self.setup.len()
    }

    /// A step from `signer` with the signer's next nonce.
    pub(crate) fn step(
        &mut self,
        signer: usize,
        to: TxKind,
        input: Bytes,
        value: U256,
        gas_limit: u64,
        what: &'static str,
    ) -> Step {
        let nonce = self.nonces[signer];
        self.nonces[signer] += 1;
        Step { signer, nonce, to, input, value, gas_limit, what }
    }

    /// Queues a setup call of `to` from `signer`.
    pub(crate) fn call(
        &mut self,
        signer: usize,
        to: Address,
        input: Vec<u8>,
        gas_limit: u64,
        what: &'static str,
    ) {
        let step = self.step(signer, TxKind::Call(to), input.into(), U256::ZERO, gas_limit, what);
        self.setup.push(step);
    }

    /// Queues a deployment of `init` by the owner; returns the new contract's address.
    pub(crate) fn deploy(&mut self, init: Bytes, gas_limit: u64, what: &'static str) -> Address {
        let step = self.step(Self::OWNER, TxKind::Create, init, U256::ZERO, gas_limit, what);
        let address = self.address(Self::OWNER).create(step.nonce);
        self.setup.push(step);
        address
    }

    /// Signs `steps` in parallel, in order.
    pub(crate) fn sign(&self, steps: &[Step]) -> Vec<RecoveredTx> {
        par_map(steps, |step| sign_step(&self.signers[step.signer], step))
    }

    /// The genesis state: every signer funded with [`GENESIS_BALANCE_WEI`].
    pub(crate) fn genesis(&self) -> MemoryState {
        let mut state = MemoryState::default();
        for address in &self.addresses {
            state.insert_account(*address, Account::with_balance(U256::from(GENESIS_BALANCE_WEI)));
        }
        state
    }

    /// Executes the queued setup on the genesis state in blocks `1..`; every
    /// step must be valid and succeed. Returns the state after setup and the
    /// number of setup blocks.
    pub(crate) fn run_setup(&self) -> Result<(MemoryState, u64), WorkloadError> {
        let mut state = self.genesis();
        let txs = self.sign(&self.setup);
        let mut height = 0;
        for (block, chunk) in txs.chunks(SETUP_BLOCK_TXS).enumerate() {
            height += 1;
            let first = block * SETUP_BLOCK_TXS;
            let gas = chunk.iter().map(RecoveredTx::gas_limit).fold(0u64, u64::saturating_add);
            let mut executor = BlockExecutor::new(&state, block_env(height, gas));
            for (offset, tx) in chunk.iter().enumerate() {
                let index = first + offset;
                let what = self.setup[index].what;
                match executor.execute(tx) {
                    Ok(receipt) if receipt.success => {}
                    Ok(_) => {
                        return Err(WorkloadError::SetupReverted { index, what, hash: tx.hash })
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        return Err(WorkloadError::SetupInvalid { index, what, reason });
                    }
                }
            }
            let outcome = executor.finish();
            state.apply(&outcome.changes);
        }
        Ok((state, height))
    }
}

fn sign_step(signer: &PrivateKeySigner, step: &Step) -> RecoveredTx {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce: step.nonce,
        gas_limit: step.gas_limit.into(),
        max_fee_per_gas: BASE_FEE_PER_GAS.into(),
        max_priority_fee_per_gas: 0,
        to: step.to,
        value: step.value,
        input: step.input.clone(),
        ..Default::default()
    };
    let signature = signer.sign_transaction_sync(&mut tx).expect("local signing cannot fail");
    let envelope = TxEnvelope::Eip1559(tx.into_signed(signature));
    // The signature was just made with the sender's own key, so the recovered
    // sender is known; recovering it again would double the cost of signing
    // (the tests recover every transaction they execute to check this).
    let hash = *envelope.tx_hash();
    RecoveredTx { tx: envelope, sender: signer.address(), hash }
}

/// Fails unless `address` carries code in `state`.
pub(crate) fn expect_code(
    state: &MemoryState,
    address: Address,
    name: &'static str,
) -> Result<(), WorkloadError> {
    let deployed = state.account(&address).ok().flatten().is_some_and(|a| a.has_code());
    if deployed {
        Ok(())
    } else {
        Err(WorkloadError::NotDeployed { name, address })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_order() {
        let items: Vec<u32> = (0..1_000).collect();
        assert_eq!(par_map(&items, |x| x * 2), items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(par_map(&[] as &[u32], |x| *x).is_empty());
    }

    #[test]
    fn steps_get_consecutive_nonces_and_sign_correctly() {
        let mut b = Builder::new(2);
        let to = TxKind::Call(Address::repeat_byte(1));
        let s0 = b.step(Builder::sender(1), to, Bytes::new(), U256::from(1), 21_000, "t");
        let s1 = b.step(Builder::sender(1), to, Bytes::new(), U256::from(1), 21_000, "t");
        assert_eq!((s0.nonce, s1.nonce), (0, 1));
        let txs = b.sign(&[s0, s1]);
        for tx in &txs {
            assert_eq!(tx.sender, b.address(Builder::sender(1)));
            assert_eq!(&RecoveredTx::recover(tx.tx.clone()).expect("recovers"), tx);
        }
        assert_eq!(txs[1].nonce(), 1);
    }
}
