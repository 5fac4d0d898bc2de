//! The request shape shared by `eth_call` / `eth_estimateGas` in the RPC
//! layer and the executor that serves them.

use alloy_primitives::{Address, Bytes, B256, U256};

/// An `eth_call` / `eth_estimateGas` request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallRequest {
    /// Sender; the zero address if absent (as geth does).
    pub from: Option<Address>,
    /// Callee; a contract creation with `input` as init code if absent.
    pub to: Option<Address>,
    /// Gas limit; the block gas limit if absent (and capped at it).
    pub gas: Option<u64>,
    /// Legacy gas price.
    pub gas_price: Option<u128>,
    /// EIP-1559 fee cap (used when `gas_price` is absent).
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip cap (0 if absent).
    pub max_priority_fee_per_gas: Option<u128>,
    /// Value transferred, in wei; 0 if absent.
    pub value: Option<U256>,
    /// Call data or init code.
    pub input: Bytes,
    /// Accepted from the JSON-RPC request but not checked: calls are not
    /// nonce-checked.
    pub nonce: Option<u64>,
    /// EIP-2930 access list as (address, storage keys).
    pub access_list: Vec<(Address, Vec<B256>)>,
}
