//! `eth_feeHistory` and gas price suggestions.

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::U128;
use jsonrpsee::types::ErrorObjectOwned;
use phalanx_core_types::TxReceipt;
use serde::Serialize;

use crate::backend::EthBackend;
use crate::config::{FEE_HISTORY_BLOCKS_MAX, FEE_HISTORY_PERCENTILES_MAX};
use crate::error::{backend_error, internal_error, server_error};
use crate::params::check_percentiles;
use crate::resolve::tag_height;

/// The `eth_feeHistory` result, in geth's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeHistory {
    /// Height of the first block reported.
    #[serde(with = "alloy_serde::quantity")]
    pub oldest_block: u64,
    /// Base fee of each reported block plus the next one (blockCount + 1
    /// entries).
    pub base_fee_per_gas: Vec<U128>,
    /// gasUsed / gasLimit of each reported block.
    pub gas_used_ratio: Vec<f64>,
    /// Per block, the tip at each requested percentile of gas used; absent
    /// when no percentiles were requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward: Option<Vec<Vec<U128>>>,
}

/// Fee history of up to `block_count` blocks (capped at
/// [`FEE_HISTORY_BLOCKS_MAX`]) ending at `newest`.
pub fn fee_history(
    backend: &dyn EthBackend,
    block_count: u64,
    newest: BlockNumberOrTag,
    percentiles: Option<&[f64]>,
) -> Result<FeeHistory, ErrorObjectOwned> {
    if let Some(p) = percentiles {
        check_percentiles(p, FEE_HISTORY_PERCENTILES_MAX)?;
    }
    let newest = tag_height(backend, newest);
    let latest = backend.latest_height();
    if newest > latest {
        return Err(server_error(format!(
            "request beyond head block: requested {newest}, head {latest}"
        )));
    }
    let count = block_count.min(FEE_HISTORY_BLOCKS_MAX).min(newest + 1);
    let mut history = FeeHistory {
        oldest_block: newest + 1 - count,
        base_fee_per_gas: Vec::with_capacity(count as usize + 1),
        gas_used_ratio: Vec::with_capacity(count as usize),
        reward: percentiles.map(|_| Vec::with_capacity(count as usize)),
    };
    if count == 0 {
        history.oldest_block = 0;
        return Ok(history);
    }
    let mut next_base_fee = 0;
    for height in history.oldest_block..=newest {
        let block = backend
            .block_by_height(height)
            .map_err(backend_error)?
            .ok_or_else(|| internal_error(format!("block {height} is missing")))?;
        let header = &block.header;
        history.base_fee_per_gas.push(U128::from(header.base_fee_per_gas));
        history.gas_used_ratio.push(gas_used_ratio(header.gas_used, header.gas_limit));
        if let (Some(rewards), Some(p)) = (history.reward.as_mut(), percentiles) {
            let receipts = backend
                .receipts(height)
                .map_err(backend_error)?
                .ok_or_else(|| internal_error(format!("receipts of block {height} are missing")))?;
            rewards.push(block_rewards(&receipts, header.base_fee_per_gas, p));
        }
        // The base fee is constant per chain, so the next block's is this one's.
        next_base_fee = header.base_fee_per_gas;
    }
    history.base_fee_per_gas.push(U128::from(next_base_fee));
    Ok(history)
}

/// gasUsed / gasLimit, zero for a zero gas limit.
fn gas_used_ratio(gas_used: u64, gas_limit: u64) -> f64 {
    if gas_limit == 0 {
        return 0.0;
    }
    gas_used as f64 / gas_limit as f64
}

/// geth's reward percentiles: transactions sorted by tip (effective gas price
/// minus base fee); percentile `p` is the tip of the transaction at which the
/// cumulative gas used reaches `p`% of the block's gas used. Zeros for an
/// empty block.
pub fn block_rewards(receipts: &[TxReceipt], base_fee: u64, percentiles: &[f64]) -> Vec<U128> {
    if receipts.is_empty() {
        return vec![U128::ZERO; percentiles.len()];
    }
    let mut tips: Vec<(u128, u64)> = receipts
        .iter()
        .map(|r| (r.effective_gas_price.saturating_sub(u128::from(base_fee)), r.gas_used))
        .collect();
    tips.sort_unstable();
    let total_gas: u64 = tips.iter().map(|(_, gas)| *gas).fold(0, u64::saturating_add);
    let mut index = 0;
    let mut cumulative = tips[0].1;
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total_gas as f64 * p / 100.0) as u64;
            while cumulative < threshold && index + 1 < tips.len() {
                index += 1;
                cumulative = cumulative.saturating_add(tips[index].1);
            }
            U128::from(tips[index].0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    fn receipt(price: u128, gas_used: u64) -> TxReceipt {
        TxReceipt {
            tx_type: 2,
            success: true,
            cumulative_gas_used: 0,
            gas_used,
            effective_gas_price: price,
            logs: vec![],
            rw_hash: B256::ZERO,
            contract_address: None,
        }
    }

    #[test]
    fn rewards_follow_gas_weighted_percentiles() {
        // Tips 1, 2, 10 with gas 100, 100, 800 (base fee 5).
        let receipts = [receipt(15, 800), receipt(6, 100), receipt(7, 100)];
        let rewards = block_rewards(&receipts, 5, &[0.0, 10.0, 15.0, 50.0, 100.0]);
        let expected: Vec<U128> = [1u64, 1, 2, 10, 10].into_iter().map(U128::from).collect();
        assert_eq!(rewards, expected);
    }

    #[test]
    fn empty_block_rewards_are_zero() {
        assert_eq!(block_rewards(&[], 7, &[25.0, 75.0]), vec![U128::ZERO; 2]);
    }
}
