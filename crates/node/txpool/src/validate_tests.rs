//! Tests of the stateless checks, one per rejection, on really signed transactions.

// alloy 0.3 (pinned) signs with the `Signature`/`Parity` types that
// alloy-primitives 0.8.26 deprecates; building odd signatures needs them.
#![allow(deprecated)]

use alloy_consensus::{SignableTransaction, Signed, TxEip4844, TxEip4844Variant, TxLegacy};
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_network::TxSignerSync;
use alloy_primitives::{keccak256, Address, Bytes, Parity, Signature, TxKind, B256};

use super::*;
use crate::test_utils::{signer, Kind, Spec, CHAIN_ID};
use crate::TxPool;

fn config() -> PoolConfig {
    PoolConfig::new(CHAIN_ID, 30_000_000, 0)
}

fn check(spec: &Spec) -> Result<RecoveredTx, PoolError> {
    TxPool::validate_stateless(&config(), &spec.raw(&signer(0)))
}

#[test]
fn accepts_every_supported_type() {
    for kind in [Kind::Legacy, Kind::Eip2930, Kind::Eip1559] {
        let spec = Spec { kind, ..Spec::default() };
        let raw = spec.raw(&signer(0));
        let tx = TxPool::validate_stateless(&config(), &raw).expect("valid");
        assert_eq!(tx.sender, signer(0).address());
        assert_eq!(tx.hash, keccak256(&raw), "{kind:?}");
    }
}

#[test]
fn rejects_oversized_data() {
    let spec =
        Spec { input: vec![1u8; 200 * 1024].into(), gas_limit: 29_000_000, ..Spec::default() };
    assert!(matches!(check(&spec), Err(PoolError::OversizedData { limit: 131_072, .. })));
}

#[test]
fn rejects_garbage_and_trailing_bytes() {
    let c = config();
    assert!(matches!(TxPool::validate_stateless(&c, &[]), Err(PoolError::Decode { .. })));
    assert!(matches!(TxPool::validate_stateless(&c, &[0xc0]), Err(PoolError::Decode { .. })));
    let mut raw = Spec::default().raw(&signer(0));
    raw.push(0);
    assert!(matches!(TxPool::validate_stateless(&c, &raw), Err(PoolError::Decode { .. })));
}

#[test]
fn rejects_blob_transactions() {
    let mut tx = TxEip4844 {
        chain_id: CHAIN_ID,
        gas_limit: 21_000,
        max_fee_per_gas: 1,
        max_fee_per_blob_gas: 1,
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        ..TxEip4844::default()
    };
    let sig = signer(0).sign_transaction_sync(&mut tx).expect("signs");
    let (tx, sig, hash) = tx.into_signed(sig).into_parts();
    let envelope = TxEnvelope::from(Signed::new_unchecked(TxEip4844Variant::from(tx), sig, hash));
    let err = TxPool::validate_stateless(&config(), &envelope.encoded_2718()).unwrap_err();
    assert_eq!(err, PoolError::TxTypeNotSupported { ty: 3 });
    assert!(err.to_string().starts_with("transaction type not supported"));
}

#[test]
fn unprotected_legacy_only_when_configured() {
    let spec = Spec { kind: Kind::Legacy, chain_id: None, ..Spec::default() };
    assert_eq!(check(&spec).unwrap_err(), PoolError::Unprotected);
    let accepting = PoolConfig { accept_unprotected: true, ..config() };
    let tx = TxPool::validate_stateless(&accepting, &spec.raw(&signer(0))).expect("accepted");
    assert_eq!(tx.sender, signer(0).address());
}

#[test]
fn rejects_other_chain_ids() {
    for kind in [Kind::Legacy, Kind::Eip2930, Kind::Eip1559] {
        let spec = Spec { kind, chain_id: Some(CHAIN_ID + 1), ..Spec::default() };
        let err = check(&spec).unwrap_err();
        assert_eq!(err, PoolError::InvalidChainId { have: CHAIN_ID + 1, want: CHAIN_ID });
    }
}

#[test]
fn rejects_max_nonce() {
    assert_eq!(check(&Spec::default().nonce(u64::MAX)).unwrap_err(), PoolError::NonceMax);
}

#[test]
fn rejects_gas_above_block_limit() {
    let spec = Spec { gas_limit: 30_000_001, ..Spec::default() };
    let err = check(&spec).unwrap_err();
    assert_eq!(err, PoolError::ExceedsBlockGasLimit { gas: 30_000_001, limit: 30_000_000 });
}

#[test]
fn rejects_gas_above_u64() {
    let mut tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        gas_limit: u128::from(u64::MAX) + 1,
        to: TxKind::Call(Address::ZERO),
        ..TxLegacy::default()
    };
    let sig = signer(0).sign_transaction_sync(&mut tx).expect("signs");
    let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    let big = PoolConfig { block_gas_limit: u64::MAX, ..config() };
    assert_eq!(TxPool::validate_stateless(&big, &raw).unwrap_err(), PoolError::GasUintOverflow);
}

#[test]
fn init_code_limit_is_eip3860() {
    let at_limit = Spec {
        to: TxKind::Create,
        input: vec![1u8; MAX_INIT_CODE_BYTES].into(),
        gas_limit: 1_000_000,
        ..Spec::default()
    };
    assert!(check(&at_limit).is_ok());
    let over = Spec { input: vec![1u8; MAX_INIT_CODE_BYTES + 1].into(), ..at_limit };
    assert!(matches!(check(&over), Err(PoolError::MaxInitCodeSizeExceeded { size: 49_153, .. })));
}

#[test]
fn rejects_tip_above_fee_cap() {
    let spec = Spec { max_fee: 10, tip: 11, ..Spec::default() };
    assert_eq!(check(&spec).unwrap_err(), PoolError::TipAboveFeeCap { tip: 11, fee_cap: 10 });
}

#[test]
fn rejects_fee_cap_below_base_fee() {
    let c = PoolConfig { base_fee_per_gas: 100, ..config() };
    for kind in [Kind::Legacy, Kind::Eip1559] {
        let raw = Spec { kind, ..Spec::default() }.fee(99).raw(&signer(0));
        let err = TxPool::validate_stateless(&c, &raw).unwrap_err();
        assert_eq!(err, PoolError::FeeCapTooLow { fee_cap: 99, base_fee: 100 });
        let raw = Spec { kind, ..Spec::default() }.fee(100).raw(&signer(0));
        assert!(TxPool::validate_stateless(&c, &raw).is_ok());
    }
}

#[test]
fn huge_value_is_left_to_the_balance_check() {
    let spec = Spec { gas_limit: 1_000_000, value: U256::MAX, ..Spec::default() };
    assert!(check(&spec).is_ok());
}

#[test]
fn intrinsic_gas_follows_cancun_rules() {
    let sign = |spec: Spec| spec.sign(&signer(0));
    assert_eq!(intrinsic_gas(&sign(Spec::default())), 21_000);
    let data = Spec { input: Bytes::from(vec![0, 1, 0, 2]), ..Spec::default() };
    assert_eq!(intrinsic_gas(&sign(data)), 21_000 + 2 * 4 + 2 * 16);
    let create = Spec { to: TxKind::Create, input: vec![1u8; 33].into(), ..Spec::default() };
    assert_eq!(intrinsic_gas(&sign(create)), 21_000 + 32_000 + 33 * 16 + 2 * 2);
    let item = AccessListItem { address: Address::ZERO, storage_keys: vec![B256::ZERO; 3] };
    let listed = Spec { access_list: AccessList(vec![item]), ..Spec::default() };
    assert_eq!(intrinsic_gas(&sign(listed)), 21_000 + 2_400 + 3 * 1_900);
}

#[test]
fn rejects_gas_below_intrinsic() {
    let spec = Spec { gas_limit: 20_999, ..Spec::default() };
    let err = check(&spec).unwrap_err();
    assert_eq!(err, PoolError::IntrinsicGasTooLow { gas: 20_999, needed: 21_000 });
}

/// Re-signs `spec`'s legacy transaction with the given signature.
fn legacy_with_signature(sig: Signature) -> Vec<u8> {
    let tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        gas_price: 1,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        ..TxLegacy::default()
    };
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}

#[test]
fn rejects_high_s_signature() {
    let TxEnvelope::Legacy(signed) =
        Spec { kind: Kind::Legacy, ..Spec::default() }.sign(&signer(0))
    else {
        unreachable!("built a legacy transaction")
    };
    let sig = signed.signature();
    let flipped_parity = Parity::Eip155(35 + 2 * CHAIN_ID + u64::from(!sig.v().y_parity()));
    let high = Signature::from_rs_and_parity(sig.r(), SECP256K1N - sig.s(), flipped_parity)
        .expect("valid scalars");
    let err = TxPool::validate_stateless(&config(), &legacy_with_signature(high)).unwrap_err();
    assert_eq!(err, PoolError::InvalidSignatureValues);
}

#[test]
fn rejects_unrecoverable_signature() {
    let parity = Parity::Eip155(CHAIN_ID * 2 + 35);
    let unrecoverable = (1u64..200)
        .map(|r| Signature::from_rs_and_parity(U256::from(r), U256::from(1), parity).unwrap())
        .find(|sig| {
            let raw = legacy_with_signature(*sig);
            decode_exact(&raw).unwrap().recover_signer().is_err()
        })
        .expect("some small r is not an x coordinate on the curve");
    let err =
        TxPool::validate_stateless(&config(), &legacy_with_signature(unrecoverable)).unwrap_err();
    assert_eq!(err, PoolError::InvalidSender);
}

#[test]
fn typed_transactions_need_bare_y_parity() {
    let TxEnvelope::Eip1559(signed) = Spec::default().sign(&signer(0)) else {
        unreachable!("built an EIP-1559 transaction")
    };
    let (tx, sig, _) = signed.into_parts();
    let odd = sig.with_parity(Parity::NonEip155(sig.v().y_parity()));
    let envelope = TxEnvelope::from(Signed::new_unchecked(tx, odd, B256::ZERO));
    let raw = envelope.encoded_2718();
    assert!(TxPool::validate_stateless(&config(), &raw).is_err());
}
