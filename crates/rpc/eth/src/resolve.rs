//! Resolving block tags, numbers and hashes to heights.
//!
//! A single node's committed blocks are final, so `latest`, `safe`,
//! `finalized` and `pending` all name the newest committed block.

use alloy_eips::{BlockId, BlockNumberOrTag};
use jsonrpsee::types::ErrorObjectOwned;

use crate::backend::EthBackend;
use crate::error::{backend_error, server_error};

/// The height a tag names (may be beyond the newest block for `Number`).
pub fn tag_height(backend: &dyn EthBackend, tag: BlockNumberOrTag) -> u64 {
    match tag {
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Number(n) => n,
        BlockNumberOrTag::Latest
        | BlockNumberOrTag::Pending
        | BlockNumberOrTag::Safe
        | BlockNumberOrTag::Finalized => backend.latest_height(),
    }
}

/// The height of an existing block named by `id` (default `latest`), for
/// state queries: unknown hashes and future numbers are -32000 errors with
/// geth's messages.
pub fn state_height(
    backend: &dyn EthBackend,
    id: Option<BlockId>,
) -> Result<u64, ErrorObjectOwned> {
    match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
        BlockId::Number(tag) => {
            let height = tag_height(backend, tag);
            if height > backend.latest_height() {
                return Err(server_error(format!(
                    "header not found: block {height} is not committed yet"
                )));
            }
            Ok(height)
        }
        BlockId::Hash(hash) => backend
            .block_by_hash(&hash.block_hash)
            .map_err(backend_error)?
            .map(|block| block.header.height)
            .ok_or_else(|| {
                server_error(format!("header not found: unknown block {}", hash.block_hash))
            }),
    }
}

/// Whether `id` asks for the pending state (where nonces include the pool).
pub fn is_pending(id: Option<&BlockId>) -> bool {
    matches!(id, Some(BlockId::Number(BlockNumberOrTag::Pending)))
}
