use super::*;
use crate::worker::tests::transfer;
use alloy_signer_local::PrivateKeySigner;
use phalanx_consensus_core::Ed25519Signer;

const GENESIS: B256 = B256::repeat_byte(0x9e);

fn keys(n: usize) -> Vec<Ed25519Signer> {
    (0..n).map(|i| Ed25519Signer::from_seed([i as u8 + 1; 32])).collect()
}

fn set(keys: &[Ed25519Signer]) -> ValidatorSet {
    let public = keys.iter().map(|k| k.public_key()).collect();
    ValidatorSet::new(public, vec![Address::ZERO; keys.len()], GENESIS).unwrap()
}

fn ack(keys: &[Ed25519Signer], signer: u16, digest: B256, senders: &[Address]) -> SendersAck {
    let key = &keys[usize::from(signer)];
    SendersAck::new(key, GENESIS, ValidatorIndex(signer), digest, senders.to_vec())
}

fn list(byte: u8, len: usize) -> Vec<Address> {
    (0..len).map(|i| Address::repeat_byte(byte.wrapping_add(i as u8))).collect()
}

#[test]
fn the_f_validators_after_the_author_check_its_batches() {
    let checkers = |author: u16, n: usize, f: usize| -> Vec<u16> {
        (0..n as u16)
            .filter(|&me| is_checker(ValidatorIndex(me), ValidatorIndex(author), n, f))
            .collect()
    };
    assert_eq!(checkers(0, 4, 1), vec![1]);
    assert_eq!(checkers(3, 4, 1), vec![0], "wraps around");
    assert_eq!(checkers(5, 7, 2), vec![0, 6]);
    assert_eq!(checkers(0, 1, 0), Vec::<u16>::new(), "a single validator checks alone");
    assert!(!is_checker(ValidatorIndex(9), ValidatorIndex(0), 4, 1), "outside the set");
    assert!(!is_checker(ValidatorIndex(1), ValidatorIndex(9), 4, 1), "unknown author");
}

#[test]
fn an_ack_verifies_only_for_its_signer_digest_list_and_chain() {
    let keys = keys(4);
    let validators = set(&keys);
    let digest = B256::repeat_byte(1);
    let good = ack(&keys, 2, digest, &list(7, 3));
    assert_eq!(good.verify(&validators), Ok(()));
    let mut other_list = good.clone();
    other_list.senders[1] = Address::repeat_byte(0xee);
    let mut other_digest = good.clone();
    other_digest.digest = B256::repeat_byte(2);
    let mut other_signer = good.clone();
    other_signer.signer = ValidatorIndex(3);
    for forged in [other_list, other_digest, other_signer] {
        assert_eq!(forged.verify(&validators), Err(CertError::BadSignature));
    }
    let mut unknown = good.clone();
    unknown.signer = ValidatorIndex(4);
    assert!(matches!(unknown.verify(&validators), Err(CertError::UnknownSigner { .. })));
    let other_chain = SendersAck::new(&keys[2], B256::ZERO, ValidatorIndex(2), digest, list(7, 3));
    assert_eq!(other_chain.verify(&validators), Err(CertError::BadSignature));
}

#[test]
fn senders_settle_on_f_plus_one_distinct_agreeing_signers() {
    let keys = keys(4);
    let validators = set(&keys);
    let digest = B256::repeat_byte(1);
    let (right, wrong) = (list(7, 3), list(0x40, 3));
    let mut store = Attestations::new(validators.max_faulty(), SENDERS_HELD_MAX);
    let add = |store: &mut Attestations, ack| store.add_ack(ack, &validators).unwrap();
    assert_eq!(add(&mut store, ack(&keys, 0, digest, &right)), AckOutcome::Recorded);
    assert_eq!(add(&mut store, ack(&keys, 0, digest, &right)), AckOutcome::Recorded, "same signer");
    assert_eq!(add(&mut store, ack(&keys, 3, digest, &wrong)), AckOutcome::Recorded, "disagrees");
    assert_eq!(store.senders(&digest), None);
    assert_eq!(add(&mut store, ack(&keys, 1, digest, &right)), AckOutcome::Settled);
    assert_eq!(store.senders(&digest).as_deref(), Some(&right[..]));
    // Later acks are not even checked.
    let mut forged = ack(&keys, 2, digest, &wrong);
    forged.signature = Signature::from_bytes(&[0; 64]);
    assert_eq!(add(&mut store, forged), AckOutcome::Ignored);
    assert_eq!(store.senders(&digest).as_deref(), Some(&right[..]));
}

#[test]
fn a_forged_ack_is_refused_and_counts_for_nothing() {
    let keys = keys(4);
    let validators = set(&keys);
    let digest = B256::repeat_byte(1);
    let wrong = list(0x40, 2);
    let mut store = Attestations::new(1, SENDERS_HELD_MAX);
    // A faulty validator signs a wrong list and forges a second signer's ack.
    store.add_ack(ack(&keys, 3, digest, &wrong), &validators).unwrap();
    let mut forged = ack(&keys, 3, digest, &wrong);
    forged.signer = ValidatorIndex(0);
    assert_eq!(store.add_ack(forged, &validators), Err(CertError::BadSignature));
    assert_eq!(store.senders(&digest), None);
}

#[test]
fn own_senders_settle_at_once() {
    let mut store = Attestations::new(1, SENDERS_HELD_MAX);
    let digest = B256::repeat_byte(5);
    store.settle_own(digest, list(1, 4).into());
    assert_eq!(store.senders(&digest).as_deref(), Some(&list(1, 4)[..]));
    assert_eq!(store.held, 4);
}

#[test]
fn the_store_evicts_the_oldest_digests_beyond_its_bound() {
    let keys = keys(4);
    let validators = set(&keys);
    let mut store = Attestations::new(1, 10);
    for i in 0..6u8 {
        store.settle_own(B256::repeat_byte(i), list(i, 3).into());
        assert!(store.held <= 10, "held {}", store.held);
    }
    assert_eq!(store.senders(&B256::repeat_byte(0)), None, "evicted");
    assert!(store.senders(&B256::repeat_byte(5)).is_some());
    // Pending acks count too.
    store.add_ack(ack(&keys, 0, B256::repeat_byte(9), &list(9, 6)), &validators).unwrap();
    assert!(store.held <= 10, "held {}", store.held);
    assert_eq!(store.held, store.entries.values().map(Entry::held).sum::<usize>());
    assert_eq!(store.order.len(), store.entries.len());
}

#[test]
fn recovery_gives_every_sender_or_nothing() {
    let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let batch = Batch { txs: vec![transfer(&a, 0), transfer(&b, 0)] };
    assert_eq!(recover_senders(&batch), Some(vec![a.address(), b.address()]));
    let mut bad = batch.clone();
    bad.txs.push(vec![0xde, 0xad]);
    assert_eq!(recover_senders(&bad), None);
}
