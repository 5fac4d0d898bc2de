//! Offline verification of a whole chain database (`phalanx verify-chain`).

use crate::codec::{
    decode_account, decode_slot_value, decode_storage_key, CF_ACCOUNTS, CF_STORAGE,
};
use crate::commit::check_receipts;
use crate::commitment::{account_leaf, fresh_root, storage_leaf, RocksTreeReader, Tree};
use crate::{Head, Store, StoreError};
use alloy_primitives::{Address, B256};
use jmt::KeyHash;
use rocksdb::IteratorMode;

/// The first thing found wrong with a chain database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyFailure {
    /// Block `height` (or its indexes or receipts) does not verify; every
    /// earlier block did.
    Block {
        /// The first bad height.
        height: u64,
        /// What was wrong.
        reason: String,
    },
    /// Every block verified but the state does not match the head's state root.
    State {
        /// The head height whose state root was checked.
        height: u64,
        /// What was wrong.
        reason: String,
    },
}

/// Outcome of [`Store::verify_chain`]: counts of what was checked and the
/// first failure, if any. Checking stops at the first failure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// The head the store reported; `None` for an empty store.
    pub head: Option<Head>,
    /// Blocks that verified.
    pub blocks_checked: u64,
    /// Transactions in those blocks.
    pub transactions_checked: u64,
    /// Accounts included in the recomputed state root.
    pub accounts_checked: u64,
    /// Storage slots included in the recomputed state root.
    pub slots_checked: u64,
    /// The first failure; `None` when everything verified.
    pub failure: Option<VerifyFailure>,
}

impl VerifyReport {
    /// Whether the whole chain and state verified.
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Separates corruption (a verification failure) from errors of the engine
/// itself (which abort verification).
fn soft<T>(result: Result<T, StoreError>) -> Result<Result<T, String>, StoreError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err @ (StoreError::Corrupt { .. } | StoreError::Commitment { .. })) => {
            Ok(Err(err.to_string()))
        }
        Err(err) => Err(err),
    }
}

impl Store {
    /// Re-verifies the stored chain from genesis to head: every block decodes,
    /// sits at its height, matches the hash indexes, links to its parent,
    /// matches its header's body commitments, and has receipts matching the
    /// header's receipts root and gas used; every transaction is indexed. Then
    /// rebuilds the state root from the flat state column families in memory
    /// (memory grows with the state size) and compares it with the head
    /// header's state root and with the stored JMT's root at the head.
    ///
    /// `progress` is called with each height before it is checked. Corruption
    /// is reported in [`VerifyReport::failure`]; `Err` means the database
    /// could not be read at all.
    pub fn verify_chain(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport { head: self.head(), ..VerifyReport::default() };
        let Some(head) = report.head else { return Ok(report) };
        let mut parent = B256::ZERO;
        let mut head_root = B256::ZERO;
        for height in 0..=head.height {
            progress(height);
            match soft(self.verify_block(height, parent))? {
                Ok(Ok((hash, state_root, txs))) => {
                    parent = hash;
                    head_root = state_root;
                    report.blocks_checked += 1;
                    report.transactions_checked += txs;
                }
                Ok(Err(reason)) | Err(reason) => {
                    report.failure = Some(VerifyFailure::Block { height, reason });
                    return Ok(report);
                }
            }
        }
        if parent != head.hash || head_root != head.state_root {
            let reason = "head record differs from the head block".to_string();
            report.failure = Some(VerifyFailure::Block { height: head.height, reason });
            return Ok(report);
        }
        if let Err(reason) = self.verify_state(head.height, head_root, &mut report)? {
            report.failure = Some(VerifyFailure::State { height: head.height, reason });
        }
        Ok(report)
    }

    /// Checks one block; returns its hash, state root and transaction count.
    fn verify_block(
        &self,
        height: u64,
        parent: B256,
    ) -> Result<Result<(B256, B256, u64), String>, StoreError> {
        let Some(block) = self.block_by_height(height)? else {
            return Ok(Err("block missing".to_string()));
        };
        let hash = block.hash();
        if self.block_hash(height)? != Some(hash) {
            return Ok(Err(format!("block hash {hash} differs from the canonical index")));
        }
        if self.height_of(&hash)? != Some(height) {
            return Ok(Err(format!("hash index does not map {hash} to {height}")));
        }
        if block.header.parent_hash != parent {
            return Ok(Err(format!(
                "parent hash {} , expected {parent}",
                block.header.parent_hash
            )));
        }
        if !block.body_matches_header() {
            return Ok(Err("body does not match the header".to_string()));
        }
        let Some(receipts) = self.receipts(height)? else {
            return Ok(Err("receipts missing".to_string()));
        };
        if let Err(reason) = check_receipts(&block, &receipts) {
            return Ok(Err(reason));
        }
        for (index, tx) in block.transactions.iter().enumerate() {
            if self.tx_location(tx.tx_hash())? != Some((height, index as u32)) {
                return Ok(Err(format!("transaction {index} is not indexed at its position")));
            }
        }
        Ok(Ok((hash, block.header.state_root, block.transactions.len() as u64)))
    }

    /// Recomputes the state root from the flat state and compares it with the
    /// head's root and the stored JMT's root.
    fn verify_state(
        &self,
        height: u64,
        expected: B256,
        report: &mut VerifyReport,
    ) -> Result<Result<(), String>, StoreError> {
        let db = &self.inner.db;
        let mut error: Option<StoreError> = None;
        let accounts =
            db.iterator_cf(self.inner.cf(CF_ACCOUNTS)?, IteratorMode::Start).map(|item| {
                let (key, value) = item.map_err(StoreError::rocks("scanning accounts"))?;
                let address = Address::try_from(&key[..])
                    .map_err(|_| StoreError::corrupt(CF_ACCOUNTS, &key, "key is not an address"))?;
                report.accounts_checked += 1;
                Ok(account_leaf(&address, &decode_account(CF_ACCOUNTS, &key, &value)?))
            });
        let mut slots_checked = 0u64;
        let slots = db.iterator_cf(self.inner.cf(CF_STORAGE)?, IteratorMode::Start).map(|item| {
            let (key, value) = item.map_err(StoreError::rocks("scanning storage"))?;
            let (address, slot) = decode_storage_key(&key)?;
            slots_checked += 1;
            Ok(storage_leaf(&address, &slot, &decode_slot_value(CF_STORAGE, &key, &value)?))
        });
        let leaves =
            accounts.chain(slots).map_while(|r: Result<(KeyHash, Vec<u8>), StoreError>| {
                r.map_err(|e| error = Some(e)).ok()
            });
        let rebuilt = soft(fresh_root(leaves))?;
        report.slots_checked = slots_checked;
        if let Some(err) = error {
            return soft(Err(err));
        }
        let rebuilt = match rebuilt {
            Ok(root) => root,
            Err(reason) => return Ok(Err(reason)),
        };
        if rebuilt != expected {
            return Ok(Err(format!("flat state hashes to {rebuilt}, head header has {expected}")));
        }
        let reader = RocksTreeReader { db };
        let stored =
            Tree::new(&reader).get_root_hash_option(height).map_err(StoreError::commitment);
        match soft(stored)? {
            Ok(Some(root)) if B256::from(root.0) == expected => Ok(Ok(())),
            Ok(Some(root)) => {
                Ok(Err(format!("stored JMT root {} differs from {expected}", B256::from(root.0))))
            }
            Ok(None) => Ok(Err(format!("stored JMT has no root at version {height}"))),
            Err(reason) => Ok(Err(reason)),
        }
    }
}
