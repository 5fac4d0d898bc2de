//! Read and write sets recorded at run time (PaVM §III: "record each
//! transaction's reads and writes"), and PaVM's operation-based digests.
//!
//! PaVM: "transaction receipts are generated based on R/W operations ...
//! Each data R/W operation has several fields such as storage location and
//! value. Each operation is summarized as a hash value ... All operation hashes
//! are summarized as transaction receipts." [`ReadWriteSet::op_hash`] is that
//! per-transaction hash and [`rw_digest`] the block-level summary in the header.
//! Both depend only on what each transaction read and wrote, never on the order
//! in which a parallel engine happened to run transactions.

use alloy_primitives::{keccak256, Address, B256, U256};

/// A location a transaction read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReadKey {
    /// The whole account record (nonce, balance, code hash): revm reads accounts whole.
    Account(Address),
    /// One storage slot.
    Storage(Address, U256),
    /// The hash of an earlier block (the `BLOCKHASH` opcode).
    BlockHash(u64),
}

/// One write a transaction performed (net, after the transaction finished).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WriteOp {
    /// New balance.
    Balance { address: Address, value: U256 },
    /// New nonce.
    Nonce { address: Address, value: u64 },
    /// New code (by hash).
    Code { address: Address, code_hash: B256 },
    /// New storage value.
    Storage { address: Address, slot: U256, value: U256 },
    /// The account and its storage were deleted (self-destruct, EIP-161 clean-up).
    Destroy { address: Address },
    /// The transaction emitted its `index`-th log, whose RLP hashes to `hash`.
    Log { index: u32, hash: B256 },
}

/// What one transaction read (with the value it saw) and wrote.
///
/// `reads` are in first-read order with duplicates removed; `writes` are sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadWriteSet {
    /// Each location read, with a digest of the value observed (see [`value_digest`](Self::account_value_digest)).
    pub reads: Vec<(ReadKey, B256)>,
    /// Each net write.
    pub writes: Vec<WriteOp>,
}

impl ReadWriteSet {
    /// The digest under which an account value appears in `reads`.
    pub fn account_value_digest(account: Option<&crate::Account>) -> B256 {
        match account {
            None => B256::ZERO,
            Some(a) => {
                let mut buf = [0u8; 8 + 32 + 32];
                buf[..8].copy_from_slice(&a.nonce.to_be_bytes());
                buf[8..40].copy_from_slice(&a.balance.to_be_bytes::<32>());
                buf[40..].copy_from_slice(a.code_hash.as_slice());
                keccak256(buf)
            }
        }
    }

    /// PaVM's per-transaction operation hash: keccak256 over a tagged,
    /// fixed-width encoding of every read (location, value) and every write.
    /// Reads are hashed in sorted order so the hash is independent of the
    /// order in which the EVM touched them within the transaction.
    pub fn op_hash(&self) -> B256 {
        let mut reads = self.reads.clone();
        reads.sort_unstable();
        let mut buf = Vec::with_capacity(16 + reads.len() * 96 + self.writes.len() * 96);
        buf.extend_from_slice(&(reads.len() as u64).to_be_bytes());
        for (key, value) in &reads {
            encode_read(&mut buf, key);
            buf.extend_from_slice(value.as_slice());
        }
        buf.extend_from_slice(&(self.writes.len() as u64).to_be_bytes());
        for op in &self.writes {
            encode_write(&mut buf, op);
        }
        keccak256(&buf)
    }
}

fn encode_read(buf: &mut Vec<u8>, key: &ReadKey) {
    match key {
        ReadKey::Account(a) => {
            buf.push(0x01);
            buf.extend_from_slice(a.as_slice());
        }
        ReadKey::Storage(a, s) => {
            buf.push(0x02);
            buf.extend_from_slice(a.as_slice());
            buf.extend_from_slice(&s.to_be_bytes::<32>());
        }
        ReadKey::BlockHash(n) => {
            buf.push(0x03);
            buf.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn encode_write(buf: &mut Vec<u8>, op: &WriteOp) {
    match op {
        WriteOp::Balance { address, value } => {
            buf.push(0x11);
            buf.extend_from_slice(address.as_slice());
            buf.extend_from_slice(&value.to_be_bytes::<32>());
        }
        WriteOp::Nonce { address, value } => {
            buf.push(0x12);
            buf.extend_from_slice(address.as_slice());
            buf.extend_from_slice(&value.to_be_bytes());
        }
        WriteOp::Code { address, code_hash } => {
            buf.push(0x13);
            buf.extend_from_slice(address.as_slice());
            buf.extend_from_slice(code_hash.as_slice());
        }
        WriteOp::Storage { address, slot, value } => {
            buf.push(0x14);
            buf.extend_from_slice(address.as_slice());
            buf.extend_from_slice(&slot.to_be_bytes::<32>());
            buf.extend_from_slice(&value.to_be_bytes::<32>());
        }
        WriteOp::Destroy { address } => {
            buf.push(0x15);
            buf.extend_from_slice(address.as_slice());
        }
        WriteOp::Log { index, hash } => {
            buf.push(0x16);
            buf.extend_from_slice(&index.to_be_bytes());
            buf.extend_from_slice(hash.as_slice());
        }
    }
}

/// The block-level PaVM digest: keccak256 over the transactions' operation
/// hashes in block order. Empty blocks give keccak256 of nothing.
pub fn rw_digest<'a>(op_hashes: impl IntoIterator<Item = &'a B256>) -> B256 {
    let mut buf = Vec::new();
    for h in op_hashes {
        buf.extend_from_slice(h.as_slice());
    }
    keccak256(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_hash_ignores_read_order_but_not_values() {
        let a = Address::repeat_byte(1);
        let r1 = (ReadKey::Account(a), B256::ZERO);
        let r2 = (ReadKey::Storage(a, U256::from(7)), B256::repeat_byte(9));
        let x = ReadWriteSet { reads: vec![r1, r2], writes: vec![] };
        let y = ReadWriteSet { reads: vec![r2, r1], writes: vec![] };
        assert_eq!(x.op_hash(), y.op_hash());
        let z = ReadWriteSet { reads: vec![r1, (r2.0, B256::repeat_byte(8))], writes: vec![] };
        assert_ne!(x.op_hash(), z.op_hash());
    }
}
