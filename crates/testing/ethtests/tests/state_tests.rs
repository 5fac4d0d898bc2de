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

/// The fallback transaction builder (template fields + secret key) must agree
/// with the fixtures' own `txbytes` on every valid case: same signing payload
/// and same sender.
#[test]
fn template_signing_matches_txbytes() {
    use phalanx_core_types::{decode_transaction, RecoveredTx};
    use phalanx_testing_ethtests::model::StateTestFile;
    use phalanx_testing_ethtests::sign::sign_from_template;
    use phalanx_testing_ethtests::{data_dir, json_files};

    let root = data_dir().unwrap_or_else(|e| panic!("{e}"));
    let files = json_files(&root.join("GeneralStateTests")).unwrap_or_else(|e| panic!("{e}"));
    let (mut checked, mut identical) = (0usize, 0usize);
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(tests) = serde_json::from_str::<StateTestFile>(&text) else { continue };
        for (name, test) in &tests {
            let posts = test.post.get(state_test::FORK).map(Vec::as_slice).unwrap_or_default();
            for post in posts.iter().filter(|p| p.expect_exception.is_none()) {
                let raw = post.txbytes.as_ref().expect("Cancun fixtures carry txbytes");
                let fixture = RecoveredTx::recover(decode_transaction(raw).unwrap()).unwrap();
                let built = sign_from_template(test, post.indexes)
                    .map_err(|e| e.to_string())
                    .and_then(|tx| RecoveredTx::recover(tx).map_err(|e| e.to_string()));
                let ok = built.as_ref().is_ok_and(|b| {
                    b.sender == fixture.sender
                        && b.tx.signature_hash() == fixture.tx.signature_hash()
                });
                if !ok {
                    failures.push(format!("{} {name} {:?}: {:?}", path.display(), post.indexes, built.as_ref().err()));
                }
                identical += usize::from(built.is_ok_and(|b| b.hash == fixture.hash));
                checked += 1;
            }
        }
    }
    println!("template signing: {checked} checked, {identical} byte-identical to txbytes");
    assert!(checked > 0);
    assert!(failures.is_empty(), "{} mismatches, first: {:#?}", failures.len(), &failures[..failures.len().min(20)]);
}
