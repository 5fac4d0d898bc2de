//! Phase two of a commit: checking a block against the head and its prepared
//! state, then writing block, indexes, receipts, state, JMT nodes and the new
//! head in one synced RocksDB write batch.

use crate::codec::{
    encode_head, encode_receipts, encode_tx_location, height_key, CF_BLOCKS, CF_BLOCK_HASHES,
    CF_CANONICAL, CF_CERTIFICATES, CF_META, CF_RECEIPTS, CF_TX_INDEX, HEAD_KEY,
};
use crate::commitment::write_tree_batch;
use crate::{Head, PreparedState, Store, StoreError};
use alloy_primitives::B256;
use phalanx_core_types::{receipts_root, Block, TxReceipt};
use rocksdb::{WriteBatch, WriteOptions};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// Checks that `block` extends `head`.
fn check_linkage(head: Option<Head>, block: &Block) -> Result<(), StoreError> {
    let height = block.header.height;
    let expected = head.map_or(0, |h| h.height + 1);
    if height != expected {
        return Err(StoreError::NotNextHeight { expected, got: height });
    }
    let parent = head.map_or(B256::ZERO, |h| h.hash);
    if block.header.parent_hash != parent {
        return Err(StoreError::ParentMismatch {
            height,
            expected: parent,
            got: block.header.parent_hash,
        });
    }
    Ok(())
}

/// Checks the receipts against the block: count, root and total gas.
pub(crate) fn check_receipts(block: &Block, receipts: &[TxReceipt]) -> Result<(), String> {
    if receipts.len() != block.transactions.len() {
        return Err(format!(
            "{} receipts for {} transactions",
            receipts.len(),
            block.transactions.len()
        ));
    }
    let root = receipts_root(receipts);
    if root != block.header.receipts_root {
        return Err(format!("receipts root {root}, header has {}", block.header.receipts_root));
    }
    let gas = receipts.last().map_or(0, |r| r.cumulative_gas_used);
    if gas != block.header.gas_used {
        return Err(format!("receipts use {gas} gas, header has {}", block.header.gas_used));
    }
    Ok(())
}

impl Store {
    /// Phase two of a commit: writes `block`, its `receipts` and the state
    /// `prepared` for it, atomically and durably (synced unless
    /// [`crate::StoreOptions::sync_writes`] is off).
    ///
    /// Rejects, writing nothing: a height other than `head + 1`; a parent other
    /// than the head; a `prepared` computed for another height or head; a header
    /// state root other than `prepared.state_root`; a body that does not match
    /// the header; receipts whose count, root or gas disagree with the block;
    /// a transaction already in the chain. Committed blocks are never
    /// overwritten: the only write path is this one, and it only appends.
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[TxReceipt],
        prepared: PreparedState,
    ) -> Result<(), StoreError> {
        self.commit_block_certified(block, receipts, prepared, None)
    }

    /// [`commit_block`](Self::commit_block), also storing `certificate` (the
    /// consensus layer's proof that the block is committed, opaque here) in
    /// the same atomic batch, readable with [`Store::certificate`].
    pub fn commit_block_certified(
        &self,
        block: &Block,
        receipts: &[TxReceipt],
        prepared: PreparedState,
        certificate: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let inner = &*self.inner;
        let _commit = inner.commit_lock.lock();
        let head = self.head();
        check_linkage(head, block)?;
        let height = block.header.height;
        let base = head.map(|h| h.hash);
        if prepared.height != height || prepared.base != base {
            return Err(StoreError::StalePreparedState {
                height: prepared.height,
                prepared_on: prepared.base,
                head: base,
            });
        }
        if block.header.state_root != prepared.state_root {
            return Err(StoreError::StateRootMismatch {
                height,
                prepared: prepared.state_root,
                header: block.header.state_root,
            });
        }
        if !block.body_matches_header() {
            return Err(StoreError::BodyMismatch { height });
        }
        check_receipts(block, receipts)
            .map_err(|reason| StoreError::ReceiptsMismatch { height, reason })?;
        self.check_new_transactions(block)?;

        let mut batch = self.build_batch(block, receipts, &prepared)?;
        if let Some(certificate) = certificate {
            batch.put_cf(inner.cf(CF_CERTIFICATES)?, height_key(height), certificate);
        }
        let mut write_options = WriteOptions::default();
        write_options.set_sync(inner.sync_writes);
        let hash = block.hash();
        inner.commit_seq.fetch_add(1, Ordering::SeqCst);
        let written = inner.db.write_opt(batch, &write_options);
        let mut cached = inner.head.write();
        if written.is_ok() {
            *cached = Some(Head { height, hash, state_root: prepared.state_root });
        }
        inner.commit_seq.fetch_add(1, Ordering::SeqCst);
        drop(cached);
        written.map_err(StoreError::rocks("writing a block"))?;
        tracing::debug!(height, %hash, txs = block.transactions.len(), "committed block");
        Ok(())
    }

    /// Rejects a block containing a transaction twice or one already committed,
    /// which would otherwise overwrite the transaction index.
    fn check_new_transactions(&self, block: &Block) -> Result<(), StoreError> {
        let height = block.header.height;
        let mut seen = HashSet::with_capacity(block.transactions.len());
        for tx in &block.transactions {
            let tx_hash = *tx.tx_hash();
            if !seen.insert(tx_hash) {
                return Err(StoreError::DuplicateTransaction {
                    height,
                    tx_hash,
                    existing_height: height,
                });
            }
            if let Some((existing_height, _)) = self.tx_location(&tx_hash)? {
                return Err(StoreError::DuplicateTransaction { height, tx_hash, existing_height });
            }
        }
        Ok(())
    }

    /// Everything one block commit writes.
    fn build_batch(
        &self,
        block: &Block,
        receipts: &[TxReceipt],
        prepared: &PreparedState,
    ) -> Result<WriteBatch, StoreError> {
        let inner = &*self.inner;
        let height = block.header.height;
        let hash = block.hash();
        let key = height_key(height);
        let mut batch = WriteBatch::default();
        batch.put_cf(inner.cf(CF_BLOCKS)?, key, block.encode_canonical());
        batch.put_cf(inner.cf(CF_CANONICAL)?, key, hash);
        batch.put_cf(inner.cf(CF_BLOCK_HASHES)?, hash, key);
        batch.put_cf(inner.cf(CF_RECEIPTS)?, key, encode_receipts(receipts));
        let tx_cf = inner.cf(CF_TX_INDEX)?;
        for (index, tx) in block.transactions.iter().enumerate() {
            let index = u32::try_from(index).map_err(|_| StoreError::ReceiptsMismatch {
                height,
                reason: "more than u32::MAX transactions".to_string(),
            })?;
            batch.put_cf(tx_cf, tx.tx_hash(), encode_tx_location(height, index));
        }
        for ((cf, key), value) in &prepared.writes {
            match value {
                Some(value) => batch.put_cf(inner.cf(cf)?, key, value),
                None => batch.delete_cf(inner.cf(cf)?, key),
            }
        }
        write_tree_batch(&inner.db, &mut batch, &prepared.tree)?;
        batch.put_cf(
            inner.cf(CF_META)?,
            HEAD_KEY,
            encode_head(height, &hash, &prepared.state_root),
        );
        Ok(batch)
    }
}
