//! Turning revm's post-transaction state into net writes and a state delta.

use alloy_primitives::{keccak256, Address, Log, B256};
use phalanx_core_types::{Account, StateChanges, StorageChanges, WriteOp, KECCAK_EMPTY};
use revm::primitives::{Account as RevmAccount, Bytecode, EvmState};
use rustc_hash::FxHashMap;

/// What one transaction did to state.
#[derive(Debug, Default)]
pub(crate) struct TxDiff {
    /// Net writes, sorted.
    pub writes: Vec<WriteOp>,
    /// The delta to apply to the block's running state.
    pub changes: StateChanges,
    /// Code deployed by the transaction, by hash (to warm the code cache).
    pub new_code: Vec<(B256, Bytecode)>,
}

fn normalise_code_hash(hash: B256) -> B256 {
    if hash.is_zero() {
        KECCAK_EMPTY
    } else {
        hash
    }
}

/// Computes the transaction's net writes and state delta from revm's touched
/// accounts. `before` holds every account the transaction read, as it was
/// before the transaction (revm only ever touches accounts it has read).
pub(crate) fn diff_state(
    state: &EvmState,
    before: &FxHashMap<Address, Option<Account>>,
    logs: &[Log],
) -> TxDiff {
    let mut diff = TxDiff::default();
    for (address, account) in state {
        if account.is_touched() {
            let original = before.get(address).copied().flatten();
            diff_account(&mut diff, *address, account, original);
        }
    }
    for (index, log) in logs.iter().enumerate() {
        let hash = keccak256(alloy_rlp::encode(log));
        // A transaction cannot emit 2^32 logs within any gas limit.
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        diff.writes.push(WriteOp::Log { index, hash });
    }
    diff.writes.sort_unstable();
    diff
}

fn diff_account(
    diff: &mut TxDiff,
    address: Address,
    account: &RevmAccount,
    original: Option<Account>,
) {
    // EIP-161: a touched account left empty is deleted, like a destroyed one.
    // Deleting an account that never existed changes nothing, so only
    // self-destructs and previously existing accounts produce a write.
    if account.is_selfdestructed() || account.is_empty() {
        if account.is_selfdestructed() || original.is_some() {
            diff.writes.push(WriteOp::Destroy { address });
            diff.changes.accounts.insert(address, None);
            diff.changes
                .storage
                .insert(address, StorageChanges { wiped: true, ..Default::default() });
        }
        return;
    }
    let info = &account.info;
    let new = Account { nonce: info.nonce, balance: info.balance, code_hash: info.code_hash };
    let old = original.unwrap_or(Account::with_balance(Default::default()));
    if new.balance != old.balance {
        diff.writes.push(WriteOp::Balance { address, value: new.balance });
    }
    if new.nonce != old.nonce {
        diff.writes.push(WriteOp::Nonce { address, value: new.nonce });
    }
    if normalise_code_hash(new.code_hash) != normalise_code_hash(old.code_hash) {
        diff.writes.push(WriteOp::Code { address, code_hash: new.code_hash });
        if let Some(code) = &info.code {
            if !code.is_empty() {
                diff.changes.code.insert(new.code_hash, code.original_bytes());
                diff.new_code.push((new.code_hash, code.clone()));
            }
        }
    }
    if Some(new) != original {
        diff.changes.accounts.insert(address, Some(new));
    }
    let mut storage = StorageChanges { wiped: account.is_created(), ..Default::default() };
    for (slot, value) in account.changed_storage_slots() {
        diff.writes.push(WriteOp::Storage { address, slot: *slot, value: value.present_value });
        storage.slots.insert(*slot, value.present_value);
    }
    if storage.wiped || !storage.slots.is_empty() {
        diff.changes.storage.insert(address, storage);
    }
}
