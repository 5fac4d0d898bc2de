//! revm's `Database` over a state view, recording every read (PaVM's runtime
//! read recording).

use alloy_primitives::{Address, Bytes, B256, U256};
use phalanx_core_types::{Account, ReadKey, ReadValue, StateError, StateView, KECCAK_EMPTY};
use revm::interpreter::analysis::to_analysed;
use revm::primitives::{AccountInfo, Bytecode};
use revm::Database;
use rustc_hash::FxHashMap;

/// The reads of the transaction in progress.
///
/// No deduplication is needed: revm's journal caches every account and slot
/// it loads for the rest of the transaction (warm or cold, across reverted
/// calls), so it asks the `Database` for each at most once per transaction.
/// Debug builds assert it. (The sets that deduplicated here cost a hash
/// insertion per read for nothing.)
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    /// Locations read with the raw value observed. Nothing is hashed here:
    /// the transaction's single hash happens in `ReadWriteSet::op_hash`.
    pub reads: Vec<(ReadKey, ReadValue)>,
}

impl Recorder {
    /// Forgets the transaction's reads, keeping allocations for the next one.
    pub fn clear(&mut self) {
        self.reads.clear();
    }

    /// Sorts the reads by location (the canonical order `ReadWriteSet::op_hash`
    /// hashes in), for [`account_before`](Self::account_before).
    pub fn sort(&mut self) {
        // Locations are unique here, so sorting by location alone is canonical.
        self.reads.sort_unstable_by_key(|(key, _)| *key);
        debug_assert!(
            self.reads.windows(2).all(|w| w[0].0 != w[1].0),
            "revm read a location twice in one transaction"
        );
    }

    /// The record of `address` as the transaction first read it (`None`
    /// if it did not exist or was not read). The reads must be sorted.
    pub fn account_before(&self, address: Address) -> Option<Account> {
        // Account locations sort first (`ReadKey`'s variant order), by
        // address. Comparing addresses as two big-endian integers is the
        // same order as the derived byte-wise one, without a `memcmp` call
        // per probe (perf: those calls were 2% of the serial executor).
        let probe = |(key, _): &(ReadKey, ReadValue)| match key {
            ReadKey::Account(a) => address_order(a, &address),
            _ => std::cmp::Ordering::Greater,
        };
        match self.reads.binary_search_by(probe) {
            Ok(i) => match self.reads[i].1 {
                ReadValue::Account(account) => account,
                _ => unreachable!("an account location holds an account record"),
            },
            Err(_) => None,
        }
    }

    /// Hands out the reads sorted by location and resets for the next
    /// transaction.
    pub fn take_sorted_reads(&mut self) -> Vec<(ReadKey, ReadValue)> {
        self.sort();
        self.take_reads()
    }

    /// Hands out the reads, already [`sort`](Self::sort)ed, and resets for
    /// the next transaction. The recorder keeps its buffer; the returned
    /// vector is allocated once, with room for one more read: the parallel
    /// executors' post-pass inserts the beneficiary's deferred-fee read into
    /// every transaction's reads, which reallocated each exact-size vector.
    pub fn take_reads(&mut self) -> Vec<(ReadKey, ReadValue)> {
        debug_assert!(self.reads.is_sorted_by_key(|(key, _)| *key), "reads taken unsorted");
        let mut reads = Vec::with_capacity(self.reads.len() + 1);
        reads.extend_from_slice(&self.reads);
        self.clear();
        reads
    }
}

/// The byte-wise order of two addresses, computed on integers.
fn address_order(a: &Address, b: &Address) -> std::cmp::Ordering {
    let split = |x: &Address| {
        let (high, low) = x.0.split_at(16);
        (
            u128::from_be_bytes(high.try_into().expect("16 bytes")),
            u32::from_be_bytes(low.try_into().expect("4 bytes")),
        )
    };
    split(a).cmp(&split(b))
}

/// revm's view of the state a transaction runs on (for the serial executor,
/// an [`Overlay`](crate::Overlay) of the block's already-executed
/// transactions over the base view), recording every read, plus a cache of
/// analysed bytecode (code is immutable per hash, so the cache never goes
/// stale, whatever view comes next).
#[derive(Debug)]
pub(crate) struct RecordingDb<S: StateView> {
    pub state: S,
    pub recorder: Recorder,
    code_cache: FxHashMap<B256, Bytecode>,
}

impl<S: StateView> RecordingDb<S> {
    pub fn new(state: S) -> Self {
        Self { state, recorder: Recorder::default(), code_cache: FxHashMap::default() }
    }

    /// Caches the code contracts created by a transaction (drained from
    /// `deployed`), already in the form the interpreter wants.
    pub fn cache_deployed(&mut self, deployed: &mut Vec<(B256, Bytecode)>) {
        for (hash, code) in deployed.drain(..) {
            self.code_cache.entry(hash).or_insert_with(|| analysed(code.original_bytes()));
        }
    }
}

/// Legacy bytecode with its jump table computed once. Cancun has no EOF, so
/// code is always legacy (and a 0xEF prefix is just an invalid opcode).
fn analysed(code: Bytes) -> Bytecode {
    to_analysed(Bytecode::new_legacy(code))
}

fn is_empty_code(hash: &B256) -> bool {
    *hash == KECCAK_EMPTY || hash.is_zero()
}

impl<S: StateView> Database for RecordingDb<S> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        let account = self.state.account(&address)?;
        self.recorder.reads.push((ReadKey::Account(address), ReadValue::Account(account)));
        Ok(account.map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            code: if is_empty_code(&a.code_hash) {
                Some(Bytecode::default())
            } else {
                self.code_cache.get(&a.code_hash).cloned()
            },
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, StateError> {
        if is_empty_code(&code_hash) {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.code_cache.get(&code_hash) {
            return Ok(code.clone());
        }
        let Some(raw) = self.state.code(&code_hash)? else {
            return Err(StateError::Corrupt {
                key: code_hash.to_string(),
                reason: "account refers to code that is not stored".to_string(),
            });
        };
        let code = analysed(raw);
        self.code_cache.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, StateError> {
        let value = self.state.storage(&address, &index)?;
        self.recorder.reads.push((ReadKey::Storage(address, index), ReadValue::storage(value)));
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StateError> {
        let hash = self.state.block_hash(number)?.unwrap_or_default();
        let key = ReadKey::BlockHash(number);
        // BLOCKHASH is rare; a linear scan keeps the common path allocation-free.
        if !self.recorder.reads.iter().any(|(k, _)| *k == key) {
            self.recorder.reads.push((key, ReadValue::Word(hash)));
        }
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn address_order_is_the_byte_order(a in any::<[u8; 20]>(), b in any::<[u8; 20]>(), same in any::<bool>()) {
            let (a, b) = (Address::from(a), if same { Address::from(a) } else { Address::from(b) });
            prop_assert_eq!(address_order(&a, &b), a.cmp(&b));
        }
    }
}
