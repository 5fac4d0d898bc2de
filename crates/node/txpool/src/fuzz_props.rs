//! The cargo-fuzz targets' properties (see `fuzz/` at the repository root) as
//! proptests, so stable CI exercises them without nightly.

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Bytes};
use phalanx_core_types::{decode_transaction, Block, Header, RecoveredTx};
use proptest::prelude::*;

use crate::test_utils::{signer, Kind, Spec, CHAIN_ID};
use crate::{PoolConfig, TxPool};

fn config() -> PoolConfig {
    PoolConfig { accept_unprotected: true, ..PoolConfig::new(CHAIN_ID, u64::MAX, 0) }
}

/// `tx_decode`'s body: decoding, recovery and validation never panic, and
/// whatever is accepted re-encodes to its input and hashes to keccak256 of it.
fn tx_decode(data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(tx) = decode_transaction(data) {
        let _ = RecoveredTx::recover(tx);
    }
    if let Ok(tx) = TxPool::validate_stateless(&config(), data) {
        prop_assert_eq!(tx.tx.encoded_2718(), data.to_vec());
        prop_assert_eq!(tx.hash, keccak256(data));
    }
    Ok(())
}

/// `block_decode`'s body: decoding never panics and a decoded block
/// re-encodes to its input.
fn block_decode(data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(block) = Block::decode_canonical(data) {
        prop_assert_eq!(block.encode_canonical(), data.to_vec());
    }
    Ok(())
}

/// Flips bytes of `bytes` at the given positions and cuts off its tail.
fn mutate(
    mut bytes: Vec<u8>,
    edits: Vec<(prop::sample::Index, u8)>,
    cut: prop::sample::Index,
) -> Vec<u8> {
    for (at, byte) in edits {
        let i = at.index(bytes.len());
        bytes[i] = byte;
    }
    let len = bytes.len();
    bytes.truncate(len - cut.index(len / 4 + 1));
    bytes
}

fn arb_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Legacy), Just(Kind::Eip2930), Just(Kind::Eip1559)]
}

fn arb_edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)
}

proptest! {
    #[test]
    fn tx_decode_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        tx_decode(&data)?;
    }

    #[test]
    fn tx_decode_on_mutated_transactions(
        kind in arb_kind(),
        edits in arb_edits(),
        cut in any::<prop::sample::Index>(),
    ) {
        let raw = Spec { kind, ..Spec::default() }.raw(&signer(0));
        tx_decode(&mutate(raw, edits, cut))?;
    }

    #[test]
    fn block_decode_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        block_decode(&data)?;
    }

    #[test]
    fn block_decode_on_mutated_blocks(edits in arb_edits(), cut in any::<prop::sample::Index>()) {
        // Legacy only: see the report on `decode_transaction` and typed transactions.
        let tx = Spec { kind: Kind::Legacy, ..Spec::default() }.sign(&signer(0));
        let block = Block {
            header: Header { chain_id: CHAIN_ID, height: 1, ..Header::default() },
            transactions: vec![tx],
            schedule: Bytes::from_static(&[1, 2, 3]),
        };
        block_decode(&mutate(block.encode_canonical(), edits, cut))?;
    }
}
