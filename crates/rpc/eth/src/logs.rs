//! `eth_getLogs`: bounded log queries over committed blocks.

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, Bloom, BloomInput, Log, B256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption};
use jsonrpsee::types::ErrorObjectOwned;
use phalanx_core_types::Block;

use crate::backend::EthBackend;
use crate::error::{backend_error, internal_error, invalid_params, limit_exceeded, server_error};
use crate::resolve::tag_height;
use crate::shapes::{rpc_logs, LogContext, RpcLog};

/// Bounds on one log query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Maximum number of blocks a range may span.
    pub block_range_max: u64,
    /// Maximum number of logs returned.
    pub logs_max: usize,
}

/// The logs matching `filter`, in block and log order. Ranges wider than
/// `limits.block_range_max` and results longer than `limits.logs_max` are
/// -32005 errors telling the client to narrow the range.
pub fn get_logs(
    backend: &dyn EthBackend,
    filter: &Filter,
    limits: LogLimits,
) -> Result<Vec<RpcLog>, ErrorObjectOwned> {
    let mut out = Vec::new();
    match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let block = backend
                .block_by_hash(&hash)
                .map_err(backend_error)?
                .ok_or_else(|| server_error(format!("unknown block {hash}")))?;
            collect_block_logs(backend, &block, filter, limits, &mut out)?;
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let Some((from, to)) = resolve_range(backend, from_block, to_block, limits)? else {
                return Ok(out);
            };
            for height in from..=to {
                let Some(block) = backend.block_by_height(height).map_err(backend_error)? else {
                    break;
                };
                collect_block_logs(backend, &block, filter, limits, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// The inclusive height range to scan, `None` when it lies entirely beyond
/// the newest block. Both ends default to `latest`.
fn resolve_range(
    backend: &dyn EthBackend,
    from_block: Option<BlockNumberOrTag>,
    to_block: Option<BlockNumberOrTag>,
    limits: LogLimits,
) -> Result<Option<(u64, u64)>, ErrorObjectOwned> {
    let latest = backend.latest_height();
    let from = tag_height(backend, from_block.unwrap_or(BlockNumberOrTag::Latest));
    let to = tag_height(backend, to_block.unwrap_or(BlockNumberOrTag::Latest));
    if from > to {
        return Err(invalid_params(format!("fromBlock {from} is after toBlock {to}")));
    }
    if from > latest {
        return Ok(None);
    }
    // Blocks beyond the newest do not exist, so they do not count against
    // the range bound.
    let to = to.min(latest);
    let span = to - from;
    if span >= limits.block_range_max {
        return Err(limit_exceeded(format!(
            "block range of {} blocks exceeds the limit of {}; narrow the range (fromBlock/toBlock)",
            u128::from(span) + 1,
            limits.block_range_max
        )));
    }
    Ok(Some((from, to)))
}

/// Appends the logs of `block` that match `filter`, skipping the block when
/// its header bloom rules out a match.
fn collect_block_logs(
    backend: &dyn EthBackend,
    block: &Block,
    filter: &Filter,
    limits: LogLimits,
    out: &mut Vec<RpcLog>,
) -> Result<(), ErrorObjectOwned> {
    if !bloom_may_match(&block.header.logs_bloom, filter) {
        return Ok(());
    }
    let height = block.header.height;
    let receipts = backend
        .receipts(height)
        .map_err(backend_error)?
        .ok_or_else(|| internal_error(format!("receipts of block {height} are missing")))?;
    let block_hash = block.hash();
    let mut first_log_index = 0u64;
    for (index, receipt) in receipts.iter().enumerate() {
        let tx = block.transactions.get(index).ok_or_else(|| {
            internal_error(format!("block {height} has more receipts than transactions"))
        })?;
        let ctx = LogContext {
            block_hash,
            block_number: height,
            transaction_hash: *tx.tx_hash(),
            transaction_index: index as u64,
            first_log_index,
        };
        first_log_index += receipt.logs.len() as u64;
        if !receipt.logs.iter().any(|log| log_matches(log, filter)) {
            continue;
        }
        let matching = rpc_logs(receipt, ctx).into_iter().zip(&receipt.logs);
        for (rpc_log, log) in matching {
            if !log_matches(log, filter) {
                continue;
            }
            if out.len() >= limits.logs_max {
                return Err(limit_exceeded(format!(
                    "query returns more than {} logs; narrow the range (fromBlock/toBlock)",
                    limits.logs_max
                )));
            }
            out.push(rpc_log);
        }
    }
    Ok(())
}

/// Whether `log` satisfies the address and topic filters. An empty set is a
/// wildcard; a non-empty set at position `i` needs the log's topic `i` in it.
pub fn log_matches(log: &Log, filter: &Filter) -> bool {
    if !filter.address.matches(&log.address) {
        return false;
    }
    filter.topics.iter().enumerate().all(|(i, wanted)| {
        wanted.is_empty() || log.topics().get(i).is_some_and(|topic| wanted.matches(topic))
    })
}

/// Whether a block with `bloom` may contain a matching log (false positives
/// possible, false negatives not).
fn bloom_may_match(bloom: &Bloom, filter: &Filter) -> bool {
    let has_address = |a: &Address| bloom.contains_input(BloomInput::Raw(a.as_slice()));
    let has_topic = |t: &B256| bloom.contains_input(BloomInput::Raw(t.as_slice()));
    (filter.address.is_empty() || filter.address.iter().any(has_address))
        && filter.topics.iter().all(|set| set.is_empty() || set.iter().any(has_topic))
}
