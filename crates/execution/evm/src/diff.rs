//! Turning revm's post-transaction state into net writes, applied straight
//! to the block's running state.

use crate::Overlay;
use alloy_primitives::{Address, Log, B256};
use alloy_rlp::Encodable;
use phalanx_core_types::{pavm_hash, Account, StateView, WriteOp, KECCAK_EMPTY};
use revm::primitives::{Account as RevmAccount, Bytecode, EvmState};
use rustc_hash::FxHashMap;

/// Where a transaction's effects go: its net writes (for the read/write set)
/// and the block's running state (the delta is applied in place, with the same
/// result as building a per-transaction `StateChanges` and extending with it).
pub(crate) struct DiffSink<'a, S: StateView> {
    /// Net writes, sorted once [`diff_state`] returns.
    pub writes: &'a mut Vec<WriteOp>,
    /// The block's running state.
    pub state: &'a mut Overlay<S>,
    /// Code deployed by the transaction, by hash (to warm the code cache).
    pub new_code: &'a mut Vec<(B256, Bytecode)>,
    /// Scratch space for log encodings, reused across transactions.
    pub scratch: &'a mut Vec<u8>,
}

fn normalise_code_hash(hash: B256) -> B256 {
    if hash.is_zero() {
        KECCAK_EMPTY
    } else {
        hash
    }
}

/// Computes the transaction's net writes from revm's touched accounts and
/// applies its state delta to `sink.state`. `before` holds every account the
/// transaction read, as it was before the transaction (revm only ever touches
/// accounts it has read).
pub(crate) fn diff_state<S: StateView>(
    sink: &mut DiffSink<'_, S>,
    state: &EvmState,
    before: &FxHashMap<Address, Option<Account>>,
    logs: &[Log],
) {
    for (address, account) in state {
        if account.is_touched() {
            let original = before.get(address).copied().flatten();
            diff_account(sink, *address, account, original);
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

fn diff_account<S: StateView>(
    sink: &mut DiffSink<'_, S>,
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
