//! The beneficiary's fee, credited after the fact: what revm's
//! `reward_beneficiary` followed by `diff_state` would have recorded, for
//! executors that run transactions with the fee deferred.

use alloy_primitives::{Address, U256};
use phalanx_core_types::{Account, WriteOp, KECCAK_EMPTY};
use revm::primitives::TxEnv;

/// The amount revm's `reward_beneficiary` credits (Cancun): the effective gas
/// price minus the base fee, times the gas used. revm's `U256` arithmetic
/// wraps, and so does this, to stay bit-identical.
pub(crate) fn beneficiary_fee(env: &TxEnv, base_fee: u64, gas_used: u64) -> U256 {
    let base_fee = U256::from(base_fee);
    let effective = match env.gas_priority_fee {
        Some(tip) => env.gas_price.min(base_fee.wrapping_add(tip)),
        None => env.gas_price,
    };
    effective.saturating_sub(base_fee).wrapping_mul(U256::from(gas_used))
}

/// The effect of crediting a fee to the beneficiary at the end of one
/// transaction that did not otherwise touch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeneficiaryCredit {
    /// The account after the credit (`None`: absent, or deleted by EIP-161).
    pub after: Option<Account>,
    /// The net write the serial executor records, if any: `Balance`, or
    /// `Destroy` when an existing empty beneficiary is touched with a zero fee.
    pub write: Option<WriteOp>,
    /// Whether the account record changed (the block's changes then hold `after`).
    pub changed: bool,
    /// Whether the account was deleted, which also wipes its storage.
    pub destroyed: bool,
}

/// What crediting `fee` to `beneficiary`, whose record before the
/// transaction is `before`, does, byte for byte as the serial executor
/// records it: revm loads the account (a read of `before`), marks it touched
/// and adds the fee (saturating); `diff_state` then applies EIP-161 (a touched
/// empty account is deleted if it existed) or records the balance change.
pub fn credit_beneficiary(
    beneficiary: Address,
    before: Option<Account>,
    fee: U256,
) -> BeneficiaryCredit {
    let old = before.unwrap_or(Account::with_balance(U256::ZERO));
    let new = Account { balance: old.balance.saturating_add(fee), ..old };
    let code_empty = new.code_hash == KECCAK_EMPTY || new.code_hash.is_zero();
    if code_empty && new.balance.is_zero() && new.nonce == 0 {
        let existed = before.is_some();
        return BeneficiaryCredit {
            after: None,
            write: existed.then_some(WriteOp::Destroy { address: beneficiary }),
            changed: existed,
            destroyed: existed,
        };
    }
    let write = (new.balance != old.balance)
        .then_some(WriteOp::Balance { address: beneficiary, value: new.balance });
    BeneficiaryCredit { after: Some(new), write, changed: Some(new) != before, destroyed: false }
}
