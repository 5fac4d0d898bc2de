//! `phalanx bench overhead`: Phalanx's serial executor versus plain revm.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_network::TxSignerSync;
use alloy_primitives::{keccak256, Address, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{sol, SolCall, SolConstructor};
use anyhow::{ensure, Context};
use phalanx_core_types::{Account, RecoveredTx};
use phalanx_execution_evm::{BlockEnv, BlockExecutor, MemoryState};
use revm::db::{CacheDB, EmptyDB};
use revm::primitives::{AccountInfo, ExecutionResult, SpecId, TxEnv};
use std::time::Instant;

sol! {
    function transfer(address to, uint256 value) external returns (bool);
    contract PhalanxToken { constructor(string name, string symbol, uint256 initialSupply); }
}

/// Arguments of `phalanx bench exec`.
#[derive(Debug, clap::Args)]
pub(crate) struct OverheadArgs {
    /// Workload; only `erc20` (OpenZeppelin ERC20 transfers) exists so far.
    #[arg(long, default_value = "erc20")]
    workload: String,
    /// Transactions per block.
    #[arg(long, default_value_t = 2_000)]
    block_txs: usize,
    /// Blocks per measured run.
    #[arg(long, default_value_t = 5)]
    blocks: usize,
    /// Distinct sender accounts.
    #[arg(long, default_value_t = 2_000)]
    accounts: usize,
    /// Measured runs of each engine (the median is reported).
    #[arg(long, default_value_t = 7)]
    repeats: usize,
}

const CHAIN_ID: u64 = 7777;
const GAS_PRICE: u128 = 1_000_000_000;

fn env(height: u64) -> BlockEnv {
    BlockEnv {
        height,
        timestamp: 1_700_000_000 + height,
        proposer: Address::repeat_byte(0xc0),
        gas_limit: 1_000_000_000,
        base_fee_per_gas: GAS_PRICE as u64,
        prev_randao: keccak256(height.to_be_bytes()),
        chain_id: CHAIN_ID,
    }
}

fn sign(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    input: Vec<u8>,
    gas_limit: u64,
) -> RecoveredTx {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas_limit.into(),
        max_fee_per_gas: GAS_PRICE,
        max_priority_fee_per_gas: 0,
        to,
        input: input.into(),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("signing cannot fail");
    RecoveredTx::recover(TxEnvelope::Eip1559(tx.into_signed(sig)))
        .expect("fresh signature recovers")
}

/// The setup blocks (deploy, distribute tokens) and the measured blocks.
struct Workload {
    genesis: MemoryState,
    balances: Vec<(Address, U256)>,
    setup: Vec<Vec<RecoveredTx>>,
    measured: Vec<Vec<RecoveredTx>>,
}

fn build_workload(args: &OverheadArgs) -> Workload {
    let signers: Vec<PrivateKeySigner> = (0..args.accounts)
        .map(|i| PrivateKeySigner::from_bytes(&keccak256(format!("phalanx-bench-{i}"))).unwrap())
        .collect();
    let rich = U256::from(10u64).pow(U256::from(24));
    let mut genesis = MemoryState::default();
    let balances: Vec<_> = signers.iter().map(|s| (s.address(), rich)).collect();
    for (a, b) in &balances {
        genesis.insert_account(*a, Account::with_balance(*b));
    }
    let owner = &signers[0];
    let token = owner.address().create(0);
    let supply = U256::from(10u64).pow(U256::from(30));
    let mut init = phalanx_tools_loadgen::artifacts::erc20().bytecode.to_vec();
    init.extend(
        PhalanxToken::constructorCall {
            name: "Bench".into(),
            symbol: "BEN".into(),
            initialSupply: supply,
        }
        .abi_encode(),
    );
    let mut setup = vec![vec![sign(owner, 0, TxKind::Create, init, 3_000_000)]];
    let share = supply / U256::from(args.accounts as u64 * 2);
    let mut nonces = vec![0u64; args.accounts];
    nonces[0] = 1;
    let distribute: Vec<_> = signers[1..]
        .iter()
        .map(|s| {
            let input = transferCall { to: s.address(), value: share }.abi_encode();
            nonces[0] += 1;
            sign(owner, nonces[0] - 1, TxKind::Call(token), input, 100_000)
        })
        .collect();
    setup.extend(distribute.chunks(args.block_txs).map(<[_]>::to_vec));
    let mut measured = Vec::with_capacity(args.blocks);
    for b in 0..args.blocks {
        let block = (0..args.block_txs)
            .map(|j| {
                let i = (b * args.block_txs + j) % args.accounts;
                let to = signers[(i + 1) % args.accounts].address();
                let input = transferCall { to, value: U256::from(1 + j as u64) }.abi_encode();
                nonces[i] += 1;
                sign(&signers[i], nonces[i] - 1, TxKind::Call(token), input, 100_000)
            })
            .collect();
        measured.push(block);
    }
    Workload { genesis, balances, setup, measured }
}

/// Runs `blocks` through Phalanx's executor on `state`; returns total gas.
fn phalanx_run(
    state: &mut MemoryState,
    blocks: &[Vec<RecoveredTx>],
    first_height: u64,
) -> anyhow::Result<u64> {
    let mut gas = 0;
    for (i, txs) in blocks.iter().enumerate() {
        let env = env(first_height + i as u64);
        let mut executor = BlockExecutor::with_capacity(&*state, env, txs.len());
        for tx in txs {
            let receipt = executor.execute(tx)?;
            ensure!(receipt.success, "phalanx: transaction {} failed", tx.hash);
        }
        let outcome = executor.finish();
        gas += outcome.gas_used;
        state.apply(&outcome.changes);
    }
    Ok(gas)
}

fn tx_env(tx: &RecoveredTx) -> TxEnv {
    let TxEnvelope::Eip1559(signed) = &tx.tx else { unreachable!("the bench only signs EIP-1559") };
    let t = signed.tx();
    TxEnv {
        caller: tx.sender,
        gas_limit: t.gas_limit as u64,
        gas_price: U256::from(t.max_fee_per_gas),
        gas_priority_fee: Some(U256::from(t.max_priority_fee_per_gas)),
        transact_to: t.to,
        value: t.value,
        data: t.input.clone(),
        nonce: Some(t.nonce),
        chain_id: Some(t.chain_id),
        ..Default::default()
    }
}

/// Runs `blocks` through plain revm committing into `db`; returns total gas.
fn revm_run(
    db: &mut CacheDB<EmptyDB>,
    blocks: &[Vec<RecoveredTx>],
    first_height: u64,
) -> anyhow::Result<u64> {
    let mut gas = 0;
    for (i, txs) in blocks.iter().enumerate() {
        let e = env(first_height + i as u64);
        let mut evm = revm::Evm::builder()
            .with_db(&mut *db)
            .with_spec_id(SpecId::CANCUN)
            .modify_cfg_env(|c| c.chain_id = CHAIN_ID)
            .modify_block_env(|b| {
                b.number = U256::from(e.height);
                b.timestamp = U256::from(e.timestamp);
                b.coinbase = e.proposer;
                b.gas_limit = U256::from(e.gas_limit);
                b.basefee = U256::from(e.base_fee_per_gas);
                b.prevrandao = Some(e.prev_randao);
                b.blob_excess_gas_and_price = Some(revm::primitives::BlobExcessGasAndPrice::new(0));
            })
            .build();
        for tx in txs {
            *evm.tx_mut() = tx_env(tx);
            let result = evm.transact_commit().map_err(|e| anyhow::anyhow!("revm: {e:?}"))?;
            ensure!(
                matches!(result, ExecutionResult::Success { .. }),
                "revm: transaction {} failed",
                tx.hash
            );
            gas += result.gas_used();
        }
    }
    Ok(gas)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn run(args: OverheadArgs) -> anyhow::Result<()> {
    ensure!(
        args.workload == "erc20",
        "unknown workload `{}`: only `erc20` exists so far",
        args.workload
    );
    ensure!(
        args.accounts >= 2 && args.block_txs > 0 && args.blocks > 0 && args.repeats > 0,
        "all counts must be positive (accounts ≥ 2)"
    );
    eprintln!(
        "preparing {} accounts, {} blocks × {} ERC20 transfers…",
        args.accounts, args.blocks, args.block_txs
    );
    let w = build_workload(&args);
    let mut phalanx_state = w.genesis.clone();
    phalanx_run(&mut phalanx_state, &w.setup, 1).context("setup through phalanx")?;
    let mut revm_db = CacheDB::new(EmptyDB::default());
    for (a, b) in &w.balances {
        revm_db.insert_account_info(*a, AccountInfo { balance: *b, ..Default::default() });
    }
    revm_run(&mut revm_db, &w.setup, 1).context("setup through revm")?;
    let first = 1 + w.setup.len() as u64;
    let txs = (args.blocks * args.block_txs) as f64;
    let (mut p_secs, mut r_secs, mut gas) = (Vec::new(), Vec::new(), 0);
    for rep in 0..args.repeats {
        // Alternate which engine goes first so drift (turbo, other load) hits both.
        for engine in if rep % 2 == 0 { [0, 1] } else { [1, 0] } {
            if engine == 0 {
                let mut state = phalanx_state.clone();
                let t = Instant::now();
                gas = phalanx_run(&mut state, &w.measured, first)?;
                p_secs.push(t.elapsed().as_secs_f64());
            } else {
                let mut db = revm_db.clone();
                let t = Instant::now();
                let g = revm_run(&mut db, &w.measured, first)?;
                r_secs.push(t.elapsed().as_secs_f64());
                ensure!(gas == 0 || g == gas, "engines disagree on gas: phalanx {gas}, revm {g}");
                gas = g;
            }
        }
        eprintln!("  run {}/{} done", rep + 1, args.repeats);
    }
    let (p, r) = (median(p_secs), median(r_secs));
    println!(
        "bench exec: {} blocks × {} OpenZeppelin ERC20 transfers, {} senders, median of {} runs",
        args.blocks, args.block_txs, args.accounts, args.repeats
    );
    println!("{:<34} {:>12} {:>10} {:>10}", "engine", "tx/s", "Mgas/s", "seconds");
    for (name, secs) in [("plain revm 14 (CacheDB)", r), ("phalanx executor (record+overlay)", p)] {
        println!(
            "{:<34} {:>12.0} {:>10.1} {:>10.3}",
            name,
            txs / secs,
            gas as f64 / secs / 1e6,
            secs
        );
    }
    println!("phalanx / revm time ratio: {:.3} (overhead {:+.1}%)", p / r, (p / r - 1.0) * 100.0);
    Ok(())
}
