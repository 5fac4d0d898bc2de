//! Fuzzes the block codec: arbitrary bytes through `Block::decode_canonical`.
//! Nothing may panic, and a block that decodes must re-encode to exactly its
//! input (the codec's invariant: one encoding per block).

#![no_main]

use libfuzzer_sys::fuzz_target;
use phalanx_core_types::Block;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = Block::decode_canonical(data) {
        assert_eq!(block.encode_canonical(), data, "decoded block is not canonical");
    }
});
