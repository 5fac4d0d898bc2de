//! Durable storage of the replica's certified chain
//! ([`Action::PersistCertified`](phalanx_consensus_core::Action::PersistCertified)):
//! the certified, not yet committed blocks above the committed head, each
//! with the batches its payload digests name. Consensus runs on hashes, so
//! without the batches a block could not be re-executed after every
//! validator restarted at once.
//!
//! The whole chain (at most [`MAX_PERSISTED_CERTIFIED`] blocks, two or three
//! in steady state) is rewritten on each update as one [`SlotFile`] record
//! (written in place to one of two files and fdatasynced; a torn write
//! leaves the previous record). Blocks at or below the committed head
//! are dropped from memory on commit and from the file on the next update;
//! the replica ignores any left over.
//!
//! The file also holds the replica's *voted branch* (the uncertified block of
//! its latest vote, preceded by its ancestors off the chain,
//! `PersistCertified::voted`) with their batches, so a QC formed from this
//! node's vote can be served after a crash.

use crate::slot_file::SlotFile;
use crate::wire::{decode_certificate, encode_certificate, Batch};
use alloy_primitives::B256;
use phalanx_consensus_core::{Block, CertifiedBlock, Height, QuorumCert, MAX_PERSISTED_CERTIFIED};
use std::collections::BTreeMap;
use std::io::{Error, ErrorKind};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"PXCC";
/// Version 3 appends the voted branch; version 2 files (at most one voted
/// block, behind a flag) and version 1 files (no voted block) still load.
const VERSION: u8 = 3;
const VERSION_VOTED_BLOCK: u8 = 2;
const VERSION_CHAIN_ONLY: u8 = 1;

/// The certified-chain file of a node whose data directory is `data_dir`.
pub fn certified_path(data_dir: &Path) -> PathBuf {
    data_dir.join("consensus").join("certified.bin")
}

/// The persisted certified chain and voted block, mirrored in memory.
#[derive(Debug)]
pub struct CertifiedStore {
    slots: SlotFile,
    chain: BTreeMap<Height, (CertifiedBlock, Vec<Batch>)>,
    voted: Vec<(Block, Vec<Batch>)>,
}

/// The decoded file: the chain's entries and the voted branch.
type Decoded = (Vec<(CertifiedBlock, Vec<Batch>)>, Vec<(Block, Vec<Batch>)>);

fn invalid(reason: String) -> Error {
    Error::new(ErrorKind::InvalidData, reason)
}

impl CertifiedStore {
    /// Loads the chain at `path` (empty when the file does not exist) and
    /// checks its invariants: a chain of ascending, linked heights, at most
    /// [`MAX_PERSISTED_CERTIFIED`] blocks, each with exactly its payload's
    /// batches. A file that breaks them is an error, not a fresh start.
    pub fn open(path: PathBuf) -> std::io::Result<Self> {
        let (slots, record) = SlotFile::open(&path)?;
        let Some(bytes) = record else {
            return Ok(Self { slots, chain: BTreeMap::new(), voted: Vec::new() });
        };
        let (entries, voted) = decode(&bytes)?;
        let store = Self {
            slots,
            chain: entries.into_iter().map(|(cb, b)| (cb.block.height, (cb, b))).collect(),
            voted,
        };
        store.check()?;
        Ok(store)
    }

    /// The certified blocks, ascending (for `RecoveryState::certified`).
    pub fn blocks(&self) -> Vec<CertifiedBlock> {
        self.chain.values().map(|(cb, _)| cb.clone()).collect()
    }

    /// The voted branch, the voted block last (for `RecoveryState::voted`);
    /// the replica checks it extends the root or the chain.
    pub fn voted(&self) -> Vec<Block> {
        self.voted.iter().map(|(block, _)| block.clone()).collect()
    }

    /// Every batch the chain's blocks and the voted branch order.
    pub fn batches(&self) -> impl Iterator<Item = &Batch> {
        let voted = self.voted.iter().flat_map(|(_, batches)| batches.iter());
        self.chain.values().flat_map(|(_, batches)| batches.iter()).chain(voted)
    }

    /// Applies a `PersistCertified` update and writes the chain durably:
    /// replaces the blocks at heights `>= from_height` with `blocks` and the
    /// voted branch with `voted`, drops those at or below `committed_height`.
    /// `batch_of` must know every batch the new blocks order (the core only
    /// sends blocks whose payload is held).
    pub fn update(
        &mut self,
        from_height: Height,
        blocks: Vec<CertifiedBlock>,
        voted: Vec<Block>,
        committed_height: Height,
        batch_of: impl Fn(&B256) -> Option<Batch>,
    ) -> std::io::Result<()> {
        let batches_of = |block: &Block| {
            block
                .payload
                .iter()
                .map(|d| batch_of(d).ok_or_else(|| invalid(format!("batch {d} is not held"))))
                .collect::<Result<Vec<Batch>, Error>>()
        };
        self.voted = voted
            .into_iter()
            .map(|block| batches_of(&block).map(|batches| (block, batches)))
            .collect::<Result<_, _>>()?;
        self.chain.split_off(&from_height);
        for cb in blocks {
            let batches = batches_of(&cb.block)?;
            self.chain.insert(cb.block.height, (cb, batches));
        }
        self.prune_committed(committed_height);
        self.check()?;
        self.slots.write(&encode(self.chain.values(), &self.voted))
    }

    /// Forgets the blocks at or below `height` (just committed; the commit
    /// stores them with their batches). The file follows at the next update.
    pub fn prune_committed(&mut self, height: Height) {
        self.chain = self.chain.split_off(&(height.saturating_add(1)));
        self.voted.retain(|(block, _)| block.height > height);
    }

    fn check(&self) -> std::io::Result<()> {
        if self.chain.len() > MAX_PERSISTED_CERTIFIED {
            return Err(invalid(format!("{} certified blocks", self.chain.len())));
        }
        let mut prev: Option<(Height, B256)> = None;
        for (height, (cb, batches)) in &self.chain {
            let id = cb.block.id();
            if cb.block.height != *height || cb.qc.block_id != id {
                return Err(invalid(format!(
                    "entry at height {height} is not its certified block"
                )));
            }
            if prev.is_some_and(|(h, pid)| h + 1 != *height || pid != cb.block.parent_id) {
                return Err(invalid(format!("block at height {height} does not extend the chain")));
            }
            let digests: Vec<B256> = batches.iter().map(Batch::digest).collect();
            if digests != cb.block.payload {
                return Err(invalid(format!("batches at height {height} differ from the payload")));
            }
            prev = Some((*height, id));
        }
        if self.voted.len() > MAX_PERSISTED_CERTIFIED {
            return Err(invalid(format!("{} blocks in the voted branch", self.voted.len())));
        }
        for (block, batches) in &self.voted {
            let digests: Vec<B256> = batches.iter().map(Batch::digest).collect();
            if digests != block.payload {
                return Err(invalid(
                    "batches of a voted-branch block differ from its payload".into(),
                ));
            }
        }
        Ok(())
    }
}

/// The voted block as a certificate entry: it has no QC yet, so the entry
/// carries an unsigned placeholder naming the block, never read back as a QC.
fn voted_entry(block: &Block, batches: &[Batch]) -> Vec<u8> {
    let qc = QuorumCert {
        view: block.view,
        block_id: block.id(),
        exec: block.exec,
        signatures: Vec::new(),
    };
    encode_certificate(&CertifiedBlock { block: block.clone(), qc }, batches)
}

fn encode<'a>(
    entries: impl Iterator<Item = &'a (CertifiedBlock, Vec<Batch>)>,
    voted: &[(Block, Vec<Batch>)],
) -> Vec<u8> {
    let encoded: Vec<Vec<u8>> = entries.map(|(cb, b)| encode_certificate(cb, b)).collect();
    let mut out = MAGIC.to_vec();
    out.push(VERSION);
    // Counts and lengths are bounded far below u32::MAX (MAX_PERSISTED_CERTIFIED, frame limits).
    out.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
    let put = |out: &mut Vec<u8>, entry: &[u8]| {
        out.extend_from_slice(&(entry.len() as u32).to_be_bytes());
        out.extend_from_slice(entry);
    };
    for entry in &encoded {
        put(&mut out, entry);
    }
    // Then the voted branch: a count and each block's entry.
    out.extend_from_slice(&(voted.len() as u32).to_be_bytes());
    for (block, batches) in voted {
        put(&mut out, &voted_entry(block, batches));
    }
    out
}

fn decode(bytes: &[u8]) -> std::io::Result<Decoded> {
    let short = || invalid("certified chain file is truncated".into());
    let (head, mut rest) = bytes.split_at_checked(MAGIC.len() + 1).ok_or_else(short)?;
    let known = [VERSION, VERSION_VOTED_BLOCK, VERSION_CHAIN_ONLY];
    if &head[..4] != MAGIC || !known.contains(&head[4]) {
        return Err(invalid("certified chain file has an unknown header".into()));
    }
    let word = |rest: &mut &[u8]| -> std::io::Result<usize> {
        let (w, tail) = rest.split_at_checked(4).ok_or_else(short)?;
        *rest = tail;
        Ok(u32::from_be_bytes(w.try_into().expect("4 bytes")) as usize)
    };
    let count = word(&mut rest)?;
    if count > MAX_PERSISTED_CERTIFIED {
        return Err(invalid(format!("{count} certified blocks")));
    }
    let entry = |rest: &mut &[u8]| -> std::io::Result<(CertifiedBlock, Vec<Batch>)> {
        let len = word(rest)?;
        let (entry, tail) = rest.split_at_checked(len).ok_or_else(short)?;
        *rest = tail;
        decode_certificate(entry).map_err(|e| invalid(e.to_string()))
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(entry(&mut rest)?);
    }
    let mut voted = Vec::new();
    let voted_entry = |rest: &mut &[u8]| entry(rest).map(|(cb, batches)| (cb.block, batches));
    if head[4] == VERSION_VOTED_BLOCK {
        let (flag, tail) = rest.split_first().ok_or_else(short)?;
        rest = tail;
        match flag {
            0 => {}
            1 => voted.push(voted_entry(&mut rest)?),
            _ => return Err(invalid(format!("voted block flag {flag}"))),
        }
    } else if head[4] == VERSION {
        let count = word(&mut rest)?;
        if count > MAX_PERSISTED_CERTIFIED {
            return Err(invalid(format!("{count} blocks in the voted branch")));
        }
        for _ in 0..count {
            voted.push(voted_entry(&mut rest)?);
        }
    }
    if !rest.is_empty() {
        return Err(invalid("trailing bytes after the certified chain".into()));
    }
    Ok((out, voted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_consensus_core::ValidatorIndex;

    fn chain(batches: &[Batch]) -> Vec<CertifiedBlock> {
        let mut parent = B256::repeat_byte(1);
        (1..=3u64)
            .map(|height| {
                let block = Block {
                    view: height,
                    height,
                    parent_id: parent,
                    payload: vec![batches[height as usize - 1].digest()],
                    exec: B256::repeat_byte(height as u8),
                    extra: Vec::new(),
                    proposer: ValidatorIndex(0),
                    justify: QuorumCert::genesis(parent),
                };
                parent = block.id();
                let qc = QuorumCert {
                    view: height,
                    block_id: parent,
                    exec: block.exec,
                    signatures: Vec::new(),
                };
                CertifiedBlock { block, qc }
            })
            .collect()
    }

    #[test]
    fn updates_persist_reload_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let path = certified_path(dir.path());
        let batches: Vec<Batch> = (0..3u8).map(|i| Batch { txs: vec![vec![i; 5]] }).collect();
        let by_digest = |d: &B256| batches.iter().find(|b| b.digest() == *d).cloned();
        let blocks = chain(&batches);
        let mut store = CertifiedStore::open(path.clone()).unwrap();
        assert!(store.blocks().is_empty(), "no file is an empty chain");
        store.update(1, blocks[..2].to_vec(), Vec::new(), 0, by_digest).unwrap();
        store.update(3, blocks[2..].to_vec(), Vec::new(), 1, by_digest).unwrap();
        let reloaded = CertifiedStore::open(path.clone()).unwrap();
        assert_eq!(reloaded.blocks(), blocks[1..].to_vec(), "height 1 was committed");
        assert_eq!(reloaded.batches().cloned().collect::<Vec<_>>(), batches[1..].to_vec());
        // Truncation: an update from height 3 with nothing drops height 3.
        store.update(3, Vec::new(), Vec::new(), 1, by_digest).unwrap();
        assert_eq!(CertifiedStore::open(path.clone()).unwrap().blocks(), blocks[1..2].to_vec());
        // A missing batch is refused; a block that does not extend the chain is refused.
        assert!(store.update(3, blocks[2..].to_vec(), Vec::new(), 1, |_| None).is_err());
        let mut forked = blocks[2].clone();
        forked.block.parent_id = B256::repeat_byte(7);
        forked.qc.block_id = forked.block.id();
        let mut store = CertifiedStore::open(path.clone()).unwrap();
        assert!(store.update(3, vec![forked], Vec::new(), 1, by_digest).is_err());
        // Three records were written (the refused updates wrote none): the
        // newest, the truncation, is in slot 0 (records alternate from slot
        // 0). Tearing it (a byte of its first block) leaves the second,
        // heights 2 and 3.
        let slot_files = store.slots.paths().clone();
        let mut bytes = std::fs::read(&slot_files[0]).unwrap();
        bytes[100] ^= 1;
        std::fs::write(&slot_files[0], &bytes).unwrap();
        assert_eq!(CertifiedStore::open(path.clone()).unwrap().blocks(), blocks[1..].to_vec());
        // Both slots damaged is an error.
        let mut bytes = std::fs::read(&slot_files[1]).unwrap();
        bytes[100] ^= 1;
        std::fs::write(&slot_files[1], &bytes).unwrap();
        assert!(CertifiedStore::open(path).is_err());
    }

    #[test]
    fn voted_branch_persists_with_its_batches_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = certified_path(dir.path());
        let batches: Vec<Batch> = (0..3u8).map(|i| Batch { txs: vec![vec![i; 5]] }).collect();
        let by_digest = |d: &B256| batches.iter().find(|b| b.digest() == *d).cloned();
        let blocks = chain(&batches);
        // A branch of two blocks above the one-block chain.
        let branch: Vec<Block> = blocks[1..].iter().map(|cb| cb.block.clone()).collect();
        let mut store = CertifiedStore::open(path.clone()).unwrap();
        store.update(1, blocks[..1].to_vec(), branch.clone(), 0, by_digest).unwrap();
        let reloaded = CertifiedStore::open(path.clone()).unwrap();
        assert_eq!(reloaded.blocks(), blocks[..1].to_vec());
        assert_eq!(reloaded.voted(), branch);
        assert_eq!(reloaded.batches().cloned().collect::<Vec<_>>(), batches);
        // Its batches must be held; committed blocks leave the branch.
        assert!(store.update(2, Vec::new(), branch.clone(), 0, |_| None).is_err());
        store.update(2, Vec::new(), branch.clone(), 2, by_digest).unwrap();
        assert_eq!(CertifiedStore::open(path.clone()).unwrap().voted(), branch[1..].to_vec());
        store.update(2, Vec::new(), branch.clone(), 3, by_digest).unwrap();
        assert!(CertifiedStore::open(path.clone()).unwrap().voted().is_empty());
    }

    #[test]
    fn version_one_and_two_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = certified_path(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let batches: Vec<Batch> = (0..3u8).map(|i| Batch { txs: vec![vec![i; 5]] }).collect();
        let blocks = chain(&batches);
        let entries = [(blocks[0].clone(), vec![batches[0].clone()])];
        let voted = (blocks[1].block.clone(), vec![batches[1].clone()]);
        let chain_only = encode(entries.iter(), &[]);
        // Version 1: the chain alone (version 3 minus the branch count).
        let mut v1 = chain_only.clone();
        v1[4] = VERSION_CHAIN_ONLY;
        v1.truncate(v1.len() - 4);
        std::fs::write(&path, &v1).unwrap();
        let old = CertifiedStore::open(path.clone()).unwrap();
        assert_eq!((old.blocks(), old.voted()), (blocks[..1].to_vec(), Vec::new()));
        // Version 2: a presence flag, then at most one voted block.
        let with_voted = encode(entries.iter(), std::slice::from_ref(&voted));
        let mut v2 = with_voted[..chain_only.len() - 4].to_vec();
        v2[4] = VERSION_VOTED_BLOCK;
        v2.push(1);
        v2.extend_from_slice(&with_voted[chain_only.len()..]);
        // A fresh directory: the first file was imported into slots, and
        // a single file next to slots holding a record is a left-over.
        let dir = tempfile::tempdir().unwrap();
        let path = certified_path(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &v2).unwrap();
        let old = CertifiedStore::open(path).unwrap();
        assert_eq!((old.blocks(), old.voted()), (blocks[..1].to_vec(), vec![voted.0]));
    }
}
