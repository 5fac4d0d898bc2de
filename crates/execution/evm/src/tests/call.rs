//! `call` and `estimate_gas`.

use super::*;
use crate::{call, estimate_gas, CallOutcome, CallRequest, EstimateError, ExecError};

fn state_with(runtime: &[u8]) -> (MemoryState, Address) {
    let target = Address::repeat_byte(0xee);
    let mut state = funded();
    with_contract(&mut state, target, runtime);
    (state, target)
}

#[test]
fn call_returns_revert_data_and_commits_nothing() {
    let (state, target) = state_with(REVERTER);
    let req = CallRequest { to: Some(target), ..Default::default() };
    match call(&state, &env(), &req).unwrap() {
        CallOutcome::Revert { output, gas_used } => {
            assert_eq!(output.as_ref(), &[0xde, 0xad, 0xbe, 0xef]);
            assert_eq!(gas_used, 21_018);
        }
        other => panic!("expected revert, got {other:?}"),
    }
    match estimate_gas(&state, &env(), &req) {
        Err(EstimateError::Reverted { output }) => {
            assert_eq!(output.as_ref(), &[0xde, 0xad, 0xbe, 0xef])
        }
        other => panic!("expected revert, got {other:?}"),
    }
}

#[test]
fn call_from_a_contract_and_without_nonce_works() {
    let (state, target) = state_with(STORE_AND_LOG);
    let req = CallRequest {
        from: Some(target),
        to: Some(target),
        input: B256::with_last_byte(1).into(),
        nonce: Some(1234),
        ..Default::default()
    };
    let outcome = call(&state, &env(), &req).unwrap();
    match outcome {
        CallOutcome::Success { logs, .. } => assert_eq!(logs.len(), 1),
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn call_with_unaffordable_value_is_invalid() {
    let (state, target) = state_with(STORE_AND_LOG);
    let req = CallRequest {
        from: Some(Address::repeat_byte(0x99)),
        to: Some(target),
        value: Some(U256::from(1)),
        ..Default::default()
    };
    match call(&state, &env(), &req) {
        Err(ExecError::InvalidCall { reason }) => assert!(reason.contains("insufficient funds")),
        other => panic!("expected invalid call, got {other:?}"),
    }
}

#[test]
fn halting_call_reports_halt() {
    let (state, target) = state_with(LOOP);
    let req = CallRequest { to: Some(target), gas: Some(100_000), ..Default::default() };
    match call(&state, &env(), &req).unwrap() {
        CallOutcome::Halt { gas_used, reason } => {
            assert_eq!(gas_used, 100_000);
            assert!(reason.contains("OutOfGas"), "{reason}");
        }
        other => panic!("expected halt, got {other:?}"),
    }
    assert!(matches!(estimate_gas(&state, &env(), &req), Err(EstimateError::Halted { .. })));
}

#[test]
fn estimate_is_sufficient_and_minimal() {
    let (state, target) = state_with(STORE_AND_LOG);
    let req = CallRequest {
        from: Some(key(1).address()),
        to: Some(target),
        input: B256::with_last_byte(7).into(),
        max_fee_per_gas: Some(3 * GWEI),
        ..Default::default()
    };
    let estimate = estimate_gas(&state, &env(), &req).unwrap();
    let at = |gas: u64| call(&state, &env(), &CallRequest { gas: Some(gas), ..req.clone() });
    assert!(at(estimate).unwrap().is_success());
    assert!(!at(estimate - 1).unwrap().is_success());

    let transfer = CallRequest { to: Some(Address::repeat_byte(5)), ..Default::default() };
    assert_eq!(estimate_gas(&state, &env(), &transfer).unwrap(), 21_000);
}

#[test]
fn estimate_of_a_deployment_is_sufficient() {
    let state = funded();
    let req = CallRequest { input: init_code(STORE_AND_LOG), ..Default::default() };
    let estimate = estimate_gas(&state, &env(), &req).unwrap();
    let at = |gas: u64| call(&state, &env(), &CallRequest { gas: Some(gas), ..req.clone() });
    assert!(at(estimate).unwrap().is_success());
    assert!(!at(estimate - 1).unwrap().is_success());
}

#[test]
fn zero_price_skips_the_base_fee_check_but_a_low_price_does_not() {
    let (state, target) = state_with(STORE_AND_LOG);
    let from = Some(key(1).address());
    let free = CallRequest { from, to: Some(target), gas_price: Some(0), ..Default::default() };
    assert!(call(&state, &env(), &free).unwrap().is_success());
    let low = CallRequest { gas_price: Some(1), ..free };
    match call(&state, &env(), &low) {
        Err(ExecError::InvalidCall { reason }) => assert!(reason.contains("base fee"), "{reason}"),
        other => panic!("expected invalid call, got {other:?}"),
    }
}
