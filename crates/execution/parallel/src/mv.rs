//! Multi-version memory (Block-STM): for every location, the values written
//! by each transaction of the block, keyed by transaction index, so that
//! transaction `i` reads the write of the highest index below `i`.
//!
//! Locations are account records and storage slots, plus one "storage wiped"
//! marker per account (destruction or re-creation clears every slot; a slot
//! then reads as zero unless a later or the same transaction rewrote it).
//! Code is immutable per hash, so new code lives in one shared map; block
//! hashes never change within a block and come from the base view.
//!
//! An account location may also hold value credits ([`MvValue::Credit`]):
//! plain transfers to an account without code add their value there instead
//! of writing a record they would have had to read first, so transfers to
//! one hot recipient do not depend on each other (see `lazy.rs`). A reader
//! of the record sums the credits above the latest record below it.

use alloy_primitives::{Address, Bytes, B256, U256};
use crossbeam_utils::CachePadded;
use parking_lot::{Mutex, RwLock};
use phalanx_core_types::{Account, StateChanges, StorageChanges};
use phalanx_execution_evm::TxDelta;
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};

/// Number of independently locked shards (a power of two).
const SHARDS: usize = 64;

/// A location in multi-version memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MvKey {
    /// An account record.
    Account(Address),
    /// One storage slot.
    Storage(Address, U256),
    /// The marker "every slot of this account was cleared".
    StorageWipe(Address),
}

/// A value written at an [`MvKey`] (the variant always matches the key's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MvValue {
    /// A new account record; `None` deletes the account.
    Account(Option<Account>),
    /// A new slot value.
    Storage(U256),
    /// The account's storage was cleared.
    StorageWipe,
    /// At an account location: the account's balance grows by this much (a
    /// plain transfer's value, credited lazily; never zero).
    Credit(U256),
}

/// One transaction's entry at a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Written by the given incarnation.
    Value { incarnation: usize, value: MvValue },
    /// The writer was aborted and will probably write here again: readers
    /// must wait for it.
    Estimate,
}

/// The answer to a read at transaction index `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MvRead<T> {
    /// No transaction below `i` wrote the location: read the base state.
    Base,
    /// The latest write below `i`.
    Value {
        /// Index of the writing transaction.
        tx: usize,
        /// Its incarnation.
        incarnation: usize,
        /// The value written.
        value: T,
    },
    /// The latest writer below `i` is being re-executed: wait for it.
    Blocked {
        /// Index of the transaction to wait for.
        tx: usize,
    },
}

impl<T> MvRead<T> {
    /// The writer's index, if any (for ordering competing locations).
    pub(crate) fn writer(&self) -> Option<usize> {
        match self {
            MvRead::Base => None,
            MvRead::Value { tx, .. } | MvRead::Blocked { tx } => Some(*tx),
        }
    }

    fn map<U>(self, f: impl FnOnce(T) -> U) -> MvRead<U> {
        match self {
            MvRead::Base => MvRead::Base,
            MvRead::Value { tx, incarnation, value } => {
                MvRead::Value { tx, incarnation, value: f(value) }
            }
            MvRead::Blocked { tx } => MvRead::Blocked { tx },
        }
    }
}

/// The sum of the value credits a reader sees (`Ok(None)`: it overflows),
/// or the estimated credit it must wait for (`Err(writer)`).
type CreditSum = Result<Option<U256>, usize>;

/// A sorted list of `(writer, entry)` versions.
type VersionList = Vec<(usize, Entry)>;

fn position(list: &VersionList, tx: usize) -> Result<usize, usize> {
    list.binary_search_by_key(&tx, |(writer, _)| *writer)
}

/// The versions of one location, sorted by writing transaction. Most
/// locations have one or two writers in a block, so sorted vectors beat a
/// tree: one small allocation instead of a fresh node per location (perf
/// showed the tree nodes' allocations and page faults costing as much as the
/// EVM itself on plain transfers).
///
/// Value credits are kept apart from records, so that a deferred credit
/// finds the latest record below it by binary search instead of walking
/// past every credit of a hot recipient (which made a block of transfers
/// to one account quadratic). A transaction has at most one version, in
/// one of the lists.
#[derive(Debug, Default)]
struct Versions {
    /// Records (and their estimates).
    records: VersionList,
    /// Value credits (and their estimates); only at account locations.
    credits: VersionList,
}

impl Versions {
    /// The latest record (or estimate of one) below `tx`, credits aside.
    fn below(&self, tx: usize) -> Option<&(usize, Entry)> {
        let end = self.records.partition_point(|(writer, _)| *writer < tx);
        end.checked_sub(1).map(|i| &self.records[i])
    }

    /// The latest record below `tx` and the sum of the credits between it
    /// and `tx` (`None` if the sum overflows), or the highest estimated
    /// credit among them, which the reader must wait for.
    fn below_credits(&self, tx: usize) -> (Option<&(usize, Entry)>, CreditSum) {
        let record = self.below(tx);
        let from = record
            .map_or(0, |(writer, _)| self.credits.partition_point(|(credit, _)| credit < writer));
        let to = self.credits.partition_point(|(writer, _)| *writer < tx);
        let mut sum = Some(U256::ZERO);
        for (writer, entry) in self.credits[from..to.max(from)].iter().rev() {
            match entry {
                Entry::Value { value: MvValue::Credit(amount), .. } => {
                    sum = sum.and_then(|s| s.checked_add(*amount));
                }
                Entry::Estimate => return (record, Err(*writer)),
                Entry::Value { value, .. } => unreachable!("credit list holds {value:?}"),
            }
        }
        (record, Ok(sum))
    }

    /// The latest version overall, with whether it is a credit.
    fn latest(&self) -> Option<(usize, Entry, bool)> {
        let record = self.records.last().map(|&(writer, entry)| (writer, entry, false));
        let credit = self.credits.last().map(|&(writer, entry)| (writer, entry, true));
        record.into_iter().chain(credit).max_by_key(|(writer, _, _)| *writer)
    }

    /// Sets `tx`'s version (a credit goes to the credit list, anything else
    /// to the records), replacing its version in either list.
    fn insert(&mut self, tx: usize, entry: Entry) {
        let is_credit = matches!(entry, Entry::Value { value: MvValue::Credit(_), .. });
        let (list, other) = if is_credit {
            (&mut self.credits, &mut self.records)
        } else {
            (&mut self.records, &mut self.credits)
        };
        if let Ok(i) = position(other, tx) {
            other.remove(i);
        }
        match position(list, tx) {
            Ok(i) => list[i].1 = entry,
            Err(i) => list.insert(i, (tx, entry)),
        }
    }

    /// Turns `tx`'s version, in whichever list, into an estimate.
    fn mark_estimate(&mut self, tx: usize) {
        for list in [&mut self.records, &mut self.credits] {
            if let Ok(i) = position(list, tx) {
                list[i].1 = Entry::Estimate;
            }
        }
    }

    /// Removes `tx`'s version, if any.
    fn remove(&mut self, tx: usize) {
        for list in [&mut self.records, &mut self.credits] {
            if let Ok(i) = position(list, tx) {
                list.remove(i);
            }
        }
    }
}

/// One shard of the locations, alone on its cache lines.
type Shard = CachePadded<RwLock<FxHashMap<MvKey, Versions>>>;

/// Multi-version memory for one block of `block_size` transactions. All
/// methods take `&self` and are safe to call from many threads.
pub struct MvMemory {
    block_size: usize,
    /// Each shard on its own cache lines: a read takes its shard's lock, which
    /// writes the lock word, and shards sharing a line made threads reading
    /// different shards invalidate each other's caches (perf: a third of a
    /// read's time was the lock word's load).
    shards: Box<[Shard]>,
    /// Whether any incarnation ever recorded a storage wipe: until one does,
    /// slot reads skip the wipe marker's lookup (most blocks create and
    /// destroy no contract). A reader that misses a wipe recorded just after
    /// its check is a read racing a write, which the executors catch as they
    /// catch any such race: the leader's validation and the validator's
    /// stale-read check re-read once the wipe is recorded.
    any_wipe: AtomicBool,
    /// Whether [`MvMemory::take_final_writes`] has emptied shards, after
    /// which nothing may read them (checked in debug builds).
    #[cfg(debug_assertions)]
    drained: AtomicBool,
    /// Locations written by each transaction's latest incarnation.
    last_written: Box<[Mutex<Vec<MvKey>>]>,
    /// Code deployed by the block's transactions, by hash.
    code: RwLock<FxHashMap<B256, Bytes>>,
}

impl std::fmt::Debug for MvMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MvMemory").field("block_size", &self.block_size).finish_non_exhaustive()
    }
}

impl MvMemory {
    /// Empty memory for a block of `block_size` transactions.
    pub fn new(block_size: usize) -> Self {
        Self {
            block_size,
            // About two locations per transaction (sender and recipient or
            // contract slot); sized up front so shards do not rehash mid-block.
            shards: (0..SHARDS)
                .map(|_| {
                    let capacity = (2 * block_size).div_ceil(SHARDS);
                    let map = FxHashMap::with_capacity_and_hasher(capacity, Default::default());
                    CachePadded::new(RwLock::new(map))
                })
                .collect(),
            any_wipe: AtomicBool::new(false),
            #[cfg(debug_assertions)]
            drained: AtomicBool::new(false),
            last_written: (0..block_size).map(|_| Mutex::default()).collect(),
            code: RwLock::default(),
        }
    }

    /// The number of transactions the memory was built for.
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    fn shard(&self, key: &MvKey) -> &Shard {
        #[cfg(debug_assertions)]
        assert!(!self.drained.load(Ordering::Relaxed), "multi-version memory read after its drain");
        let mut hasher = FxHasher::default();
        key.hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) & (SHARDS - 1)]
    }

    /// The latest write to `key` by a transaction below `tx`.
    pub fn read(&self, key: &MvKey, tx: usize) -> MvRead<MvValue> {
        let shard = self.shard(key).read();
        let Some(versions) = shard.get(key) else {
            return MvRead::Base;
        };
        match versions.below(tx) {
            None => MvRead::Base,
            Some((writer, Entry::Estimate)) => MvRead::Blocked { tx: *writer },
            Some((writer, Entry::Value { incarnation, value })) => {
                MvRead::Value { tx: *writer, incarnation: *incarnation, value: *value }
            }
        }
    }

    /// The latest account record at `address` below transaction `tx`,
    /// value credits aside (what a deferred credit stands on: whether the
    /// account has code). A binary search, however many credits there are.
    pub fn read_account_record(&self, address: &Address, tx: usize) -> MvRead<Option<Account>> {
        let key = MvKey::Account(*address);
        let shard = self.shard(&key).read();
        let Some(versions) = shard.get(&key) else { return MvRead::Base };
        account_read(versions.below(tx))
    }

    /// The highest transaction below `tx` with a version at account
    /// `address`, record or credit (`None`: only the base).
    pub(crate) fn latest_account_writer(&self, address: &Address, tx: usize) -> Option<usize> {
        let key = MvKey::Account(*address);
        let shard = self.shard(&key).read();
        let versions = shard.get(&key)?;
        let below = |list: &VersionList| {
            let end = list.partition_point(|(writer, _)| *writer < tx);
            end.checked_sub(1).map(|i| list[i].0)
        };
        below(&versions.records).max(below(&versions.credits))
    }

    /// The latest account record at `address` below transaction `tx`, and
    /// the sum of the value credits written above that record (`None` if the
    /// sum overflows 256 bits): `tx` sees the record with its balance raised
    /// by the sum ([`credited`]).
    pub fn read_account(
        &self,
        address: &Address,
        tx: usize,
    ) -> (MvRead<Option<Account>>, Option<U256>) {
        let key = MvKey::Account(*address);
        let shard = self.shard(&key).read();
        let Some(versions) = shard.get(&key) else {
            return (MvRead::Base, Some(U256::ZERO));
        };
        let (version, credits) = versions.below_credits(tx);
        let credits = match credits {
            Ok(sum) => sum,
            Err(writer) => return (MvRead::Blocked { tx: writer }, Some(U256::ZERO)),
        };
        (account_read(version), credits)
    }

    /// Storage `slot` of `address` as transaction `tx` sees it: the latest of
    /// the slot's own write and the account's wipe (a transaction's slot
    /// writes follow its own wipe).
    pub fn read_storage(&self, address: &Address, slot: &U256, tx: usize) -> MvRead<U256> {
        let value = self.read(&MvKey::Storage(*address, *slot), tx).map(|value| match value {
            MvValue::Storage(v) => v,
            other => unreachable!("storage location holds {other:?}"),
        });
        if !self.any_wipe.load(Ordering::Acquire) {
            return value;
        }
        let wipe = self.read(&MvKey::StorageWipe(*address), tx);
        if wipe.writer() > value.writer() {
            wipe.map(|_| U256::ZERO)
        } else {
            value
        }
    }

    /// Code deployed by a transaction of the block (any incarnation: code is
    /// immutable per hash, and a reader only asks for a hash it read in an
    /// account record, which validation checks).
    pub fn code(&self, hash: &B256) -> Option<Bytes> {
        self.code.read().get(hash).cloned()
    }

    /// Records incarnation `incarnation` of transaction `tx`'s state delta
    /// and its lazy value credit `(recipient, amount)` if any (the delta
    /// then has no record of the recipient), replacing its previous
    /// incarnation's writes (locations no longer written are removed).
    /// Returns whether it wrote a location the previous incarnation did not
    /// (Block-STM's `wrote_new_location`).
    pub fn record(
        &self,
        tx: usize,
        incarnation: usize,
        delta: &TxDelta,
        credit: Option<(Address, U256)>,
    ) -> bool {
        assert!(tx < self.block_size, "transaction {tx} outside a block of {}", self.block_size);
        if !delta.code.is_empty() {
            let mut code = self.code.write();
            for (hash, bytes) in &delta.code {
                code.entry(*hash).or_insert_with(|| bytes.clone());
            }
        }
        let mut keys =
            Vec::with_capacity(delta.accounts.len() + delta.wiped.len() + delta.slots.len());
        if !delta.wiped.is_empty() {
            self.any_wipe.store(true, Ordering::Release);
        }
        let mut write = |key: MvKey, value: MvValue| {
            let entry = Entry::Value { incarnation, value };
            self.shard(&key).write().entry(key).or_default().insert(tx, entry);
            keys.push(key);
        };
        if let Some((recipient, amount)) = credit {
            debug_assert!(!amount.is_zero(), "a zero credit changes nothing");
            debug_assert!(
                delta.accounts.iter().all(|(address, _)| *address != recipient),
                "a credited recipient's record is not in the delta"
            );
            write(MvKey::Account(recipient), MvValue::Credit(amount));
        }
        for_each_write(delta, &mut write);
        // Lock order, as in `mark_estimates`: the transaction's list, then shards.
        let mut last = self.last_written[tx].lock();
        let previous = std::mem::replace(&mut *last, keys);
        if previous.is_empty() {
            // The first incarnation (the common case): nothing to remove.
            return !last.is_empty();
        }
        let previous_set: FxHashSet<MvKey> = previous.iter().copied().collect();
        let current_set: FxHashSet<MvKey> = last.iter().copied().collect();
        for key in previous.iter().filter(|k| !current_set.contains(k)) {
            if let Some(versions) = self.shard(key).write().get_mut(key) {
                versions.remove(tx);
            }
        }
        last.iter().any(|k| !previous_set.contains(k))
    }

    /// Number of shards, for [`take_final_writes`](Self::take_final_writes) splits.
    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The latest version of every location in `shards` (a range of shard
    /// indices), once every transaction has recorded its final incarnation:
    /// the block's final writes, without walking the transactions' deltas.
    /// Accounts whose latest version is a value credit are left out: the
    /// post-pass knows their final records (it credits them in block order).
    /// Each list comes sorted by location, so that the post-pass's jobs sort
    /// their parts in parallel and [`FinalWrites::into_changes`] only merges.
    ///
    /// Empties those shards: the post-pass is their last user, and their
    /// versions are freed here, in its parallel jobs, rather than on one
    /// thread when the memory is dropped (perf: about 2% of a validator's
    /// block). Reading an emptied shard afterwards is a bug (asserted in
    /// debug builds).
    pub(crate) fn take_final_writes(&self, shards: std::ops::Range<usize>) -> FinalWrites {
        #[cfg(debug_assertions)]
        self.drained.store(true, Ordering::Relaxed);
        let shards = &self.shards[shards];
        // At most every location is one of them; capacity never touched
        // costs no memory, growing would copy and fault in fresh pages.
        let locations = shards.iter().map(|shard| shard.read().len()).sum();
        let mut writes = FinalWrites {
            accounts: Vec::with_capacity(locations),
            slots: Vec::with_capacity(locations),
            wipes: Vec::new(),
        };
        for shard in shards {
            let taken = std::mem::take(&mut *shard.write());
            for (key, versions) in taken {
                let Some((writer, entry, is_credit)) = versions.latest() else { continue };
                let Entry::Value { value, .. } = entry else {
                    unreachable!("transaction {writer} left an estimate at {key:?}")
                };
                if is_credit {
                    continue;
                }
                match (key, value) {
                    (MvKey::Account(address), MvValue::Account(account)) => {
                        writes.accounts.push((address, account))
                    }
                    (MvKey::Storage(address, slot), MvValue::Storage(value)) => {
                        writes.slots.push((address, slot, value, writer))
                    }
                    (MvKey::StorageWipe(address), MvValue::StorageWipe) => {
                        writes.wipes.push((address, writer))
                    }
                    (key, value) => unreachable!("{key:?} holds {value:?}"),
                }
            }
        }
        // Each location has one latest version, so the keys are unique and
        // an unstable sort gives the one order.
        writes.accounts.sort_unstable_by_key(|(address, _)| *address);
        writes.slots.sort_unstable_by_key(|(address, slot, _, _)| (*address, *slot));
        writes.wipes.sort_unstable_by_key(|(address, _)| *address);
        writes
    }

    /// Replaces every write of transaction `tx`'s latest incarnation with an
    /// ESTIMATE marker: it is about to be re-executed, and readers above it
    /// should wait rather than read values likely to change.
    pub fn mark_estimates(&self, tx: usize) {
        for key in self.last_written[tx].lock().iter() {
            if let Some(versions) = self.shard(key).write().get_mut(key) {
                versions.mark_estimate(tx);
            }
        }
    }
}

/// What a reader sees at an account location's latest record version.
fn account_read(version: Option<&(usize, Entry)>) -> MvRead<Option<Account>> {
    match version {
        None => MvRead::Base,
        Some((writer, Entry::Estimate)) => MvRead::Blocked { tx: *writer },
        Some((writer, Entry::Value { incarnation, value: MvValue::Account(account) })) => {
            MvRead::Value { tx: *writer, incarnation: *incarnation, value: *account }
        }
        Some((_, Entry::Value { value, .. })) => unreachable!("account location holds {value:?}"),
    }
}

/// `record` with its balance raised by `credits`, as a reader sees it after
/// those value credits (an absent account appears with just that balance and
/// no code, as a plain transfer creates it); `None` if the balance overflows.
pub fn credited(record: Option<Account>, credits: U256) -> Option<Option<Account>> {
    if credits.is_zero() {
        return Some(record);
    }
    let account = record.unwrap_or(Account::with_balance(U256::ZERO));
    let balance = account.balance.checked_add(credits)?;
    Some(Some(Account { balance, ..account }))
}

/// The final writes of part of multi-version memory (see
/// [`MvMemory::take_final_writes`]), each with its writing transaction.
#[derive(Debug, Default)]
pub(crate) struct FinalWrites {
    /// Final account records.
    pub accounts: Vec<(Address, Option<Account>)>,
    /// Final slot values `(address, slot, value, writer)`.
    pub slots: Vec<(Address, U256, U256, usize)>,
    /// The latest wipe of each wiped account, `(address, writer)`.
    pub wipes: Vec<(Address, usize)>,
}

impl FinalWrites {
    /// The block's state changes from the final writes of every shard (in
    /// any split, each part sorted as [`MvMemory::take_final_writes`] returns it)
    /// and the code the included transactions deployed: the same as merging
    /// their deltas in block order. A slot survives its account's latest
    /// wipe only if written by the wiping transaction (its slot writes
    /// follow its own wipe) or a later one.
    pub(crate) fn into_changes(parts: Vec<FinalWrites>, code: Vec<(B256, Bytes)>) -> StateChanges {
        // Sized once and sorted in place: perf showed the growth of these
        // block-sized vectors (fresh pages faulted in) costing more than the
        // merge's own work.
        let mut accounts = Vec::with_capacity(parts.iter().map(|p| p.accounts.len()).sum());
        let mut slots = Vec::with_capacity(parts.iter().map(|p| p.slots.len()).sum());
        let mut wipes = Vec::with_capacity(parts.iter().map(|p| p.wipes.len()).sum());
        for part in parts {
            debug_assert!(part.accounts.is_sorted_by_key(|(address, _)| *address));
            debug_assert!(part.slots.is_sorted_by_key(|(address, slot, _, _)| (*address, *slot)));
            debug_assert!(part.wipes.is_sorted_by_key(|(address, _)| *address));
            accounts.extend(part.accounts);
            slots.extend(part.slots);
            wipes.extend(part.wipes);
        }
        // The parts arrive sorted: the stable sort finds them as runs and
        // merges them (perf: sorting here, on one thread while the others
        // idle, was about 3% of a validator's block). The keys are unique, so
        // stability changes nothing but the cost.
        accounts.sort_by_key(|(address, _)| *address);
        slots.sort_by_key(|(address, slot, _, _)| (*address, *slot));
        wipes.sort_by_key(|(address, _)| *address);
        let wiper = |address: &Address| {
            wipes.binary_search_by_key(address, |(a, _)| *a).ok().map(|i| wipes[i].1)
        };
        let mut storage: BTreeMap<Address, StorageChanges> = wipes
            .iter()
            .map(|(address, _)| (*address, StorageChanges { wiped: true, ..Default::default() }))
            .collect();
        for group in slots.chunk_by(|a, b| a.0 == b.0) {
            let address = group[0].0;
            let wiped_by = wiper(&address);
            // Collected into a vector sized for the group first: a filter
            // has no exact size, so collecting it straight into the map grew
            // its buffer by doubling (perf: 3% of a validator's block, mostly
            // fresh pages faulted in). The map's build finds the vector
            // sorted and builds in bulk.
            let mut surviving = Vec::with_capacity(group.len());
            surviving.extend(
                group
                    .iter()
                    .filter(|(_, _, _, writer)| wiped_by.is_none_or(|wiper| *writer >= wiper))
                    .map(|(_, slot, value, _)| (*slot, *value)),
            );
            storage.entry(address).or_default().slots = BTreeMap::from_iter(surviving);
        }
        StateChanges {
            accounts: accounts.into_iter().collect(),
            storage,
            code: code.into_iter().collect(),
        }
    }
}

/// Calls `sink` with each multi-version write of a state delta (its code is
/// handled apart): account records, wipe markers (every deleted account's
/// included), then slots.
fn for_each_write(delta: &TxDelta, mut sink: impl FnMut(MvKey, MvValue)) {
    for &(address, account) in &delta.accounts {
        sink(MvKey::Account(address), MvValue::Account(account));
    }
    for &address in &delta.wiped {
        sink(MvKey::StorageWipe(address), MvValue::StorageWipe);
    }
    for &(address, slot, value) in &delta.slots {
        sink(MvKey::Storage(address, slot), MvValue::Storage(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Address {
        Address::repeat_byte(1)
    }

    fn set_balance(balance: u64) -> TxDelta {
        let mut delta = TxDelta::default();
        delta.accounts.push((a(), Some(Account::with_balance(U256::from(balance)))));
        delta
    }

    fn set_slot(slot: u64, value: u64, wiped: bool) -> TxDelta {
        let mut delta = TxDelta::default();
        if wiped {
            delta.wiped.push(a());
        }
        delta.slots.push((a(), U256::from(slot), U256::from(value)));
        delta
    }

    fn balance_at(mv: &MvMemory, tx: usize) -> MvRead<u64> {
        let (read, credits) = mv.read_account(&a(), tx);
        assert_eq!(credits, Some(U256::ZERO));
        read.map(|acc| acc.unwrap().balance.to::<u64>())
    }

    #[test]
    fn reads_see_the_highest_lower_writer() {
        let mv = MvMemory::new(5);
        assert!(mv.record(1, 0, &set_balance(10), None));
        assert!(mv.record(3, 0, &set_balance(30), None));
        assert_eq!(balance_at(&mv, 0), MvRead::Base);
        assert_eq!(balance_at(&mv, 1), MvRead::Base);
        assert_eq!(balance_at(&mv, 2), MvRead::Value { tx: 1, incarnation: 0, value: 10 });
        assert_eq!(balance_at(&mv, 3), MvRead::Value { tx: 1, incarnation: 0, value: 10 });
        assert_eq!(balance_at(&mv, 4), MvRead::Value { tx: 3, incarnation: 0, value: 30 });
    }

    #[test]
    fn estimates_block_and_reexecution_replaces_them() {
        let mv = MvMemory::new(4);
        mv.record(1, 0, &set_balance(10), None);
        mv.mark_estimates(1);
        assert_eq!(balance_at(&mv, 3), MvRead::Blocked { tx: 1 });
        // Same location again: nothing new was written.
        assert!(!mv.record(1, 1, &set_balance(11), None));
        assert_eq!(balance_at(&mv, 3), MvRead::Value { tx: 1, incarnation: 1, value: 11 });
    }

    #[test]
    fn a_new_incarnation_removes_locations_it_no_longer_writes() {
        let mv = MvMemory::new(4);
        mv.record(1, 0, &set_balance(10), None);
        assert!(mv.record(1, 1, &set_slot(0, 5, false), None));
        assert_eq!(balance_at(&mv, 3), MvRead::Base);
        let slot = mv.read_storage(&a(), &U256::ZERO, 3);
        assert_eq!(slot, MvRead::Value { tx: 1, incarnation: 1, value: U256::from(5) });
    }

    #[test]
    fn wipes_hide_older_slots_but_not_the_same_or_later_writes() {
        let mv = MvMemory::new(6);
        mv.record(0, 0, &set_slot(0, 7, false), None);
        mv.record(2, 0, &set_slot(1, 8, true), None);
        let zero = U256::ZERO;
        // Slot 0 was written by tx 0 and wiped by tx 2.
        assert_eq!(
            mv.read_storage(&a(), &zero, 2),
            MvRead::Value { tx: 0, incarnation: 0, value: U256::from(7) }
        );
        assert_eq!(
            mv.read_storage(&a(), &zero, 3),
            MvRead::Value { tx: 2, incarnation: 0, value: U256::ZERO }
        );
        // Slot 1 was written by tx 2 after its own wipe.
        assert_eq!(
            mv.read_storage(&a(), &U256::from(1), 3),
            MvRead::Value { tx: 2, incarnation: 0, value: U256::from(8) }
        );
        // An untouched slot reads zero after the wipe, base before.
        assert_eq!(mv.read_storage(&a(), &U256::from(9), 1), MvRead::Base);
        let later = mv.read_storage(&a(), &U256::from(9), 5);
        assert_eq!(later, MvRead::Value { tx: 2, incarnation: 0, value: U256::ZERO });
        // An estimated wipe blocks reads of every slot it may hide.
        mv.mark_estimates(2);
        assert_eq!(mv.read_storage(&a(), &zero, 5), MvRead::Blocked { tx: 2 });
        // A later slot write is not hidden by the older, estimated wipe.
        mv.record(4, 0, &set_slot(0, 9, false), None);
        assert_eq!(
            mv.read_storage(&a(), &zero, 5),
            MvRead::Value { tx: 4, incarnation: 0, value: U256::from(9) }
        );
    }

    fn credit(amount: u64) -> Option<(Address, U256)> {
        Some((a(), U256::from(amount)))
    }

    #[test]
    fn account_reads_sum_the_credits_above_the_latest_record() {
        let mv = MvMemory::new(8);
        mv.record(1, 0, &TxDelta::default(), credit(5));
        mv.record(2, 0, &set_balance(100), None);
        mv.record(4, 0, &TxDelta::default(), credit(7));
        mv.record(5, 0, &TxDelta::default(), credit(11));
        let zero = Some(U256::ZERO);
        assert_eq!(mv.read_account(&a(), 1), (MvRead::Base, zero));
        assert_eq!(mv.read_account(&a(), 2), (MvRead::Base, Some(U256::from(5))));
        let record = Some(Account::with_balance(U256::from(100)));
        let at_two = MvRead::Value { tx: 2, incarnation: 0, value: record };
        assert_eq!(mv.read_account(&a(), 3), (at_two, zero));
        assert_eq!(mv.read_account(&a(), 7), (at_two, Some(U256::from(18))));
        // An estimated credit blocks readers above it like any estimate.
        mv.mark_estimates(4);
        assert_eq!(mv.read_account(&a(), 7).0, MvRead::Blocked { tx: 4 });
        assert_eq!(mv.read_account(&a(), 4), (at_two, zero));
        mv.record(4, 1, &TxDelta::default(), credit(7));
        // Overflowing sums are reported, not wrapped.
        mv.record(6, 0, &TxDelta::default(), Some((a(), U256::MAX)));
        assert_eq!(mv.read_account(&a(), 7).1, None);
        // A credit's location leaves the final writes to the post-pass.
        assert!(mv.take_final_writes(0..mv.shard_count()).accounts.is_empty());
    }

    #[test]
    fn final_writes_come_sorted_and_empty_their_shards() {
        let mv = MvMemory::new(4);
        for tx in 0..4u8 {
            let mut delta = set_balance(u64::from(tx));
            delta.accounts[0].0 = Address::repeat_byte(0x40 - tx);
            delta.slots.push((a(), U256::from(100 - tx), U256::from(tx)));
            mv.record(usize::from(tx), 0, &delta, None);
        }
        let half = mv.shard_count() / 2;
        let parts =
            vec![mv.take_final_writes(0..half), mv.take_final_writes(half..mv.shard_count())];
        for part in &parts {
            assert!(part.accounts.is_sorted_by_key(|(address, _)| *address));
            assert!(part.slots.is_sorted_by_key(|(address, slot, _, _)| (*address, *slot)));
        }
        assert_eq!(mv.take_final_writes(0..mv.shard_count()).slots.len(), 0, "shards emptied");
        let changes = FinalWrites::into_changes(parts, Vec::new());
        let addresses: Vec<Address> = changes.accounts.keys().copied().collect();
        assert_eq!(
            addresses,
            (0..4u8).rev().map(|tx| Address::repeat_byte(0x40 - tx)).collect::<Vec<_>>()
        );
        let slots: Vec<U256> = changes.storage[&a()].slots.keys().copied().collect();
        assert_eq!(slots, (0..4u64).rev().map(|tx| U256::from(100 - tx)).collect::<Vec<_>>());
    }

    #[test]
    fn credited_creates_missing_accounts_and_refuses_overflow() {
        let two = U256::from(2);
        assert_eq!(credited(None, U256::ZERO), Some(None));
        assert_eq!(credited(None, two), Some(Some(Account::with_balance(two))));
        let rich = Account { nonce: 3, ..Account::with_balance(U256::MAX - U256::from(1)) };
        assert_eq!(credited(Some(rich), U256::from(1)).unwrap().unwrap().balance, U256::MAX);
        assert_eq!(credited(Some(rich), two), None);
    }

    #[test]
    fn code_is_shared_by_hash() {
        let mv = MvMemory::new(2);
        let mut delta = TxDelta::default();
        delta.code.push((B256::repeat_byte(3), Bytes::from_static(&[1, 2])));
        mv.record(0, 0, &delta, None);
        assert_eq!(mv.code(&B256::repeat_byte(3)), Some(Bytes::from_static(&[1, 2])));
        assert_eq!(mv.code(&B256::repeat_byte(4)), None);
    }
}
