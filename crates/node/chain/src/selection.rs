//! How much the single-node producer takes from the pool for one block.
//!
//! The pool picks candidates before they execute, so it can only count their
//! gas *limits*; a block's gas limit bounds the gas they *use* (the executor
//! includes a transaction while its limit fits the gas left, as Ethereum's
//! rule says, and leaves the rest in the pool for the next block). Senders
//! set limits with a margin: the load generator's ERC-20 transfers carry a
//! 100,000 limit and use about 35,000. Selecting only a block's gas in limits
//! filled blocks to about a third: measured on the single-node devnet under
//! ERC-20 load, exactly 1,000 transfers per block of 100M gas, 5,000 tx/s at
//! 5 blocks/s, whatever the offered load.
//!
//! [`SelectionBudget`] scales the selection by the gas used per unit of
//! limit in the last block, at most [`SELECTION_SCALE_MAX`] times the block's
//! gas, so a block fills by use. When the estimate is too high (the next
//! transactions use more of their limits), the executor leaves what does not
//! fit for the next block: at most `SELECTION_SCALE_MAX - 1` blocks' worth of
//! execution is redone, never a wrong block.

use std::sync::atomic::{AtomicU64, Ordering};

/// Most gas, in candidates' limits, selected per unit of the block's gas.
pub(crate) const SELECTION_SCALE_MAX: u64 = 4;

/// Gas used per 1,000 gas of limit, the unit [`SelectionBudget`] keeps.
const PERMILLE: u64 = 1_000;

/// The last block's gas used per gas limit of its transactions.
#[derive(Debug)]
pub(crate) struct SelectionBudget {
    /// Gas used per [`PERMILLE`] gas of limit, within
    /// `PERMILLE / SELECTION_SCALE_MAX ..= PERMILLE`.
    used_permille: AtomicU64,
}

impl Default for SelectionBudget {
    /// Until a block has been observed, select a block's gas in limits.
    fn default() -> Self {
        Self { used_permille: AtomicU64::new(PERMILLE) }
    }
}

impl SelectionBudget {
    /// The total gas limit of the candidates to select for a block whose
    /// transactions may use at most `block_gas` gas: `block_gas` scaled by
    /// the last observed use.
    pub(crate) fn gas_limits_max(&self, block_gas: u64) -> u64 {
        let permille = self.used_permille.load(Ordering::Relaxed);
        let scaled = u128::from(block_gas) * u128::from(PERMILLE) / u128::from(permille);
        u64::try_from(scaled).unwrap_or(u64::MAX)
    }

    /// Records a block whose transactions, with `gas_limits` limits in
    /// total, used `gas_used`. A block without transactions says nothing.
    pub(crate) fn observe(&self, gas_used: u64, gas_limits: u64) {
        if gas_limits == 0 {
            return;
        }
        let permille = u128::from(gas_used) * u128::from(PERMILLE) / u128::from(gas_limits);
        let floor = PERMILLE / SELECTION_SCALE_MAX;
        let permille = u64::try_from(permille).unwrap_or(PERMILLE).clamp(floor, PERMILLE);
        self.used_permille.store(permille, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_a_blocks_gas_until_a_block_is_observed() {
        assert_eq!(SelectionBudget::default().gas_limits_max(30_000_000), 30_000_000);
    }

    #[test]
    fn scales_by_the_last_blocks_use_of_its_limits() {
        let budget = SelectionBudget::default();
        budget.observe(35_000 * 1_000, 100_000 * 1_000);
        assert_eq!(budget.gas_limits_max(100_000_000), 285_714_285);
        // Transactions that use their whole limit bring it back to 1x.
        budget.observe(21_000 * 10, 21_000 * 10);
        assert_eq!(budget.gas_limits_max(100_000_000), 100_000_000);
        // An empty block changes nothing.
        budget.observe(0, 0);
        assert_eq!(budget.gas_limits_max(100_000_000), 100_000_000);
    }

    #[test]
    fn never_selects_more_than_the_maximum_scale() {
        let budget = SelectionBudget::default();
        budget.observe(1, 1_000_000);
        assert_eq!(budget.gas_limits_max(10_000_000), 10_000_000 * SELECTION_SCALE_MAX);
        assert_eq!(budget.gas_limits_max(u64::MAX), u64::MAX, "saturates");
    }
}
