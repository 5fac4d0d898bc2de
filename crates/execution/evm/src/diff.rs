//! Turning revm's post-transaction state into net writes and a state delta.

use crate::db::Recorder;
use alloy_primitives::{Address, Bytes, Log, B256, U256};
use alloy_rlp::Encodable;
use phalanx_core_types::{pavm_hash, Account, ReadWriteSet, WriteOp, KECCAK_EMPTY};
use revm::primitives::{Account as RevmAccount, Bytecode, EvmState};

/// Receives a transaction's state delta: the serial executor's running
/// [`Overlay`](crate::Overlay) (applied in place) or a [`TxDelta`](crate::TxDelta)
/// (kept apart, for the parallel executors). [`diff_state`] calls it at most
/// once per location, wipes before the slots written after them.
pub(crate) trait DeltaSink {
    /// Sets (`Some`) or deletes (`None`) one account record. Deleting does
    /// not wipe storage by itself: [`diff_state`] pairs it with a wipe.
    fn set_account(&mut self, address: Address, account: Option<Account>);
    /// Clears every stored slot of `address` (destruction or re-creation).
    fn wipe_storage(&mut self, address: Address);
    /// Sets one storage slot (zero deletes it).
    fn set_storage(&mut self, address: Address, slot: U256, value: U256);
    /// Adds code under its hash.
    fn insert_code(&mut self, hash: B256, code: Bytes);
}

/// Where a transaction's effects go: its net writes (for the read/write set)
/// and its state delta.
struct DiffSink<'a, D: DeltaSink> {
    /// Net writes, sorted once [`diff_state`] returns.
    pub writes: &'a mut Vec<WriteOp>,
    /// Where the delta goes.
    pub state: &'a mut D,
    /// Code deployed by the transaction, by hash (to warm the code cache).
    pub new_code: &'a mut Vec<(B256, Bytecode)>,
    /// Scratch space for log encodings, reused across transactions.
    pub scratch: &'a mut Vec<u8>,
}

/// Buffers a caller keeps across transactions for [`net_effects`] (they
/// never carry data from one transaction to the next).
#[derive(Debug, Default)]
pub(crate) struct DiffScratch {
    /// Code deployed by the transaction, by hash.
    pub new_code: Vec<(B256, Bytecode)>,
    /// Log encodings.
    pub log_encoding: Vec<u8>,
}

fn normalise_code_hash(hash: B256) -> B256 {
    if hash.is_zero() {
        KECCAK_EMPTY
    } else {
        hash
    }
}

/// The step after every transaction, shared by the serial executor (`delta`
/// is its running overlay) and `TxRunner` (a `TxDelta`): the transaction's
/// read/write set, reads sorted by location and writes sorted (the order
/// `op_hash` hashes in), from its recorded reads and revm's finalised
/// `state` and `logs`; its state delta goes to `delta`. Code it deployed is
/// left in `scratch.new_code` for the caller's code cache. The recorder is
/// emptied for the next transaction.
pub(crate) fn net_effects<D: DeltaSink>(
    delta: &mut D,
    recorder: &mut Recorder,
    scratch: &mut DiffScratch,
    state: EvmState,
    logs: &[Log],
) -> ReadWriteSet {
    let mut writes = Vec::with_capacity(8);
    let mut sink = DiffSink {
        writes: &mut writes,
        state: delta,
        new_code: &mut scratch.new_code,
        scratch: &mut scratch.log_encoding,
    };
    recorder.sort();
    diff_state(&mut sink, &state, recorder, logs);
    // revm's finalised state is no longer needed; dropping it here keeps its
    // allocations from outliving the transaction.
    drop(state);
    ReadWriteSet { reads: recorder.take_reads(), writes }
}

/// Computes the transaction's net writes from revm's touched accounts and
/// hands its state delta to `sink.state`. `before` holds the transaction's
/// reads, sorted, which include every account it touched as it was before
/// the transaction (revm only ever touches accounts it has read).
fn diff_state<D: DeltaSink>(
    sink: &mut DiffSink<'_, D>,
    state: &EvmState,
    before: &Recorder,
    logs: &[Log],
) {
    for (address, account) in state {
        if account.is_touched() {
            diff_account(sink, *address, account, before.account_before(*address));
        }
    }
    for (index, log) in logs.iter().enumerate() {
        sink.scratch.clear();
        log.encode(&mut *sink.scratch);
        let hash = pavm_hash(&sink.scratch[..]);
        // A transaction cannot emit 2^32 logs within any gas limit.
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        sink.writes.push(WriteOp::Log { index, hash });
    }
    sink.writes.sort_unstable();
}

fn diff_account<D: DeltaSink>(
    sink: &mut DiffSink<'_, D>,
    address: Address,
    account: &RevmAccount,
    original: Option<Account>,
) {
    // EIP-161: a touched account left empty is deleted, like a destroyed one.
    // Deleting an account that never existed changes nothing, so only
    // self-destructs and previously existing accounts produce a write.
    if account.is_selfdestructed() || account.is_empty() {
        if account.is_selfdestructed() || original.is_some() {
            sink.writes.push(WriteOp::Destroy { address });
            sink.state.set_account(address, None);
            sink.state.wipe_storage(address);
        }
        return;
    }
    let info = &account.info;
    let new = Account { nonce: info.nonce, balance: info.balance, code_hash: info.code_hash };
    let old = original.unwrap_or(Account::with_balance(Default::default()));
    if new.balance != old.balance {
        sink.writes.push(WriteOp::Balance { address, value: new.balance });
    }
    if new.nonce != old.nonce {
        sink.writes.push(WriteOp::Nonce { address, value: new.nonce });
    }
    if normalise_code_hash(new.code_hash) != normalise_code_hash(old.code_hash) {
        sink.writes.push(WriteOp::Code { address, code_hash: new.code_hash });
        if let Some(code) = &info.code {
            if !code.is_empty() {
                sink.state.insert_code(new.code_hash, code.original_bytes());
                sink.new_code.push((new.code_hash, code.clone()));
            }
        }
    }
    if Some(new) != original {
        sink.state.set_account(address, Some(new));
    }
    // A created account's earlier storage is gone; its new slots follow.
    if account.is_created() {
        sink.state.wipe_storage(address);
    }
    for (slot, value) in account.changed_storage_slots() {
        sink.writes.push(WriteOp::Storage { address, slot: *slot, value: value.present_value });
        sink.state.set_storage(address, *slot, value.present_value);
    }
}
