//! Fuzzes the block-schedule codec: arbitrary bytes through
//! `BlockSchedule::decode` for a transaction count taken from the first input
//! byte. Nothing may panic, and a schedule that decodes must re-encode to
//! exactly its input (the codec's invariant: one encoding per schedule).

#![no_main]

use libfuzzer_sys::fuzz_target;
use phalanx_execution_schedule::BlockSchedule;

fuzz_target!(|data: &[u8]| {
    let Some((&count, bytes)) = data.split_first() else { return };
    if let Ok(schedule) = BlockSchedule::decode(bytes, usize::from(count)) {
        assert_eq!(schedule.encode(), bytes, "decoded schedule is not canonical");
    }
});
