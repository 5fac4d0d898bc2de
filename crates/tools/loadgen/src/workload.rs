//! The workloads: what each load transaction does.

use crate::artifacts::{erc20_deploy_input, IERC20};
use crate::setup::{fund_accounts, send_and_confirm, Chain};
use crate::signer::{
    erc20_transfer_request, transfer_request, Sender, TxRequest, ERC20_DEPLOY_GAS,
};
use crate::LoadError;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use rand::Rng;

/// `PhalanxToken`'s initial supply: 10^9 tokens of 18 decimals.
pub const TOKEN_SUPPLY: u128 = 1_000_000_000 * 1_000_000_000_000_000_000;

/// Which transactions a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Plain value transfers of 1 wei between the load accounts.
    Transfer,
    /// Deploys `PhalanxToken` from the funder, gives every load account an
    /// equal share, then the accounts transfer 1 token unit to each other.
    Erc20,
}

impl std::str::FromStr for Workload {
    type Err = String;

    /// Parses `transfer` or `erc20` (as `phalanx devnet --load` spells them).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "transfer" => Ok(Self::Transfer),
            "erc20" => Ok(Self::Erc20),
            other => Err(format!("unknown workload `{other}` (expected `transfer` or `erc20`)")),
        }
    }
}

/// A workload after its setup: everything needed to generate transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prepared {
    Transfer,
    Erc20 { token: Address },
}

impl Prepared {
    /// The deployed contract, if the workload has one.
    pub fn contract(&self) -> Option<Address> {
        match self {
            Self::Transfer => None,
            Self::Erc20 { token } => Some(*token),
        }
    }

    /// The next load transaction from `from` (index into `accounts`) to a
    /// random other account.
    pub fn request(&self, accounts: &[Address], from: usize, rng: &mut impl Rng) -> TxRequest {
        let to = accounts[random_other(accounts.len(), from, rng)];
        match self {
            Self::Transfer => transfer_request(to, U256::from(1)),
            Self::Erc20 { token } => erc20_transfer_request(*token, to, U256::from(1)),
        }
    }
}

/// A uniformly random index in `0..n` other than `from` (`n >= 2`).
pub(crate) fn random_other(n: usize, from: usize, rng: &mut impl Rng) -> usize {
    assert!(n >= 2 && from < n, "need another account to send to");
    (from + rng.gen_range(1..n)) % n
}

/// Funds the load accounts with `fund_wei` each and prepares `workload`.
pub(crate) async fn prepare(
    chain: &Chain,
    funder: &mut Sender,
    workload: Workload,
    accounts: &[Address],
    fund_wei: U256,
    timeout_ms: u64,
) -> Result<Prepared, LoadError> {
    fund_accounts(chain, funder, accounts, fund_wei, timeout_ms).await?;
    match workload {
        Workload::Transfer => Ok(Prepared::Transfer),
        Workload::Erc20 => {
            let token = deploy_token(chain, funder, timeout_ms).await?;
            let share = U256::from(TOKEN_SUPPLY) / U256::from(accounts.len().max(1) * 2);
            let requests =
                accounts.iter().map(|a| erc20_transfer_request(token, *a, share)).collect();
            send_and_confirm(chain, funder, requests, "distribute tokens", timeout_ms).await?;
            check_balance(chain, token, accounts[0], share).await?;
            Ok(Prepared::Erc20 { token })
        }
    }
}

async fn deploy_token(
    chain: &Chain,
    funder: &mut Sender,
    timeout_ms: u64,
) -> Result<Address, LoadError> {
    let input = erc20_deploy_input("Phalanx Load Token", "PLT", U256::from(TOKEN_SUPPLY));
    let request =
        TxRequest { to: TxKind::Create, value: U256::ZERO, input, gas_limit: ERC20_DEPLOY_GAS };
    let receipts =
        send_and_confirm(chain, funder, vec![request], "deploy token", timeout_ms).await?;
    receipts.first().and_then(|r| r.contract_address).ok_or_else(|| LoadError::BadResponse {
        method: "eth_getTransactionReceipt",
        reason: "deployment receipt has no contractAddress".to_string(),
    })
}

/// Checks through `eth_call` that `holder` holds at least `expected` tokens.
async fn check_balance(
    chain: &Chain,
    token: Address,
    holder: Address,
    expected: U256,
) -> Result<(), LoadError> {
    use alloy_sol_types::SolCall;
    let input: Bytes = IERC20::balanceOfCall { account: holder }.abi_encode().into();
    let out = chain.rpc.call_contract(token, input).await?;
    let bad = |reason: String| LoadError::BadResponse { method: "eth_call", reason };
    let balance = IERC20::balanceOfCall::abi_decode_returns(&out, true)
        .map_err(|e| bad(format!("balanceOf answer does not decode: {e}")))?
        ._0;
    if balance < expected {
        return Err(bad(format!("holder {holder} has {balance} tokens, expected {expected}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolCall;
    use rand::SeedableRng;

    #[test]
    fn random_other_never_picks_self() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for from in 0..5 {
            for _ in 0..200 {
                let to = random_other(5, from, &mut rng);
                assert!(to < 5 && to != from);
            }
        }
        assert_eq!(random_other(2, 0, &mut rng), 1);
    }

    #[test]
    fn workload_names_parse() {
        assert_eq!("erc20".parse::<Workload>(), Ok(Workload::Erc20));
        assert_eq!("transfer".parse::<Workload>(), Ok(Workload::Transfer));
        assert!("swap".parse::<Workload>().is_err());
    }

    #[test]
    fn erc20_requests_call_the_token() {
        let token = Address::repeat_byte(0x77);
        let accounts = [Address::repeat_byte(1), Address::repeat_byte(2)];
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let req = Prepared::Erc20 { token }.request(&accounts, 0, &mut rng);
        assert_eq!(req.to, TxKind::Call(token));
        let call = IERC20::transferCall::abi_decode(&req.input, true).unwrap();
        assert_eq!(call.to, accounts[1]);
        let plain = Prepared::Transfer.request(&accounts, 1, &mut rng);
        assert_eq!(plain.to, TxKind::Call(accounts[0]));
    }
}
