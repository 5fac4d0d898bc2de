//! The receipts root in independent parts, for hashing on several threads.
//!
//! The ordered receipts trie keys receipt `i` by `rlp(i)`. Every index from
//! 128 up has a key of two or more bytes, and the indices that share all but
//! the last key byte (up to 256 of them: 128..=255, then 256..=511, ...) form
//! one subtrie below the path of that shared prefix. When the subtrie's
//! leaves differ in their first remaining nibble, its top node is a branch
//! whose hash depends on nothing outside the subtrie: [`ReceiptsRootPlan`]
//! hashes such subtries separately ([`ReceiptsRootPlan::digest_part`], any
//! thread, any order) and [`ReceiptsRootPlan::combine`] adds their hashes to
//! the top of the trie as branch nodes, with the remaining leaves (indices
//! 0..=127 and subtries too small to branch) added as leaves.
//!
//! [`ReceiptsRootBuilder`] instead hashes receipts one at a time as they
//! arrive, for a thread that follows a serial executor.
//!
//! **Invariant:** `combine` and `ReceiptsRootBuilder::finish` return exactly
//! [`receipts_root_and_bloom`]'s result (tests compare them at every shape
//! boundary).
//!
//! [`receipts_root_and_bloom`]: crate::receipts_root_and_bloom

use crate::receipt::{adjust_index_for_rlp, BloomHashes};
use crate::TxReceipt;
use alloy_primitives::{Bloom, B256};
use alloy_rlp::Encodable;
use alloy_trie::{HashBuilder, Nibbles, EMPTY_ROOT_HASH};
use std::ops::Range;

/// One separately hashed subtrie: receipts `range`, whose keys share all but
/// their last byte.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Subtrie {
    range: Range<usize>,
    /// The nibble path of the subtrie's top (branch) node.
    prefix: Nibbles,
}

/// Receipts' consensus encodings with their blooms (bloom inputs memoised),
/// accumulating the bloom of everything encoded: the leaf step every form of
/// the root shares.
#[derive(Debug, Default)]
struct LeafEncoder {
    hashes: BloomHashes,
    bloom: Bloom,
}

impl LeafEncoder {
    /// Replaces `buf` with `receipt`'s Ethereum encoding and adds its bloom.
    fn encode(&mut self, receipt: &TxReceipt, buf: &mut Vec<u8>) {
        let bloom = self.hashes.bloom(&receipt.logs);
        self.bloom |= bloom;
        buf.clear();
        receipt.encode_ethereum_into(&bloom, buf);
    }
}

/// The hash of one part and the bloom of its receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartDigest {
    hash: B256,
    bloom: Bloom,
}

/// How the receipts root of a block of `len` receipts splits into parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptsRootPlan {
    len: usize,
    subtries: Vec<Subtrie>,
}

impl ReceiptsRootPlan {
    /// The plan for `len` receipts: one part per group of up to 256 indices
    /// from 128 up whose leaves branch at the group's prefix.
    pub fn new(len: usize) -> Self {
        let mut subtries = Vec::new();
        let mut start = 128;
        while start < len {
            // Indices sharing every key byte but the last: start..end.
            let end = ((start | 0xff) + 1).min(len);
            let (first, last) = (start, end - 1);
            // Leaves branch at the prefix only if their next nibble differs.
            if (first & 0xf0) != (last & 0xf0) {
                let mut key = Vec::with_capacity(9);
                first.encode(&mut key);
                let prefix = Nibbles::unpack(&key[..key.len() - 1]);
                subtries.push(Subtrie { range: start..end, prefix });
            }
            start = end;
        }
        Self { len, subtries }
    }

    /// The number of parts to pass to [`digest_part`](Self::digest_part).
    pub fn parts(&self) -> usize {
        self.subtries.len()
    }

    /// Hashes part `part` (< [`parts`](Self::parts)) of `receipts`, which
    /// must hold the plan's `len` receipts with their final cumulative gas.
    pub fn digest_part(&self, receipts: &[TxReceipt], part: usize) -> PartDigest {
        assert_eq!(receipts.len(), self.len, "receipts differ from the plan's block");
        let subtrie = &self.subtries[part];
        let mut encoder = LeafEncoder::default();
        let mut builder = HashBuilder::default();
        let mut buf = Vec::with_capacity(512);
        for i in subtrie.range.clone() {
            encoder.encode(&receipts[i], &mut buf);
            // The key below the prefix: the last key byte, as two nibbles.
            let last = (i & 0xff) as u8;
            builder.add_leaf(Nibbles::from_nibbles_unchecked([last >> 4, last & 0x0f]), &buf);
        }
        PartDigest { hash: builder.root(), bloom: encoder.bloom }
    }

    /// The receipts root and the block's logs bloom, from every part's
    /// digest (`digests[p]` from `digest_part(receipts, p)`) and the leaves
    /// outside the parts.
    pub fn combine(&self, receipts: &[TxReceipt], digests: &[PartDigest]) -> (B256, Bloom) {
        assert_eq!(receipts.len(), self.len, "receipts differ from the plan's block");
        assert_eq!(digests.len(), self.subtries.len(), "one digest per part");
        let mut encoder = LeafEncoder::default();
        if receipts.is_empty() {
            return (EMPTY_ROOT_HASH, encoder.bloom);
        }
        let mut builder = HashBuilder::default();
        let (mut key, mut buf) = (Vec::with_capacity(9), Vec::with_capacity(512));
        let mut next_part = 0;
        let mut j = 0;
        // Leaves and branches in key order; from 128 up, key order is index order.
        while j < receipts.len() {
            if let Some(subtrie) = self.subtries.get(next_part).filter(|s| s.range.start == j) {
                let digest = digests[next_part];
                encoder.bloom |= digest.bloom;
                builder.add_branch(subtrie.prefix.clone(), digest.hash, false);
                j = subtrie.range.end;
                next_part += 1;
                continue;
            }
            let i = adjust_index_for_rlp(j, receipts.len());
            encoder.encode(&receipts[i], &mut buf);
            key.clear();
            i.encode(&mut key);
            builder.add_leaf(Nibbles::unpack(&key), &buf);
            j += 1;
        }
        (builder.root(), encoder.bloom)
    }
}

/// The receipts root and block bloom of receipts that arrive one at a time
/// in block order, hashed as they arrive (for a background thread that
/// follows an executor). Equal to [`receipts_root_and_bloom`] over the
/// pushed receipts.
///
/// [`receipts_root_and_bloom`]: crate::receipts_root_and_bloom
#[derive(Debug, Default)]
pub struct ReceiptsRootBuilder {
    builder: HashBuilder,
    encoder: LeafEncoder,
    /// Receipts pushed so far.
    count: usize,
    /// Receipt 0's encoding: its key, 0x80, sorts after the keys of 1..=127,
    /// so its leaf waits for receipt 128 or the end.
    first: Option<Vec<u8>>,
    key: Vec<u8>,
    /// Encoding buffer reused across receipts.
    encoding: Vec<u8>,
}

impl ReceiptsRootBuilder {
    /// Adds the next receipt of the block (its cumulative gas final).
    pub fn push(&mut self, receipt: &TxReceipt) {
        let mut encoding = std::mem::take(&mut self.encoding);
        self.encoder.encode(receipt, &mut encoding);
        let index = self.count;
        self.count += 1;
        if index == 0 {
            self.first = Some(encoding);
            return;
        }
        if index == 128 {
            self.add_first();
        }
        self.add_leaf(index, &encoding);
        self.encoding = encoding;
    }

    /// The receipts root and the block's logs bloom.
    pub fn finish(mut self) -> (B256, Bloom) {
        if self.count == 0 {
            return (EMPTY_ROOT_HASH, self.encoder.bloom);
        }
        self.add_first();
        (self.builder.root(), self.encoder.bloom)
    }

    fn add_first(&mut self) {
        if let Some(encoding) = self.first.take() {
            self.add_leaf(0, &encoding);
        }
    }

    fn add_leaf(&mut self, index: usize, encoding: &[u8]) {
        self.key.clear();
        index.encode(&mut self.key);
        self.builder.add_leaf(Nibbles::unpack(&self.key), encoding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the generic ordered trie over each receipt's own
    /// encoding, and the OR of each receipt's own bloom.
    fn receipts_root_and_bloom(receipts: &[TxReceipt]) -> (B256, Bloom) {
        let root = crate::ordered_root(receipts.iter().map(TxReceipt::ethereum_encoding));
        let mut bloom = Bloom::default();
        receipts.iter().for_each(|r| bloom |= r.bloom());
        (root, bloom)
    }
    use alloy_primitives::{Address, Bytes, Log, LogData};

    fn receipts(len: usize) -> Vec<TxReceipt> {
        (0..len)
            .map(|i| TxReceipt {
                tx_type: (i % 3) as u8,
                success: !i.is_multiple_of(5),
                cumulative_gas_used: 21_000 * (i as u64 + 1),
                gas_used: 21_000,
                effective_gas_price: 7,
                logs: (0..i % 3)
                    .map(|k| Log {
                        address: Address::repeat_byte((i % 7) as u8),
                        data: LogData::new_unchecked(
                            vec![B256::repeat_byte(k as u8), B256::with_last_byte(i as u8)],
                            Bytes::from(vec![i as u8; k]),
                        ),
                    })
                    .collect(),
                rw_hash: B256::ZERO,
                contract_address: None,
            })
            .collect()
    }

    fn by_parts(receipts: &[TxReceipt]) -> (B256, Bloom) {
        let plan = ReceiptsRootPlan::new(receipts.len());
        // Digest in reverse to show the order does not matter.
        let mut digests: Vec<_> =
            (0..plan.parts()).rev().map(|p| (p, plan.digest_part(receipts, p))).collect();
        digests.sort_by_key(|(p, _)| *p);
        let digests: Vec<_> = digests.into_iter().map(|(_, d)| d).collect();
        plan.combine(receipts, &digests)
    }

    /// Every boundary of the key layout: single-byte keys, the 0x81 group,
    /// groups of 256 (full, partial, too small to branch), three-byte keys.
    #[test]
    fn parts_equal_the_whole_root_at_every_shape_boundary() {
        let lens = [
            0, 1, 2, 127, 128, 129, 143, 144, 145, 255, 256, 257, 271, 272, 273, 300, 511, 512,
            513, 1000, 2000, 4096, 4097, 4113, 65_535, 65_536, 65_537, 65_553, 65_700,
        ];
        let all = receipts(*lens.iter().max().unwrap());
        for len in lens {
            let block = &all[..len];
            assert_eq!(by_parts(block), receipts_root_and_bloom(block), "len {len}");
        }
    }

    #[test]
    fn streaming_equals_the_whole_root_at_every_shape_boundary() {
        let all = receipts(2_100);
        for len in [0, 1, 2, 126, 127, 128, 129, 130, 255, 256, 257, 2_100] {
            let mut builder = ReceiptsRootBuilder::default();
            all[..len].iter().for_each(|r| builder.push(r));
            assert_eq!(builder.finish(), receipts_root_and_bloom(&all[..len]), "len {len}");
        }
    }

    #[test]
    fn parts_cover_the_large_groups() {
        // 2,000 receipts: the 0x81 group and seven 0x82 groups.
        assert_eq!(ReceiptsRootPlan::new(2_000).parts(), 8);
        assert_eq!(ReceiptsRootPlan::new(128).parts(), 0);
        // 256..=257 share the next nibble: no branch at their prefix.
        assert_eq!(ReceiptsRootPlan::new(258).parts(), 1);
    }
}
