//! Test helpers: really signed transactions and an in-memory state.

// alloy 0.3 (pinned) signs with the `Parity` type alloy-primitives 0.8.26
// deprecates; pre-EIP-155 signatures need it.
#![allow(deprecated)]

use std::collections::HashMap;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::AccessList;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, Bytes, Parity, TxKind, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use phalanx_core_types::{Account, RecoveredTx, StateError, StateView};

/// Chain id the tests use.
pub(crate) const CHAIN_ID: u64 = 7;

/// A deterministic signer per index.
pub(crate) fn signer(index: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(index.wrapping_add(1))).expect("valid key")
}

/// Which envelope to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Legacy,
    Eip2930,
    Eip1559,
}

/// An unsigned transaction description; `Default` is a plain 21,000-gas
/// EIP-1559 transfer on [`CHAIN_ID`] paying 1 gwei.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub kind: Kind,
    pub chain_id: Option<u64>,
    pub nonce: u64,
    pub gas_limit: u64,
    pub max_fee: u128,
    pub tip: u128,
    pub to: TxKind,
    pub value: U256,
    pub input: Bytes,
    pub access_list: AccessList,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            kind: Kind::Eip1559,
            chain_id: Some(CHAIN_ID),
            nonce: 0,
            gas_limit: 21_000,
            max_fee: 1_000_000_000,
            tip: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0x42)),
            value: U256::from(1),
            input: Bytes::new(),
            access_list: AccessList::default(),
        }
    }
}

impl Spec {
    /// This spec with another nonce.
    pub(crate) fn nonce(mut self, nonce: u64) -> Self {
        self.nonce = nonce;
        self
    }

    /// This spec with both fee fields set to `fee`.
    pub(crate) fn fee(mut self, fee: u128) -> Self {
        self.max_fee = fee;
        self.tip = fee;
        self
    }

    /// Signs the spec with `key`.
    pub(crate) fn sign(&self, key: &PrivateKeySigner) -> TxEnvelope {
        match self.kind {
            Kind::Legacy => {
                let mut tx = TxLegacy {
                    chain_id: self.chain_id,
                    nonce: self.nonce,
                    gas_price: self.max_fee,
                    gas_limit: self.gas_limit.into(),
                    to: self.to,
                    value: self.value,
                    input: self.input.clone(),
                };
                let mut sig = key.sign_transaction_sync(&mut tx).expect("signs");
                if self.chain_id.is_none() {
                    // Pre-EIP-155 signatures carry v = 27/28.
                    sig = sig.with_parity(Parity::NonEip155(sig.v().y_parity()));
                }
                tx.into_signed(sig).into()
            }
            Kind::Eip2930 => {
                let mut tx = TxEip2930 {
                    chain_id: self.chain_id.unwrap_or(CHAIN_ID),
                    nonce: self.nonce,
                    gas_price: self.max_fee,
                    gas_limit: self.gas_limit.into(),
                    to: self.to,
                    value: self.value,
                    access_list: self.access_list.clone(),
                    input: self.input.clone(),
                };
                let sig = key.sign_transaction_sync(&mut tx).expect("signs");
                tx.into_signed(sig).into()
            }
            Kind::Eip1559 => {
                let mut tx = TxEip1559 {
                    chain_id: self.chain_id.unwrap_or(CHAIN_ID),
                    nonce: self.nonce,
                    gas_limit: self.gas_limit.into(),
                    max_fee_per_gas: self.max_fee,
                    max_priority_fee_per_gas: self.tip,
                    to: self.to,
                    value: self.value,
                    access_list: self.access_list.clone(),
                    input: self.input.clone(),
                };
                let sig = key.sign_transaction_sync(&mut tx).expect("signs");
                tx.into_signed(sig).into()
            }
        }
    }

    /// Signs with `key` and returns the EIP-2718 bytes.
    pub(crate) fn raw(&self, key: &PrivateKeySigner) -> Vec<u8> {
        self.sign(key).encoded_2718()
    }

    /// Signs with `key` and recovers.
    pub(crate) fn recovered(&self, key: &PrivateKeySigner) -> RecoveredTx {
        RecoveredTx::recover(self.sign(key)).expect("recovers")
    }
}

/// In-memory accounts.
#[derive(Debug, Default, Clone)]
pub(crate) struct MemState {
    pub accounts: HashMap<Address, Account>,
}

impl MemState {
    /// A state where each of the first `count` test signers holds `balance` at nonce 0.
    pub(crate) fn funded(count: u8, balance: U256) -> Self {
        let mut state = Self::default();
        for i in 0..count {
            state.accounts.insert(signer(i).address(), Account::with_balance(balance));
        }
        state
    }

    /// Sets `address`'s nonce.
    pub(crate) fn set_nonce(&mut self, address: Address, nonce: u64) {
        self.accounts.entry(address).or_default().nonce = nonce;
    }
}

impl StateView for MemState {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.accounts.get(address).copied())
    }
    fn storage(&self, _: &Address, _: &U256) -> Result<U256, StateError> {
        Ok(U256::ZERO)
    }
    fn code(&self, _: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(None)
    }
    fn block_hash(&self, _: u64) -> Result<Option<B256>, StateError> {
        Ok(None)
    }
}

/// A state whose every read fails.
#[derive(Debug)]
pub(crate) struct BrokenState;

impl StateView for BrokenState {
    fn account(&self, _: &Address) -> Result<Option<Account>, StateError> {
        Err(StateError::Backend { message: "disk on fire".into() })
    }
    fn storage(&self, _: &Address, _: &U256) -> Result<U256, StateError> {
        Err(StateError::Backend { message: "disk on fire".into() })
    }
    fn code(&self, _: &B256) -> Result<Option<Bytes>, StateError> {
        Err(StateError::Backend { message: "disk on fire".into() })
    }
    fn block_hash(&self, _: u64) -> Result<Option<B256>, StateError> {
        Err(StateError::Backend { message: "disk on fire".into() })
    }
}
