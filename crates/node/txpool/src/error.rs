//! Why the pool rejects a transaction.
//!
//! Every message starts with the sentence geth uses for the same rejection, so
//! clients (wallets, SDKs, scripts) that match on geth's wording keep working.

use alloy_primitives::{Address, U256};

/// JSON-RPC error code geth answers every transaction rejection with.
pub const RPC_CODE_TX_REJECTED: i32 = -32000;

/// JSON-RPC "internal error": the pool could not decide because state failed to read.
pub const RPC_CODE_INTERNAL: i32 = -32603;

/// A rejected transaction. `Display` is the message the client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The raw bytes are larger than the configured `tx_bytes_max`.
    #[error("oversized data: transaction size {size}, limit {limit}")]
    OversizedData {
        /// Encoded size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The bytes are not a well-formed EIP-2718 transaction.
    #[error("failed to decode transaction: {reason}")]
    Decode {
        /// The decoder's description.
        reason: String,
    },
    /// The transaction type is not accepted on this chain (EIP-4844 blobs, EIP-7702).
    #[error("transaction type not supported: type {ty}")]
    TxTypeNotSupported {
        /// The EIP-2718 type byte.
        ty: u8,
    },
    /// A legacy transaction without EIP-155 replay protection, while the pool refuses those.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// The transaction is signed for another chain.
    #[error("invalid chain id for signer: have {have}, want {want}")]
    InvalidChainId {
        /// The chain id the transaction carries.
        have: u64,
        /// This chain's id.
        want: u64,
    },
    /// The nonce is 2^64-1, which EIP-2681 forbids.
    #[error("nonce has max value")]
    NonceMax,
    /// The gas limit does not fit a u64.
    #[error("gas uint64 overflow")]
    GasUintOverflow,
    /// The gas limit is above the block gas limit: the transaction can never be included.
    #[error("exceeds block gas limit: gas {gas}, block gas limit {limit}")]
    ExceedsBlockGasLimit {
        /// The transaction's gas limit.
        gas: u64,
        /// The chain's block gas limit.
        limit: u64,
    },
    /// A contract creation whose init code exceeds the EIP-3860 limit.
    #[error("max initcode size exceeded: code size {size} limit {limit}")]
    MaxInitCodeSizeExceeded {
        /// Init code length in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The priority fee is above the fee cap.
    #[error(
        "max priority fee per gas higher than max fee per gas: maxPriorityFeePerGas: {tip}, \
         maxFeePerGas: {fee_cap}"
    )]
    TipAboveFeeCap {
        /// Max priority fee per gas.
        tip: u128,
        /// Max fee per gas.
        fee_cap: u128,
    },
    /// The fee cap is below the chain's (constant) base fee.
    #[error(
        "max fee per gas less than block base fee: maxFeePerGas: {fee_cap}, baseFee: {base_fee}"
    )]
    FeeCapTooLow {
        /// Max fee per gas (gas price for legacy transactions).
        fee_cap: u128,
        /// The chain's base fee.
        base_fee: u64,
    },
    /// gas_limit * max_fee + value does not fit 256 bits.
    #[error("insufficient funds for gas * price + value: required balance exceeds 256 bits")]
    CostOverflow,
    /// The gas limit does not cover the intrinsic gas.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// Intrinsic gas of the transaction.
        needed: u64,
    },
    /// r, s or v are outside the ranges Ethereum allows (EIP-2 low s, nonzero r and s).
    #[error("invalid transaction v, r, s values")]
    InvalidSignatureValues,
    /// No sender could be recovered from the signature.
    #[error("invalid sender")]
    InvalidSender,
    /// The exact transaction is already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// The nonce is below the sender's state nonce: a replay.
    #[error("nonce too low: next nonce {state_nonce}, tx nonce {nonce}")]
    NonceTooLow {
        /// The transaction's nonce.
        nonce: u64,
        /// The sender's nonce in the latest committed state.
        state_nonce: u64,
    },
    /// The nonce is beyond the future-nonce window of the sender.
    #[error(
        "nonce too high: tx nonce {nonce} is beyond the future-nonce window \
         (state nonce {state_nonce} + {window})"
    )]
    NonceTooHigh {
        /// The transaction's nonce.
        nonce: u64,
        /// The sender's nonce in the latest committed state.
        state_nonce: u64,
        /// The configured window.
        window: u64,
    },
    /// The sender cannot pay gas_limit * max_fee + value.
    #[error(
        "insufficient funds for gas * price + value: address {sender}, balance {balance}, \
         tx cost {cost}, overshot {overshot}"
    )]
    InsufficientFunds {
        /// The sender.
        sender: Address,
        /// The sender's balance.
        balance: U256,
        /// gas_limit * max_fee + value.
        cost: U256,
        /// cost - balance.
        overshot: U256,
    },
    /// A transaction with the same (sender, nonce) is pooled and this one's fees
    /// are not at least [`crate::PRICE_BUMP_PERCENT`] percent higher.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The pool holds `pool_txs_max` transactions.
    #[error("txpool is full")]
    PoolFull,
    /// The sender already has `sender_txs_max` pooled transactions.
    #[error("account limit exceeded: sender {sender} has {limit} pooled transactions")]
    AccountLimitExceeded {
        /// The sender.
        sender: Address,
        /// The configured per-sender limit.
        limit: usize,
    },
    /// State could not be read, so the transaction could not be checked.
    #[error("failed to read state: {message}")]
    State {
        /// The state backend's description.
        message: String,
    },
}

impl PoolError {
    /// The JSON-RPC error code to answer with: -32000 for every rejection (as
    /// geth does), -32603 when the pool failed internally (state unreadable).
    pub fn rpc_code(&self) -> i32 {
        match self {
            Self::State { .. } => RPC_CODE_INTERNAL,
            _ => RPC_CODE_TX_REJECTED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_with_geth_wording() {
        let cases: Vec<(PoolError, &str)> = vec![
            (PoolError::NonceTooLow { nonce: 1, state_nonce: 2 }, "nonce too low"),
            (PoolError::AlreadyKnown, "already known"),
            (PoolError::IntrinsicGasTooLow { gas: 1, needed: 2 }, "intrinsic gas too low"),
            (PoolError::ExceedsBlockGasLimit { gas: 2, limit: 1 }, "exceeds block gas limit"),
            (PoolError::InvalidSender, "invalid sender"),
            (PoolError::InvalidChainId { have: 2, want: 1 }, "invalid chain id"),
            (PoolError::OversizedData { size: 2, limit: 1 }, "oversized data"),
            (
                PoolError::FeeCapTooLow { fee_cap: 1, base_fee: 2 },
                "max fee per gas less than block base fee",
            ),
            (PoolError::PoolFull, "txpool is full"),
            (PoolError::ReplacementUnderpriced, "replacement transaction underpriced"),
            (PoolError::TxTypeNotSupported { ty: 3 }, "transaction type not supported"),
            (PoolError::CostOverflow, "insufficient funds for gas * price + value"),
        ];
        for (err, prefix) in cases {
            assert!(err.to_string().starts_with(prefix), "{err} does not start with {prefix}");
            assert_eq!(err.rpc_code(), RPC_CODE_TX_REJECTED);
        }
        let funds = PoolError::InsufficientFunds {
            sender: Address::ZERO,
            balance: U256::from(1),
            cost: U256::from(3),
            overshot: U256::from(2),
        };
        assert!(funds.to_string().starts_with("insufficient funds for gas * price + value"));
    }

    #[test]
    fn state_failure_is_internal_error() {
        assert_eq!(PoolError::State { message: "io".into() }.rpc_code(), RPC_CODE_INTERNAL);
    }
}
