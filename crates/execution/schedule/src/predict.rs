//! Static conflict prediction from the transactions alone (DiPETrans: the
//! leader analyses the block before execution and shards independent
//! transactions).
//!
//! Each transaction is mapped to a set of *keys* it may touch; two
//! transactions are predicted to conflict when they share a key. Every key is
//! treated as read-and-written, since the transaction bytes do not say which.
//!
//! - The sender's account record (nonce and gas payment): always.
//! - The recipient's account record for plain value transfers (empty input).
//! - Known ERC-20 calls on `to = token`: `transfer(address,uint256)`
//!   (`0xa9059cbb`) touches the balances of (token, sender) and (token,
//!   recipient); `transferFrom(address,address,uint256)` (`0x23b872dd`) the
//!   balances of (token, from) and (token, to) and the allowance (token, from,
//!   sender); `approve(address,uint256)` (`0x095ea7b3`) the allowance (token,
//!   sender, spender). Token balances are keys of their own rather than the
//!   whole token contract, so transfers between disjoint holders stay parallel.
//! - Any other call: the recipient's account record and a *wildcard* on the
//!   whole contract, conflicting with every key of that address.
//! - Each access-list storage key: that slot of that address. (Access-list
//!   addresses alone are read hints and add no key.) A slot key and a token
//!   balance key of the same holder are different keys: the storage layout
//!   is unknown here, which is one source of missed conflicts.

use crate::groups::Groups;
use crate::keyhash::{hash_address, hash_bytes32};
use crate::schedule::Schedule;
use alloy_primitives::map::{AddressMap, HashMap};
use alloy_primitives::{Address, B256};
use std::hash::{Hash, Hasher};

/// The ABI words kept per transaction: enough for every pattern recognised.
pub const STATIC_ARGS_MAX: usize = 4;

/// `transfer(address,uint256)`.
pub const SELECTOR_TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
/// `transferFrom(address,address,uint256)`.
pub const SELECTOR_TRANSFER_FROM: [u8; 4] = [0x23, 0xb8, 0x72, 0xdd];
/// `approve(address,uint256)`.
pub const SELECTOR_APPROVE: [u8; 4] = [0x09, 0x5e, 0xa7, 0xb3];

/// What static analysis knows about one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaticTxInfo {
    /// The recovered sender.
    pub sender: Address,
    /// The recipient; `None` for contract creation.
    pub to: Option<Address>,
    /// The EIP-2930 access list: addresses with their storage keys.
    pub access_list: Vec<(Address, Vec<B256>)>,
    /// Whether the input (calldata) is empty: a plain value transfer.
    pub input_empty: bool,
    /// The first four input bytes, if the input has at least four.
    pub selector: Option<[u8; 4]>,
    /// The first (at most [`STATIC_ARGS_MAX`]) complete 32-byte ABI words after the selector.
    pub args: Vec<B256>,
}

impl StaticTxInfo {
    /// Extracts the fields from a transaction's parts and raw `input`.
    pub fn new(
        sender: Address,
        to: Option<Address>,
        access_list: Vec<(Address, Vec<B256>)>,
        input: &[u8],
    ) -> Self {
        let selector = input.get(..4).map(|s| <[u8; 4]>::try_from(s).expect("four bytes"));
        let args = input
            .get(4..)
            .unwrap_or_default()
            .chunks_exact(32)
            .take(STATIC_ARGS_MAX)
            .map(B256::from_slice)
            .collect();
        Self { sender, to, access_list, input_empty: input.is_empty(), selector, args }
    }

    /// ABI word `n` as an address, if present and well-formed (upper 12 bytes zero).
    fn arg_address(&self, n: usize) -> Option<Address> {
        let word = self.args.get(n)?;
        word[..12].iter().all(|&b| b == 0).then(|| Address::from_slice(&word[12..]))
    }
}

/// A location static analysis reasons about (hashed as words: see `keyhash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaticKey {
    /// An account record (nonce, balance).
    Account(Address),
    /// One storage slot, from an access list.
    Slot(Address, B256),
    /// An ERC-20 balance.
    TokenBalance { token: Address, holder: Address },
    /// An ERC-20 allowance.
    TokenAllowance { token: Address, owner: Address, spender: Address },
}

impl Hash for StaticKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            StaticKey::Account(a) => {
                state.write_u8(0);
                hash_address(a, state);
            }
            StaticKey::Slot(a, slot) => {
                state.write_u8(1);
                hash_address(a, state);
                hash_bytes32(&slot.0, state);
            }
            StaticKey::TokenBalance { token, holder } => {
                state.write_u8(2);
                hash_address(token, state);
                hash_address(holder, state);
            }
            StaticKey::TokenAllowance { token, owner, spender } => {
                state.write_u8(3);
                hash_address(token, state);
                hash_address(owner, state);
                hash_address(spender, state);
            }
        }
    }
}

impl StaticKey {
    /// The contract whose wildcard covers this key, if any.
    fn contract(&self) -> Option<Address> {
        match *self {
            StaticKey::Account(_) => None,
            StaticKey::Slot(a, _) => Some(a),
            StaticKey::TokenBalance { token, .. } | StaticKey::TokenAllowance { token, .. } => {
                Some(token)
            }
        }
    }
}

/// Writes the keys of one transaction into `keys` (cleared first) and
/// returns the contract it touches wholesale, if any. A buffer the caller
/// reuses, rather than vectors per transaction: perf showed the allocations
/// among [`predict`]'s main costs.
pub(crate) fn static_keys(tx: &StaticTxInfo, keys: &mut Vec<StaticKey>) -> Option<Address> {
    keys.clear();
    keys.push(StaticKey::Account(tx.sender));
    for (address, slots) in &tx.access_list {
        keys.extend(slots.iter().map(|s| StaticKey::Slot(*address, *s)));
    }
    let to = tx.to?;
    if tx.input_empty {
        keys.push(StaticKey::Account(to));
        return None;
    }
    if erc20_keys(tx, to, keys) {
        return None;
    }
    keys.push(StaticKey::Account(to));
    Some(to)
}

/// Appends the keys of a recognised ERC-20 call on `token` to `keys`;
/// `false` (nothing appended) if the call is not one.
fn erc20_keys(tx: &StaticTxInfo, token: Address, keys: &mut Vec<StaticKey>) -> bool {
    let balance = |holder| StaticKey::TokenBalance { token, holder };
    let allowance = |owner, spender| StaticKey::TokenAllowance { token, owner, spender };
    match tx.selector {
        Some(SELECTOR_TRANSFER) => {
            let Some(to) = tx.arg_address(0) else { return false };
            keys.extend([balance(tx.sender), balance(to)]);
        }
        Some(SELECTOR_TRANSFER_FROM) => {
            let (Some(from), Some(to)) = (tx.arg_address(0), tx.arg_address(1)) else {
                return false;
            };
            keys.extend([balance(from), balance(to), allowance(from, tx.sender)]);
        }
        Some(SELECTOR_APPROVE) => {
            let Some(spender) = tx.arg_address(0) else { return false };
            keys.push(allowance(tx.sender, spender));
        }
        _ => return false,
    }
    true
}

/// Per contract: the latest wildcard toucher and the specific-key touchers since.
#[derive(Debug, Default)]
struct ContractState {
    last_wildcard: Option<u32>,
    since_wildcard: Vec<u32>,
}

/// The predicted dependency graph: transaction `i` depends on the latest
/// earlier transaction sharing each of its keys, on the latest wildcard of
/// each contract whose keys it touches, and (for a wildcard) on every
/// earlier toucher of that contract since its previous wildcard.
pub fn predict(txs: &[StaticTxInfo]) -> Schedule {
    // About two keys per transaction (sender, recipient or token balance):
    // sized once instead of rehashing block-sized tables as they grow.
    let mut last: HashMap<StaticKey, u32> =
        HashMap::with_capacity_and_hasher(2 * txs.len(), Default::default());
    let mut contracts: AddressMap<ContractState> = AddressMap::default();
    let mut schedule = Schedule::with_capacity(txs.len(), txs.len());
    let (mut keys, mut deps) = (Vec::new(), Vec::new());
    for (i, tx) in txs.iter().enumerate() {
        let i = u32::try_from(i).expect("transaction index fits in u32");
        let wildcard = static_keys(tx, &mut keys);
        deps.clear();
        // Keys of one contract come together (a call's token keys, one
        // access-list entry's slots): its state is looked up once per run.
        let mut current = None;
        for key in &keys {
            deps.extend(last.insert(*key, i));
            let Some(c) = key.contract() else { continue };
            if current != Some(c) {
                let state = contracts.entry(c).or_default();
                deps.extend(state.last_wildcard);
                if state.since_wildcard.last() != Some(&i) {
                    state.since_wildcard.push(i);
                }
                current = Some(c);
            }
        }
        if let Some(c) = wildcard {
            let state = contracts.entry(c).or_default();
            deps.extend(state.last_wildcard.replace(i));
            deps.extend(state.since_wildcard.drain(..).filter(|&t| t != i));
        }
        deps.retain(|&j| j != i);
        deps.sort_unstable();
        deps.dedup();
        schedule.push(&deps);
    }
    schedule
}

/// The predicted groups: connected components of [`predict`]'s graph.
pub fn predict_groups(txs: &[StaticTxInfo]) -> Groups {
    Groups::from_schedule(&predict(txs))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn a(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    fn word(addr: Address) -> Vec<u8> {
        let mut w = vec![0u8; 12];
        w.extend_from_slice(addr.as_slice());
        w
    }

    /// An ERC-20 `transfer` of `token` from `sender` to `to`.
    pub(crate) fn transfer(sender: u8, token: u8, to: u8) -> StaticTxInfo {
        let mut input = SELECTOR_TRANSFER.to_vec();
        input.extend(word(a(to)));
        input.extend([0u8; 32]);
        StaticTxInfo::new(a(sender), Some(a(token)), vec![], &input)
    }

    fn transfer_from(spender: u8, token: u8, from: u8, to: u8) -> StaticTxInfo {
        let mut input = SELECTOR_TRANSFER_FROM.to_vec();
        input.extend(word(a(from)));
        input.extend(word(a(to)));
        input.extend([0u8; 32]);
        StaticTxInfo::new(a(spender), Some(a(token)), vec![], &input)
    }

    fn lists(s: &Schedule) -> Vec<Vec<u32>> {
        s.iter().map(|(_, d)| d.to_vec()).collect()
    }

    #[test]
    fn info_extraction() {
        let t = transfer(1, 9, 2);
        assert_eq!(t.selector, Some(SELECTOR_TRANSFER));
        assert_eq!(t.args.len(), 2);
        assert_eq!(t.arg_address(0), Some(a(2)));
        let short = StaticTxInfo::new(a(1), Some(a(2)), vec![], &[1, 2]);
        assert_eq!((short.input_empty, short.selector), (false, None));
        let mut bad = transfer(1, 9, 2);
        bad.args[0] = B256::repeat_byte(0xff);
        assert_eq!(bad.arg_address(0), None);
    }

    #[test]
    fn erc20_transfers_conflict_per_holder_not_per_token() {
        let txs = vec![
            transfer(1, 9, 2),         // 1 -> 2
            transfer(3, 9, 4),         // 3 -> 4: independent
            transfer(2, 9, 5),         // 2 -> 5: reads 2's balance written by tx 0
            transfer(6, 8, 4),         // another token, 6 -> 4: independent
            transfer_from(7, 9, 4, 1), // 4 -> 1 by 7: touches tx 1 (4) and tx 0 (1)
        ];
        assert_eq!(lists(&predict(&txs)), vec![vec![], vec![], vec![0], vec![], vec![0, 1]]);
        assert_eq!(predict_groups(&txs).group_count(), 2);
    }

    #[test]
    fn accounts_and_wildcards() {
        let plain = |s, t| StaticTxInfo::new(a(s), Some(a(t)), vec![], &[]);
        let call = |s, t| StaticTxInfo::new(a(s), Some(a(t)), vec![], &[0xde, 0xad, 0xbe, 0xef]);
        let txs = vec![
            plain(1, 2),                                    // 0
            plain(2, 3),                                    // 1: sender was tx 0's recipient
            transfer(4, 9, 5),                              // 2
            transfer(6, 9, 7),                              // 3
            call(8, 9),                                     // 4: wildcard on token 9: after 2 and 3
            transfer(10, 9, 11),                            // 5: after the wildcard
            StaticTxInfo::new(a(1), None, vec![], &[0x60]), // 6: a create by 1: after 0
        ];
        assert_eq!(
            lists(&predict(&txs)),
            vec![vec![], vec![0], vec![], vec![], vec![2, 3], vec![4], vec![0]]
        );
    }

    #[test]
    fn access_list_slots_conflict() {
        let al = |slot: u8| vec![(a(9), vec![B256::repeat_byte(slot)])];
        let txs = vec![
            StaticTxInfo::new(a(1), None, al(1), &[0x60]),
            StaticTxInfo::new(a(2), None, al(2), &[0x60]),
            StaticTxInfo::new(a(3), None, al(1), &[0x60]),
        ];
        assert_eq!(lists(&predict(&txs)), vec![vec![], vec![], vec![0]]);
    }
}
