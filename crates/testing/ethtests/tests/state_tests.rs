//! GeneralStateTests (Cancun) through Phalanx's executor.

use phalanx_testing_ethtests::state_test;
use phalanx_testing_ethtests::suite::run_suite;
use std::time::Instant;

#[test]
fn general_state_tests() {
    let start = Instant::now();
    let summary =
        run_suite("GeneralStateTests", state_test::run_file).unwrap_or_else(|e| panic!("{e}"));
    println!("GeneralStateTests ({:.1?}): {summary}", start.elapsed());
    assert!(summary.passed > 0, "no state test ran");
    assert_eq!(summary.failed, 0, "GeneralStateTests failures:\n{summary}");
}
