//! Signing EIP-1559 transactions with local nonce tracking.

use crate::rpc::RpcClient;
use crate::LoadError;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use phalanx_core_types::SecpSigner;

/// Gas of a plain value transfer.
pub const TRANSFER_GAS: u64 = 21_000;

/// Gas limit for an ERC-20 `transfer` (OpenZeppelin 5 costs about 35k to an
/// existing holder and about 52k to a new one).
pub const ERC20_TRANSFER_GAS: u64 = 100_000;

/// Gas limit for deploying `PhalanxToken` (about 1.1M at 200 optimizer runs).
pub const ERC20_DEPLOY_GAS: u64 = 3_000_000;

/// EIP-1559 fee parameters for every transaction of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// `max_fee_per_gas`: twice the base fee plus the tip, so the transaction
    /// stays valid if the base fee doubles.
    pub max_fee_per_gas: u128,
    /// `max_priority_fee_per_gas`.
    pub max_priority_fee_per_gas: u128,
}

impl Fees {
    /// Fees from a base fee and a tip: `max = 2 * base + tip`.
    pub fn from_base_and_tip(base_fee: u128, tip: u128) -> Self {
        Self {
            max_fee_per_gas: base_fee.saturating_mul(2).saturating_add(tip),
            max_priority_fee_per_gas: tip,
        }
    }

    /// Asks the node: the latest block's base fee and `eth_maxPriorityFeePerGas`
    /// (falling back to `eth_gasPrice - base fee` for nodes without it).
    pub async fn from_node(rpc: &RpcClient) -> Result<Self, LoadError> {
        let base: u128 =
            rpc.latest_block().await?.base_fee_per_gas.unwrap_or_default().saturating_to();
        let tip = match rpc.max_priority_fee().await {
            Ok(tip) => tip,
            Err(_) => rpc.gas_price().await?.saturating_sub(base),
        };
        Ok(Self::from_base_and_tip(base, tip))
    }

    /// The most a transaction with `gas_limit` can cost in fees.
    pub fn max_cost(&self, gas_limit: u64) -> U256 {
        U256::from(self.max_fee_per_gas) * U256::from(gas_limit)
    }
}

/// A transaction signed and encoded, ready for `eth_sendRawTransaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// The transaction hash.
    pub hash: B256,
    /// EIP-2718 encoding.
    pub raw: Bytes,
    /// The sender.
    pub from: Address,
    /// The nonce used.
    pub nonce: u64,
}

/// What a transaction does: its recipient (or creation), value, input and gas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRequest {
    /// Call target, or `TxKind::Create`.
    pub to: TxKind,
    /// Wei transferred.
    pub value: U256,
    /// Call data or init code.
    pub input: Bytes,
    /// Gas limit.
    pub gas_limit: u64,
}

/// Signs `request` as an EIP-1559 transaction with the given chain id, nonce
/// and fees, with libsecp256k1 ([`SecpSigner`]: the signatures alloy's k256
/// signer gives, several times faster, which matters because the load
/// generator shares the machine with the chain it measures).
pub fn sign_tx(
    signer: &SecpSigner,
    chain_id: u64,
    nonce: u64,
    fees: Fees,
    request: TxRequest,
) -> Result<SignedTx, LoadError> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: u128::from(request.gas_limit),
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: request.to,
        value: request.value,
        access_list: Default::default(),
        input: request.input,
    };
    let signature = signer.sign_prehash(&tx.signature_hash());
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Ok(SignedTx {
        hash: *envelope.tx_hash(),
        raw: envelope.encoded_2718().into(),
        from: signer.address(),
        nonce,
    })
}

/// One account's signer and its locally tracked next nonce.
///
/// Nonces are handed out locally so that many transactions can be in flight;
/// after the node refuses one of ours (nonce gap, pool full, timeout) the
/// account is marked stale and [`Sender::resync`] fetches the node's pending nonce.
#[derive(Debug, Clone)]
pub struct Sender {
    signer: SecpSigner,
    next_nonce: u64,
    stale: bool,
}

impl Sender {
    /// A sender whose next nonce is unknown (resync before signing).
    pub fn new(signer: PrivateKeySigner) -> Self {
        Self { signer: secp_signer(&signer), next_nonce: 0, stale: true }
    }

    /// A sender whose next nonce is `next_nonce`.
    pub fn with_nonce(signer: PrivateKeySigner, next_nonce: u64) -> Self {
        Self { signer: secp_signer(&signer), next_nonce, stale: false }
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The nonce the next signed transaction will use.
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Whether the local nonce must be re-read from the node before signing.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Marks the local nonce as untrusted (a transaction of ours was refused or lost).
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// Re-reads the next nonce from `eth_getTransactionCount(addr, "pending")`.
    pub async fn resync(&mut self, rpc: &RpcClient) -> Result<(), LoadError> {
        self.next_nonce = rpc.pending_nonce(self.address()).await?;
        self.stale = false;
        Ok(())
    }

    /// Signs `request` with the next nonce and advances it.
    pub fn sign(
        &mut self,
        chain_id: u64,
        fees: Fees,
        request: TxRequest,
    ) -> Result<SignedTx, LoadError> {
        let signed = sign_tx(&self.signer, chain_id, self.next_nonce, fees, request)?;
        self.next_nonce += 1;
        Ok(signed)
    }
}

/// The libsecp256k1 signer of `signer`'s key.
fn secp_signer(signer: &PrivateKeySigner) -> SecpSigner {
    SecpSigner::from_bytes(&signer.to_bytes()).expect("a PrivateKeySigner holds a valid key")
}

/// A plain value transfer.
pub fn transfer_request(to: Address, value: U256) -> TxRequest {
    TxRequest { to: TxKind::Call(to), value, input: Bytes::new(), gas_limit: TRANSFER_GAS }
}

/// An ERC-20 `transfer(to, amount)` call to `token`.
pub fn erc20_transfer_request(token: Address, to: Address, amount: U256) -> TxRequest {
    use alloy_sol_types::SolCall;
    let input = crate::artifacts::IERC20::transferCall { to, value: amount }.abi_encode();
    TxRequest {
        to: TxKind::Call(token),
        value: U256::ZERO,
        input: input.into(),
        gas_limit: ERC20_TRANSFER_GAS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Transaction;
    use alloy_eips::eip2718::Decodable2718;

    fn decode(raw: &Bytes) -> TxEnvelope {
        TxEnvelope::decode_2718(&mut raw.as_ref()).unwrap()
    }

    #[test]
    fn signed_transfer_recovers_to_the_signer() {
        let signer = crate::dev_accounts(1).remove(0);
        let fees = Fees::from_base_and_tip(7, 1);
        let to = Address::repeat_byte(9);
        let request = transfer_request(to, U256::from(10));
        let signed = sign_tx(&secp_signer(&signer), 7777, 3, fees, request).unwrap();
        let env = decode(&signed.raw);
        assert_eq!(env.recover_signer().unwrap(), signer.address());
        assert_eq!(*env.tx_hash(), signed.hash);
        assert_eq!(env.chain_id(), Some(7777));
        assert_eq!(env.nonce(), 3);
        assert_eq!(env.to(), TxKind::Call(to));
        assert_eq!(env.value(), U256::from(10));
        assert_eq!(env.max_fee_per_gas(), 15);
        assert_eq!(env.max_priority_fee_per_gas(), Some(1));
        assert!(matches!(env, TxEnvelope::Eip1559(_)));
        // The shared types crate's recovery agrees.
        let rec = phalanx_core_types::RecoveredTx::recover(env).unwrap();
        assert_eq!(rec.sender, signer.address());
    }

    #[test]
    fn sender_advances_and_tracks_staleness() {
        let mut sender = Sender::with_nonce(crate::dev_accounts(1).remove(0), 5);
        let fees = Fees::from_base_and_tip(0, 0);
        let a = sender.sign(1, fees, transfer_request(Address::ZERO, U256::ZERO)).unwrap();
        let b = sender.sign(1, fees, transfer_request(Address::ZERO, U256::ZERO)).unwrap();
        assert_eq!((a.nonce, b.nonce, sender.next_nonce()), (5, 6, 7));
        assert_ne!(a.hash, b.hash);
        assert!(!sender.is_stale());
        sender.mark_stale();
        assert!(sender.is_stale());
    }

    #[test]
    fn erc20_transfer_request_targets_the_token() {
        let token = Address::repeat_byte(0x70);
        let req = erc20_transfer_request(token, Address::repeat_byte(1), U256::from(2));
        assert_eq!(req.to, TxKind::Call(token));
        assert_eq!(&req.input[..4], &[0xa9, 0x05, 0x9c, 0xbb]);
        assert_eq!(req.value, U256::ZERO);
    }

    #[test]
    fn fees_double_the_base_fee() {
        let fees = Fees::from_base_and_tip(1_000_000_000, 2);
        assert_eq!(fees.max_fee_per_gas, 2_000_000_002);
        assert_eq!(fees.max_cost(21_000), U256::from(2_000_000_002u128 * 21_000));
    }
}
