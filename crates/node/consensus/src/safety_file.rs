//! Durable storage of the replica's [`SafetyState`].
//!
//! The state is a [`SlotFile`] record: written in place to one of two slot
//! files and fdatasynced, so a crash leaves either the old or the new state,
//! never a torn one; the replica only signs after [`SafetyFile::persist`]
//! returns.

use crate::slot_file::SlotFile;
use phalanx_consensus_core::SafetyState;
use std::path::{Path, PathBuf};

const SAFETY_BYTES: usize = 32;
/// The earlier format, without `last_proposed_view`.
const LEGACY_SAFETY_BYTES: usize = 24;

/// The safety file of a node whose data directory is `data_dir` (the slot
/// files sit next to it; a file at this path is the earlier single-file
/// layout, imported on open).
pub fn safety_path(data_dir: &Path) -> PathBuf {
    data_dir.join("consensus").join("safety.bin")
}

/// The open safety file.
#[derive(Debug)]
pub struct SafetyFile {
    slots: SlotFile,
}

impl SafetyFile {
    /// Opens the safety file at `path` (creating it when absent) and returns
    /// the persisted state, `None` when none was ever persisted. A damaged
    /// file is an error, never a fresh start: a replica that forgot its
    /// votes could vote twice in a view.
    pub fn open(path: &Path) -> std::io::Result<(Self, Option<SafetyState>)> {
        let (slots, record) = SlotFile::open(path)?;
        let state = match record {
            None => None,
            Some(bytes) => Some(decode(&bytes).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the safety state is {} bytes, not 24 or 32", bytes.len()),
                )
            })?),
        };
        Ok((Self { slots }, state))
    }

    /// Writes `state` durably.
    pub fn persist(&mut self, state: &SafetyState) -> std::io::Result<()> {
        self.slots.write(&encode(state))
    }
}

fn encode(state: &SafetyState) -> [u8; SAFETY_BYTES] {
    let mut out = [0u8; SAFETY_BYTES];
    out[..8].copy_from_slice(&state.last_voted_view.to_be_bytes());
    out[8..16].copy_from_slice(&state.preferred_view.to_be_bytes());
    out[16..24].copy_from_slice(&state.highest_timeout_view.to_be_bytes());
    out[24..].copy_from_slice(&state.last_proposed_view.to_be_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<SafetyState> {
    if bytes.len() != SAFETY_BYTES && bytes.len() != LEGACY_SAFETY_BYTES {
        return None;
    }
    let word = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let (last_voted_view, highest_timeout_view) = (word(0), word(2));
    // A legacy file did not record proposals: a leader proposes in a view
    // before voting or timing out in it, so assuming it proposed in every
    // view it signed anything in is safe.
    let last_proposed_view = if bytes.len() == SAFETY_BYTES {
        word(3)
    } else {
        last_voted_view.max(highest_timeout_view)
    };
    Some(SafetyState {
        last_voted_view,
        preferred_view: word(1),
        highest_timeout_view,
        last_proposed_view,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_state_reloads_and_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = safety_path(dir.path());
        let (mut file, loaded) = SafetyFile::open(&path).unwrap();
        assert_eq!(loaded, None);
        let state = SafetyState {
            last_voted_view: 9,
            preferred_view: 7,
            highest_timeout_view: 8,
            last_proposed_view: 6,
        };
        file.persist(&state).unwrap();
        assert_eq!(SafetyFile::open(&path).unwrap().1, Some(state));
        let newer = SafetyState { last_voted_view: 10, ..state };
        file.persist(&newer).unwrap();
        assert_eq!(SafetyFile::open(&path).unwrap().1, Some(newer));
    }

    #[test]
    fn a_legacy_single_file_is_imported() {
        let dir = tempfile::tempdir().unwrap();
        let path = safety_path(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let state = SafetyState {
            last_voted_view: 9,
            preferred_view: 7,
            highest_timeout_view: 8,
            last_proposed_view: 6,
        };
        std::fs::write(&path, &encode(&state)[..LEGACY_SAFETY_BYTES]).unwrap();
        let legacy = SafetyFile::open(&path).unwrap().1.unwrap();
        assert_eq!(legacy.last_proposed_view, 9, "a legacy file assumes the highest signed view");
        assert_eq!(SafetyFile::open(&path).unwrap().1, Some(legacy), "imported once");
        let dir = tempfile::tempdir().unwrap();
        let path = safety_path(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, [1, 2, 3]).unwrap();
        assert!(SafetyFile::open(&path).is_err(), "a damaged state is an error, not a fresh start");
    }
}
