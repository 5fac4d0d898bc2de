//! Durable storage of the replica's [`SafetyState`].
//!
//! The state is written to a temporary file, fsynced, renamed over the old
//! one and the directory fsynced, so a crash leaves either the old or the new
//! state, never a torn one; the replica only signs after this returns.

use phalanx_consensus_core::SafetyState;
use std::io::Write;
use std::path::{Path, PathBuf};

const SAFETY_BYTES: usize = 32;
/// The earlier format, without `last_proposed_view`.
const LEGACY_SAFETY_BYTES: usize = 24;

/// The safety file of a node whose data directory is `data_dir`.
pub fn safety_path(data_dir: &Path) -> PathBuf {
    data_dir.join("consensus").join("safety.bin")
}

/// Writes `state` durably to `path` (creating its directory).
pub fn persist(path: &Path, state: &SafetyState) -> std::io::Result<()> {
    write_atomically(path, &encode(state))
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new
/// contents: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Reads the persisted state; `None` when the file does not exist.
pub fn load(path: &Path) -> std::io::Result<Option<SafetyState>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    decode(&bytes).map(Some).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "safety file is not 24 or 32 bytes")
    })
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
        assert_eq!(load(&path).unwrap(), None);
        let state = SafetyState {
            last_voted_view: 9,
            preferred_view: 7,
            highest_timeout_view: 8,
            last_proposed_view: 6,
        };
        persist(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), Some(state));
        std::fs::write(&path, &encode(&state)[..LEGACY_SAFETY_BYTES]).unwrap();
        let legacy = load(&path).unwrap().unwrap();
        assert_eq!(legacy.last_proposed_view, 9, "a legacy file assumes the highest signed view");
        std::fs::write(&path, [1, 2, 3]).unwrap();
        assert!(load(&path).is_err(), "a torn file is an error, not a fresh start");
    }
}
