//! The Uniswap V2 workload: a factory, a shared base token, one pool per
//! target (its own token against the base), liquidity, and approved traders.

use crate::builder::{expect_code, Builder, Step};
use crate::plan::Planned;
use crate::WorkloadError;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, U256};
use alloy_sol_types::SolCall;
use phalanx_execution_evm::MemoryState;
use phalanx_tools_loadgen::artifacts::{
    erc20_deploy_input, swap_helper, uniswap_v2_factory_deploy_input, uniswap_v2_pair, ISwapHelper,
    IUniswapV2Factory, IUniswapV2Pair, IERC20,
};
use std::collections::{BTreeMap, BTreeSet};

/// Tokens each side of every pool starts with (10^6 tokens of 18 decimals).
pub const POOL_LIQUIDITY: u128 = 1_000_000 * 1_000_000_000_000_000_000;

/// Tokens each swap sells (one token of 18 decimals): at most 10^5 swaps on
/// one pool move its price by 10%, so every swap pays out.
pub const SWAP_IN: u128 = 1_000_000_000_000_000_000;

/// Supply of every token the workload deploys (10^12 tokens of 18 decimals):
/// enough for `TXS_MAX` pools' liquidity and `TXS_MAX` swaps.
const TOKEN_SUPPLY: u128 = 1_000_000_000_000 * 1_000_000_000_000_000_000;

const FACTORY_DEPLOY_GAS: u64 = 8_000_000;
const TOKEN_DEPLOY_GAS: u64 = 3_000_000;
const HELPER_DEPLOY_GAS: u64 = 2_000_000;
const CREATE_PAIR_GAS: u64 = 5_000_000;
const MINT_GAS: u64 = 400_000;
const TOKEN_CALL_GAS: u64 = 100_000;

/// Gas limit of one measured swap (about 100k used).
pub const SWAP_GAS: u64 = 300_000;

/// One pool: its own token against the base token.
#[derive(Debug, Clone, Copy)]
struct Pool {
    token: Address,
    pair: Address,
}

/// The deployed Uniswap contracts, by target.
#[derive(Debug)]
pub(crate) struct Uniswap {
    factory: Address,
    base: Address,
    helper: Address,
    pools: BTreeMap<usize, Pool>,
}

fn transfer(to: Address, value: U256) -> Vec<u8> {
    IERC20::transferCall { to, value }.abi_encode()
}

/// The address `factory` gives the pair of `a` and `b` (CREATE2 over the
/// sorted tokens, with the pair's creation code as the init code).
fn pair_address(factory: Address, a: Address, b: Address) -> Address {
    let (t0, t1) = if a < b { (a, b) } else { (b, a) };
    let mut packed = [0u8; 40];
    packed[..20].copy_from_slice(t0.as_slice());
    packed[20..].copy_from_slice(t1.as_slice());
    factory.create2(keccak256(packed), keccak256(&uniswap_v2_pair().bytecode))
}

impl Uniswap {
    /// Queues the deployments, pools, liquidity, token grants and approvals
    /// that the Uniswap transactions in `planned` need.
    pub(crate) fn setup(b: &mut Builder, planned: &[&Planned]) -> Self {
        let owner = Builder::OWNER;
        let factory = b.deploy(
            uniswap_v2_factory_deploy_input(b.address(owner)),
            FACTORY_DEPLOY_GAS,
            "deploy Uniswap V2 factory",
        );
        let supply = U256::from(TOKEN_SUPPLY);
        let base =
            b.deploy(erc20_deploy_input("Base", "BASE", supply), TOKEN_DEPLOY_GAS, "deploy base");
        let helper = b.deploy(swap_helper().bytecode.clone(), HELPER_DEPLOY_GAS, "deploy helper");
        let liquidity = U256::from(POOL_LIQUIDITY);
        let mut pools = BTreeMap::new();
        for target in planned.iter().map(|p| p.target).collect::<BTreeSet<_>>() {
            let init = erc20_deploy_input(&format!("Pool{target}"), "POOL", supply);
            let token = b.deploy(init, TOKEN_DEPLOY_GAS, "deploy pool token");
            let create = IUniswapV2Factory::createPairCall { tokenA: token, tokenB: base };
            b.call(owner, factory, create.abi_encode(), CREATE_PAIR_GAS, "create pair");
            let pair = pair_address(factory, token, base);
            b.call(owner, token, transfer(pair, liquidity), TOKEN_CALL_GAS, "fund pair");
            b.call(owner, base, transfer(pair, liquidity), TOKEN_CALL_GAS, "fund pair");
            let mint = IUniswapV2Pair::mintCall { to: b.address(owner) }.abi_encode();
            b.call(owner, pair, mint, MINT_GAS, "mint liquidity");
            pools.insert(target, Pool { token, pair });
        }
        // Each trader gets exactly what its swaps sell, per pool, and approves
        // the helper once per token (an unlimited allowance is never written
        // back by OpenZeppelin 5, so swaps do not touch the allowance slot).
        let mut swaps: BTreeMap<(usize, usize), u128> = BTreeMap::new();
        for p in planned {
            *swaps.entry((p.sender, p.target)).or_default() += 1;
        }
        for (&(sender, target), &count) in &swaps {
            let pool = pools[&target];
            let to = b.address(Builder::sender(sender));
            let grant = transfer(to, U256::from(count * SWAP_IN));
            b.call(owner, pool.token, grant, TOKEN_CALL_GAS, "grant pool token");
            let approve = IERC20::approveCall { spender: helper, value: U256::MAX }.abi_encode();
            b.call(Builder::sender(sender), pool.token, approve, TOKEN_CALL_GAS, "approve helper");
        }
        Self { factory, base, helper, pools }
    }

    /// Fails unless every contract and pair exists in `state`.
    pub(crate) fn check(&self, state: &MemoryState) -> Result<(), WorkloadError> {
        expect_code(state, self.factory, "UniswapV2Factory")?;
        expect_code(state, self.base, "base token")?;
        expect_code(state, self.helper, "SwapHelper")?;
        for pool in self.pools.values() {
            expect_code(state, pool.token, "pool token")?;
            expect_code(state, pool.pair, "UniswapV2Pair")?;
        }
        Ok(())
    }

    /// The measured swap of `p`: sells [`SWAP_IN`] of the pool's token for base.
    pub(crate) fn swap(&self, b: &mut Builder, p: &Planned) -> Step {
        let pool = self.pools[&p.target];
        let signer = Builder::sender(p.sender);
        let call = ISwapHelper::swapExactInCall {
            pair: pool.pair,
            tokenIn: pool.token,
            amountIn: U256::from(SWAP_IN),
            amountOutMin: U256::from(1),
            to: b.address(signer),
        };
        let input = Bytes::from(call.abi_encode());
        b.step(signer, TxKind::Call(self.helper), input, U256::ZERO, SWAP_GAS, "swap")
    }
}
