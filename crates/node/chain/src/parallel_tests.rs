//! The leader's parallel build and the validator's schedule-guided execution,
//! through the chain service.

use crate::tests::{fixture_with_senders, recovered, transfer, Fixture};
use crate::{BlockSpec, ExecutedBlock, ExecutionSettings, SpecTree};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TxSignerSync;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use phalanx_core_types::RecoveredTx;
use phalanx_execution_parallel::{ScheduleVerdict, WrongSchedule};
use phalanx_execution_schedule::{BlockSchedule, Schedule};

const PROPOSER: Address = Address::repeat_byte(0xaa);

fn parallel_fixture(senders: usize) -> Fixture {
    let execution =
        ExecutionSettings { threads: 2, min_txs_parallel: 4, sequential_bound_percent: 0 };
    fixture_with_senders(7, senders, execution)
}

fn spec(f: &Fixture) -> BlockSpec {
    BlockSpec { parent_hash: f.chain.head_hash(), view: 1, proposer: PROPOSER, timestamp: 10 }
}

/// A 1-wei transfer to `to`.
fn transfer_to(signer: &PrivateKeySigner, nonce: u64, to: Address) -> RecoveredTx {
    let mut tx = TxEip1559 {
        chain_id: crate::tests::CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100,
        max_priority_fee_per_gas: 3,
        to: TxKind::Call(to),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).unwrap();
    recovered(&TxEnvelope::Eip1559(tx.into_signed(sig)).encoded_2718())
}

/// Two transfers from each sender, each to its own recipient: independent
/// across senders, chained by nonce within one.
fn two_per_sender(f: &Fixture) -> Vec<RecoveredTx> {
    let mut txs = Vec::new();
    for nonce in 0..2 {
        for (i, signer) in f.senders.iter().enumerate() {
            let to = Address::left_padding_from(&[1, i as u8, nonce as u8]);
            txs.push(transfer_to(signer, nonce, to));
        }
    }
    txs
}

fn replay(
    f: &Fixture,
    leader: &ExecutedBlock,
    schedule: Bytes,
) -> (ExecutedBlock, ScheduleVerdict) {
    let header = &leader.block.header;
    let spec = BlockSpec {
        parent_hash: header.parent_hash,
        view: header.view,
        proposer: header.proposer,
        timestamp: header.timestamp,
    };
    f.chain.execute_block(&SpecTree::new(), spec, leader.included.clone(), schedule).unwrap()
}

#[test]
fn validators_follow_the_leaders_schedule_to_the_same_block() {
    let f = parallel_fixture(12);
    let leader = f.chain.build_block(&SpecTree::new(), spec(&f), two_per_sender(&f)).unwrap();
    assert_eq!(leader.included.len(), 24);
    assert!(leader.left_out.is_empty() && leader.rejected.is_empty());
    let schedule = BlockSchedule::decode(&leader.block.schedule, 24).unwrap();
    let BlockSchedule::Graph(graph) = &schedule else { panic!("expected a graph: {schedule:?}") };
    // Each sender's second transfer waits on its first, nothing else.
    assert_eq!(graph.tx_count(), 24);
    assert_eq!(graph.edge_count(), 12);

    let (validator, verdict) = replay(&f, &leader, leader.block.schedule.clone());
    assert_eq!(verdict, ScheduleVerdict::Followed);
    assert_eq!(validator.hash(), leader.hash(), "same header, schedule hash included");
    assert_eq!(validator.receipts, leader.receipts);
    f.chain.commit_executed(validator, None).unwrap();
    assert!(f.chain.store().verify_chain(&mut |_| {}).unwrap().is_ok());
}

#[test]
fn a_wrong_schedule_costs_time_not_correctness() {
    let f = parallel_fixture(6);
    let leader = f.chain.build_block(&SpecTree::new(), spec(&f), two_per_sender(&f)).unwrap();
    // Claim that every transaction is independent: the nonce chains say otherwise.
    let lie = Bytes::from(BlockSchedule::Graph(Schedule::independent(12)).encode());
    let (validator, verdict) = replay(&f, &leader, lie.clone());
    assert!(matches!(verdict, ScheduleVerdict::Wrong { .. }), "{verdict:?}");
    let (a, b) = (&validator.block.header, &leader.block.header);
    assert_eq!(
        (a.state_root, a.receipts_root, a.rw_digest),
        (b.state_root, b.receipts_root, b.rw_digest)
    );
    assert_ne!(a.schedule_hash, b.schedule_hash, "the header commits to the schedule it carries");
    // Garbage bytes are judged too, and still give the right result.
    let (garbage, verdict) = replay(&f, &leader, Bytes::from_static(&[0xff, 1, 2]));
    assert!(
        matches!(verdict, ScheduleVerdict::Wrong { reason: WrongSchedule::Undecodable(_), .. }),
        "{verdict:?}"
    );
    assert_eq!(garbage.block.header.state_root, b.state_root);
}

#[test]
fn left_out_candidates_are_listed_and_only_the_invalid_leave_the_pool() {
    let f = parallel_fixture(8);
    let mut candidates = two_per_sender(&f);
    let gapped = recovered(&transfer(&f.signer, 5, 1, 21_000));
    let after_gap = recovered(&transfer(&f.signer, 6, 1, 21_000));
    // Fits no block that already holds the transfers above.
    let too_big = recovered(&transfer(&f.senders[0], 2, 1, 29_990_000));
    let after_big = recovered(&transfer(&f.senders[0], 3, 1, 21_000));
    let first_extra = candidates.len();
    candidates.extend([gapped.clone(), after_gap, too_big, after_big]);
    let leader = f.chain.build_block(&SpecTree::new(), spec(&f), candidates).unwrap();
    assert_eq!(leader.included.len(), first_extra);
    assert_eq!(leader.left_out, (first_extra..first_extra + 4).collect::<Vec<_>>());
    assert_eq!(
        leader.rejected,
        vec![gapped.hash],
        "a nonce gap is invalid; the rest were judged on a state without their predecessor"
    );
    let (validator, verdict) = replay(&f, &leader, leader.block.schedule.clone());
    assert_eq!(validator.hash(), leader.hash());
    assert!(matches!(verdict, ScheduleVerdict::Followed | ScheduleVerdict::Serial), "{verdict:?}");
}

#[test]
fn a_block_with_an_invalid_transaction_is_refused() {
    let f = parallel_fixture(4);
    let leader = f.chain.build_block(&SpecTree::new(), spec(&f), two_per_sender(&f)).unwrap();
    let mut txs = leader.included.clone();
    txs.push(recovered(&transfer(&f.signer, 9, 1, 21_000)));
    let schedule = Bytes::from(BlockSchedule::Serial.encode());
    let result = f.chain.execute_block(&SpecTree::new(), spec(&f), txs, schedule);
    assert!(matches!(result, Err(crate::ChainError::Exec(_))), "{result:?}");
}
