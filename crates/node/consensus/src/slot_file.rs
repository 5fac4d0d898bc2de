//! A durable record that is overwritten in place: the consensus safety state
//! and the certified chain, rewritten on every vote and every certified block.
//!
//! The record lives in two copies ("slots"), the files `<stem>.0.<ext>` and
//! `<stem>.1.<ext>` next to `path`. A write goes to the slot that does not
//! hold the newest record: one positioned write of header and payload at
//! offset 0, then `fdatasync`. Each slot's header carries a sequence number,
//! the payload's length and a BLAKE3 checksum over both and the payload, so
//! a write torn by a crash is detected on load and the other slot — the
//! previous record, already durable — is used. The files are created once;
//! after that a write changes no directory entry and, unless the record
//! grows, no metadata, so `fdatasync` flushes the data alone.
//!
//! It replaced writing a temporary file, `fsync`, `rename` and `fsync` of the
//! directory on every update. Measured on this machine's ext4 (200 writes
//! each): 32 bytes took 554 µs wall and 228 µs CPU that way against 108 µs
//! and 42 µs in place; 300 KB 850 / 302 µs against 215 / 76 µs. perf of a
//! validator of the four-validator devnet had the two files at about a tenth
//! of its CPU.
//!
//! **Invariant:** after [`SlotFile::write`] returns `Ok`, a restart loads
//! that record or a later one; before it returns, the previous record.
//! Both slots non-empty and neither intact means the files were damaged
//! outside this code: loading is then an error, never a fresh start.

use std::fs::{File, OpenOptions};
use std::io::{Error, ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"PXSL";
const VERSION: u8 = 1;
/// Magic, version, three reserved bytes, sequence, payload length, checksum.
const HEADER_BYTES: usize = 4 + 1 + 3 + 8 + 8 + 32;
/// A slot file larger than this many times its record, and larger than
/// [`SHRINK_MIN_BYTES`], is truncated after a write: a burst of large
/// certified blocks must not pin its size forever.
const SHRINK_FACTOR: u64 = 4;
/// Slot files up to this size are never truncated (truncating costs a
/// metadata flush; small files are not worth it).
const SHRINK_MIN_BYTES: u64 = 1 << 20;

/// What one slot holds.
#[derive(Debug, PartialEq, Eq)]
enum Slot {
    /// Never written (an empty file).
    Empty,
    /// A write that did not complete, or damage: no record.
    Torn,
    /// An intact record.
    Record { seq: u64, payload: Vec<u8> },
}

/// The two slot files of one record (see the module docs).
#[derive(Debug)]
pub struct SlotFile {
    paths: [PathBuf; 2],
    files: [File; 2],
    /// Current length of each file, in bytes.
    lens: [u64; 2],
    /// Sequence number of the newest record (0: none yet).
    seq: u64,
    /// The slot the next write goes to.
    next: usize,
}

fn invalid(reason: String) -> Error {
    Error::new(ErrorKind::InvalidData, reason)
}

/// The path of slot `index` of the record at `path`.
fn slot_path(path: &Path, index: usize) -> PathBuf {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("bin");
    path.with_extension(format!("{index}.{ext}"))
}

fn checksum(seq: u64, payload: &[u8]) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&seq.to_be_bytes());
    hasher.update(&(payload.len() as u64).to_be_bytes());
    hasher.update(payload);
    hasher.finalize()
}

fn encode(seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, 0, 0, 0]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    out.extend_from_slice(checksum(seq, payload).as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Parses a slot file's bytes. Anything but an intact record of this
/// version is `Torn` (bytes beyond the record are left-overs of a longer
/// earlier record and ignored).
fn decode(bytes: &[u8]) -> Slot {
    if bytes.is_empty() {
        return Slot::Empty;
    }
    if bytes.len() < HEADER_BYTES || &bytes[..4] != MAGIC || bytes[4] != VERSION {
        return Slot::Torn;
    }
    let word = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let (seq, len) = (word(8), word(16));
    let Some(end) = usize::try_from(len).ok().and_then(|l| HEADER_BYTES.checked_add(l)) else {
        return Slot::Torn;
    };
    let Some(payload) = bytes.get(HEADER_BYTES..end) else { return Slot::Torn };
    if checksum(seq, payload).as_bytes() != &bytes[24..HEADER_BYTES] || seq == 0 {
        return Slot::Torn;
    }
    Slot::Record { seq, payload: payload.to_vec() }
}

/// The newest intact record of two slots and the index of its slot, `None`
/// when no record was ever made durable; an error when both slots hold
/// something and neither is intact, or both claim one sequence number.
fn newest(slots: [Slot; 2]) -> std::io::Result<Option<(usize, u64, Vec<u8>)>> {
    match slots {
        [Slot::Record { seq: a, .. }, Slot::Record { seq: b, .. }] if a == b => {
            Err(invalid(format!("both slots hold record {a}")))
        }
        [Slot::Record { seq: a, payload: pa }, Slot::Record { seq: b, payload: pb }] => {
            Ok(Some(if a > b { (0, a, pa) } else { (1, b, pb) }))
        }
        [Slot::Record { seq, payload }, _] => Ok(Some((0, seq, payload))),
        [_, Slot::Record { seq, payload }] => Ok(Some((1, seq, payload))),
        [Slot::Torn, Slot::Torn] => Err(invalid("neither slot holds an intact record".into())),
        // One torn and one never written: the first write did not complete,
        // so nothing was ever durable (and nothing depended on it).
        _ => Ok(None),
    }
}

impl SlotFile {
    /// Opens the record at `path` (creating its slot files and directory
    /// when absent) and returns the newest intact record, `None` when none
    /// was ever written.
    ///
    /// A file at `path` itself is the record as an earlier version stored
    /// it (one file, replaced by rename): when no slot holds a record yet,
    /// its bytes become the first record and the file is removed; when a
    /// slot does, it is left over from an interrupted import and removed.
    pub fn open(path: &Path) -> std::io::Result<(Self, Option<Vec<u8>>)> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let paths = [slot_path(path, 0), slot_path(path, 1)];
        let created = !paths[0].exists() || !paths[1].exists();
        // Never truncate: the slots hold the records being loaded.
        let open = |p: &Path| {
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(p)
        };
        let mut files = [open(&paths[0])?, open(&paths[1])?];
        if created {
            File::open(dir)?.sync_all()?;
        }
        let read = |file: &mut File| -> std::io::Result<Vec<u8>> {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(bytes)
        };
        let bytes = [read(&mut files[0])?, read(&mut files[1])?];
        let lens = [bytes[0].len() as u64, bytes[1].len() as u64];
        let [a, b] = bytes;
        let found = newest([decode(&a), decode(&b)]).map_err(|e| {
            invalid(format!("{} and {}: {e}", paths[0].display(), paths[1].display()))
        })?;
        let (next, seq, record) = match found {
            Some((slot, seq, payload)) => (1 - slot, seq, Some(payload)),
            None => (0, 0, None),
        };
        let mut slots = Self { paths, files, lens, seq, next };
        let record = slots.import_legacy(path, record)?;
        Ok((slots, record))
    }

    /// Moves a record stored the earlier way (one file at `path`) into the
    /// slots when they hold none, and removes that file (see [`Self::open`]).
    fn import_legacy(
        &mut self,
        path: &Path,
        record: Option<Vec<u8>>,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let legacy = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(record),
            Err(e) => return Err(e),
        };
        let record = match record {
            Some(record) => record,
            None => {
                self.write(&legacy)?;
                legacy
            }
        };
        std::fs::remove_file(path)?;
        File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()?;
        Ok(Some(record))
    }

    /// Replaces the record with `payload`, durably (see the module docs).
    /// An error names the slot file; the previous record is then still the
    /// one a restart loads, but the caller must not act on the new one.
    pub fn write(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let slot = self.next;
        self.write_slot(slot, payload).map_err(|e| {
            Error::new(e.kind(), format!("writing {}: {e}", self.paths[slot].display()))
        })
    }

    fn write_slot(&mut self, slot: usize, payload: &[u8]) -> std::io::Result<()> {
        let seq = self.seq.checked_add(1).expect("2^64 writes");
        let bytes = encode(seq, payload);
        let file = &self.files[slot];
        file.write_all_at(&bytes, 0)?;
        file.sync_data()?;
        // The record is durable: the next write must not overwrite it.
        self.seq = seq;
        self.next = 1 - slot;
        let len = bytes.len() as u64;
        self.lens[slot] = self.lens[slot].max(len);
        if self.lens[slot] > SHRINK_MIN_BYTES && self.lens[slot] > SHRINK_FACTOR * len {
            // The record is durable; what follows it is ignored on load, so
            // a crash during the truncation loses nothing.
            file.set_len(len)?;
            file.sync_data()?;
            self.lens[slot] = len;
        }
        Ok(())
    }

    /// The two slot files.
    #[cfg(test)]
    pub fn paths(&self) -> &[PathBuf; 2] {
        &self.paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reopen(path: &Path) -> Option<Vec<u8>> {
        SlotFile::open(path).unwrap().1
    }

    #[test]
    fn fresh_then_every_write_reloads_and_alternates_slots() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("state.bin");
        let (mut slots, record) = SlotFile::open(&path).unwrap();
        assert_eq!(record, None);
        assert_eq!(slots.paths()[0], dir.path().join("sub").join("state.0.bin"));
        for i in 0..5u8 {
            slots.write(&vec![i; 10 + usize::from(i)]).unwrap();
            assert_eq!(reopen(&path), Some(vec![i; 10 + usize::from(i)]));
        }
        // Five writes: slot 0 holds records 1, 3, 5 and slot 1 records 2, 4.
        let slot = |i: usize| decode(&std::fs::read(&slots.paths()[i]).unwrap());
        assert_eq!(slot(0), Slot::Record { seq: 5, payload: vec![4; 14] });
        assert_eq!(slot(1), Slot::Record { seq: 4, payload: vec![3; 13] });
        // A reopened file continues the sequence in the other slot.
        let (mut slots, _) = SlotFile::open(&path).unwrap();
        slots.write(b"six").unwrap();
        assert_eq!(slot(1), Slot::Record { seq: 6, payload: b"six".to_vec() });
        assert_eq!(reopen(&path), Some(b"six".to_vec()));
    }

    #[test]
    fn a_torn_write_leaves_the_previous_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        let (mut slots, _) = SlotFile::open(&path).unwrap();
        slots.write(b"first").unwrap();
        slots.write(b"second").unwrap();
        // Tear the newest record (slot 1) at every length: the first stays.
        let full = std::fs::read(&slots.paths()[1]).unwrap();
        for cut in 1..full.len() {
            std::fs::write(&slots.paths()[1], &full[..cut]).unwrap();
            assert_eq!(reopen(&path), Some(b"first".to_vec()), "cut at {cut}");
        }
        // A flipped payload bit is torn too.
        let mut flipped = full.clone();
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(&slots.paths()[1], &flipped).unwrap();
        assert_eq!(reopen(&path), Some(b"first".to_vec()));
        // A torn first write and an untouched slot: nothing was ever durable.
        std::fs::write(&slots.paths()[0], &full[..7]).unwrap();
        std::fs::write(&slots.paths()[1], b"").unwrap();
        assert_eq!(reopen(&path), None);
        // Both slots damaged is an error, not a fresh start.
        std::fs::write(&slots.paths()[1], &flipped).unwrap();
        assert!(SlotFile::open(&path).is_err());
    }

    #[test]
    fn left_over_bytes_of_a_longer_record_are_ignored_and_large_files_shrink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        let (mut slots, _) = SlotFile::open(&path).unwrap();
        let big = vec![7u8; 3 << 20];
        slots.write(&big).unwrap();
        slots.write(&big).unwrap();
        slots.write(b"small").unwrap();
        assert_eq!(reopen(&path), Some(b"small".to_vec()));
        let paths = slots.paths().clone();
        let len = |i: usize| std::fs::metadata(&paths[i]).unwrap().len();
        assert_eq!(len(0), (HEADER_BYTES + 5) as u64, "shrunk after the small write");
        slots.write(&[1; 1000]).unwrap();
        assert_eq!(len(1), (HEADER_BYTES + 1000) as u64);
        assert_eq!(reopen(&path), Some(vec![1; 1000]));
    }

    #[test]
    fn a_single_file_of_the_earlier_layout_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.bin");
        std::fs::write(&path, b"legacy").unwrap();
        let (mut slots, record) = SlotFile::open(&path).unwrap();
        assert_eq!(record, Some(b"legacy".to_vec()));
        assert!(!path.exists(), "the legacy file is removed once imported");
        assert_eq!(reopen(&path), Some(b"legacy".to_vec()));
        // A legacy file next to slots that hold a record is a left-over.
        slots.write(b"newer").unwrap();
        std::fs::write(&path, b"stale").unwrap();
        assert_eq!(reopen(&path), Some(b"newer".to_vec()));
        assert!(!path.exists());
    }
}
