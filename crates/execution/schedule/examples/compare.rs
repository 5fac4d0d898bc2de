//! Graph versus PaVM groups on synthetic conflict patterns, and how well
//! static (DiPETrans-style) prediction agrees with observed conflicts on an
//! ERC-20 workload. Run: `cargo run -p phalanx-execution-schedule --example compare`.

use alloy_primitives::{Address, B256, U256};
use phalanx_core_types::{ReadKey, ReadValue, ReadWriteSet, WriteOp};
use phalanx_execution_schedule::{
    agreement, compare, predict, Comparison, Schedule, StaticTxInfo, SELECTOR_TRANSFER,
};

/// Transactions per synthetic block.
const TX_COUNT: usize = 2000;
const TOKEN: Address = Address::repeat_byte(0xee);
const COINBASE: Address = Address::repeat_byte(0xcb);

/// A small deterministic generator (64-bit LCG), so runs are reproducible.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    /// Skewed choice in `0..n`: the minimum of two uniform draws.
    fn skewed(&mut self, n: u64) -> u64 {
        self.below(n).min(self.below(n))
    }
}

fn holder(n: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[12..].copy_from_slice(&(n + 1).to_be_bytes());
    Address::from(bytes)
}

fn word() -> ReadValue {
    ReadValue::Word(B256::ZERO)
}

fn slot_write(address: Address, slot: U256) -> WriteOp {
    WriteOp::Storage { address, slot, value: U256::from(1) }
}

/// A value transfer `from -> to`: both account records read and written.
fn transfer(from: Address, to: Address) -> ReadWriteSet {
    let account = ReadValue::Account(None);
    let mut reads = vec![(ReadKey::Account(from), account), (ReadKey::Account(to), account)];
    reads.sort_by_key(|(k, _)| *k);
    let writes = vec![
        WriteOp::Balance { address: from, value: U256::ZERO },
        WriteOp::Nonce { address: from, value: 1 },
        WriteOp::Balance { address: to, value: U256::ZERO },
    ];
    ReadWriteSet { reads, writes }
}

/// An ERC-20 transfer `from -> to` of `TOKEN` (balance slot of a holder =
/// its address): the sender pays gas and bumps its nonce; both balances are
/// read and written.
fn erc20(from: Address, to: Address) -> ReadWriteSet {
    let bal = |a: Address| U256::from_be_slice(a.as_slice());
    let account = ReadValue::Account(None);
    let mut reads = vec![
        (ReadKey::Account(from), account),
        (ReadKey::Account(TOKEN), account),
        (ReadKey::Storage(TOKEN, bal(from)), word()),
        (ReadKey::Storage(TOKEN, bal(to)), word()),
    ];
    reads.sort_by_key(|(k, _)| *k);
    reads.dedup_by_key(|(k, _)| *k);
    let mut writes = vec![
        WriteOp::Balance { address: from, value: U256::ZERO },
        WriteOp::Nonce { address: from, value: 1 },
        slot_write(TOKEN, bal(from)),
        slot_write(TOKEN, bal(to)),
    ];
    writes.sort();
    writes.dedup();
    ReadWriteSet { reads, writes }
}

fn erc20_info(from: Address, to: Address) -> StaticTxInfo {
    let mut input = SELECTOR_TRANSFER.to_vec();
    input.extend_from_slice(&[0u8; 12]);
    input.extend_from_slice(to.as_slice());
    input.extend_from_slice(&[0u8; 32]);
    StaticTxInfo::new(from, Some(TOKEN), vec![], &input)
}

/// Named synthetic blocks with per-transaction gas.
fn patterns() -> Vec<(&'static str, Vec<ReadWriteSet>, Vec<u64>)> {
    let mut rng = Lcg(7);
    let n = TX_COUNT as u64;
    let gas = |rng: &mut Lcg| 21_000 + rng.below(80_000);
    let mut out = Vec::new();
    let independent: Vec<_> = (0..n).map(|i| transfer(holder(2 * i), holder(2 * i + 1))).collect();
    out.push(("independent transfers", independent.clone()));
    let fee_sink: Vec<_> = independent
        .iter()
        .cloned()
        .map(|mut s| {
            s.writes.push(WriteOp::Balance { address: COINBASE, value: U256::ZERO });
            s
        })
        .collect();
    out.push(("blind fee-sink write", fee_sink));
    let oracle = ReadKey::Storage(Address::repeat_byte(0x0c), U256::ZERO);
    let mut hot_read = independent.clone();
    hot_read[0].writes.push(slot_write(Address::repeat_byte(0x0c), U256::ZERO));
    hot_read[1..].iter_mut().for_each(|s| s.reads.push((oracle, word())));
    out.push(("hot read (oracle)", hot_read));
    let mut counter = independent.clone();
    for s in counter.iter_mut().filter(|_| rng.below(10) == 0) {
        s.reads.push((oracle, word()));
        s.writes.push(slot_write(Address::repeat_byte(0x0c), U256::ZERO));
    }
    out.push(("10% hot counter", counter));
    let (uniform, skewed): (Vec<_>, Vec<_>) = (0..n)
        .map(|_| {
            let u = (holder(rng.below(4 * n)), holder(rng.below(4 * n)));
            let s = (holder(rng.skewed(n / 4)), holder(rng.skewed(n / 4)));
            (erc20(u.0, u.1), erc20(s.0, s.1))
        })
        .unzip();
    out.push(("erc20 uniform holders", uniform));
    out.push(("erc20 skewed holders", skewed));
    let chain: Vec<_> = (0..n)
        .map(|_| ReadWriteSet {
            reads: vec![(oracle, word())],
            writes: vec![slot_write(Address::repeat_byte(0x0c), U256::ZERO)],
        })
        .collect();
    out.push(("one counter (chain)", chain));
    out.into_iter()
        .map(|(name, sets)| {
            let weights = (0..sets.len()).map(|_| gas(&mut rng)).collect();
            (name, sets, weights)
        })
        .collect()
}

fn print_row(name: &str, c: &Comparison) {
    let at = |s: &[phalanx_execution_schedule::Speedup], k: usize| {
        let x = s.iter().find(|x| x.cores == k).expect("core count reported");
        format!("{:5.1}/{:5.1}", x.bound, x.simulated)
    };
    println!(
        "{name:24} {:>6} {:>5} | {:>6} {:>6} | {} {} | {} {} | {:?}",
        c.graph.edge_count,
        c.graph.critical_path_txs,
        c.groups.group_count,
        c.groups.largest_group_txs,
        at(&c.graph.speedups, 8),
        at(&c.graph.speedups, 32),
        at(&c.groups.speedups, 8),
        at(&c.groups.speedups, 32),
        c.preferred(8),
    );
}

fn main() {
    println!("{TX_COUNT} transactions per block, gas-weighted; speedup shown as bound/simulated");
    println!(
        "{:24} {:>6} {:>5} | {:>6} {:>6} | {:11} {:11} | {:11} {:11} | choice@8",
        "pattern",
        "edges",
        "crit",
        "groups",
        "largest",
        "graph@8",
        "graph@32",
        "groups@8",
        "groups@32"
    );
    for (name, sets, weights) in patterns() {
        print_row(name, &compare(&sets, Some(&weights)));
    }
    let mut rng = Lcg(11);
    let pairs: Vec<_> =
        (0..TX_COUNT as u64).map(|_| (holder(rng.skewed(500)), holder(rng.skewed(500)))).collect();
    let observed =
        Schedule::from_rw_sets(&pairs.iter().map(|&(f, t)| erc20(f, t)).collect::<Vec<_>>());
    let predicted = predict(&pairs.iter().map(|&(f, t)| erc20_info(f, t)).collect::<Vec<_>>());
    let a = agreement(&predicted, &observed);
    println!(
        "static vs observed (erc20, 500 skewed holders): safe={} precision={:.3} recall={:.3} {a:?}",
        a.is_safe(),
        a.precision(),
        a.recall()
    );
}
