//! Fuzzes what the consensus driver parses from peers and from its own disk:
//! arbitrary bytes through the node's wire decoder (`WireMsg`: consensus
//! messages, batches, batch and stored-block requests and responses), the
//! core's consensus message decoder, the stored certificate decoder, and the
//! proposal `extra` decoder (with a candidate count from the first byte).
//! Nothing may panic, and `extra` bytes that decode must re-encode to exactly
//! their input (one encoding per value).

#![no_main]

use libfuzzer_sys::fuzz_target;
use phalanx_consensus_core::decode_message;
use phalanx_node_consensus::extra::ProposalExtra;
use phalanx_node_consensus::wire::{decode_certificate, WireMsg};

fuzz_target!(|data: &[u8]| {
    let _ = WireMsg::decode(data);
    let _ = decode_message(data);
    let _ = decode_certificate(data);
    let Some((&count, bytes)) = data.split_first() else { return };
    if let Ok(extra) = ProposalExtra::decode(bytes, usize::from(count)) {
        assert_eq!(extra.encode(), bytes, "proposal extra is not canonical");
        assert_eq!(ProposalExtra::timestamp_of(bytes), Some(extra.timestamp));
    }
});
