//! Running one transaction through revm over a [`RecordingDb`].

use crate::db::RecordingDb;
use crate::error::TxFacts;
use crate::BlockEnv;
use phalanx_core_types::{StateError, StateView};
use revm::interpreter::gas::validate_initial_tx_gas;
use revm::primitives::{Env, SpecId, TxEnv};
use revm::{Context, EvmContext, Handler};

/// The spec every Phalanx block executes under.
pub(crate) const SPEC: SpecId = SpecId::CANCUN;

/// revm's EVM (context and handler) over a [`RecordingDb`]. Built once per
/// block (or per worker) and reused for every transaction: revm clears its
/// journal after each `transact`, and the handler and environment need not be
/// rebuilt (perf showed rebuilding them costing several percent of a cheap
/// transaction).
pub(crate) type Evm<'a, S> = revm::Evm<'a, (), RecordingDb<S>>;

/// Which validation a run performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Full Ethereum validation: block execution.
    Block,
    /// `eth_call`: the sender may be a contract (no EIP-3607 check).
    Call,
    /// Block execution without paying the beneficiary: the priority fee is
    /// left for the caller to credit (the parallel executor credits all fees
    /// in block order afterwards, so that transactions do not all conflict on
    /// the `COINBASE` account).
    BlockDeferredFee,
}

/// An EVM over `db` for a block described by `env`, validating as `mode`
/// says. Each `transact` on it executes the transaction in its `TxEnv`
/// without committing anything: revm's journal is finalised into the
/// returned `ResultAndState` (or cleared on error).
pub(crate) fn new_evm<'a, S: StateView + 'a>(
    db: RecordingDb<S>,
    env: &BlockEnv,
    mode: Mode,
) -> Evm<'a, S> {
    let env = Box::new(Env { cfg: env.cfg(), block: env.to_revm(), tx: TxEnv::default() });
    let context = Context::new(EvmContext::new_with_env(db, env), ());
    let mut handler = Handler::mainnet_with_spec(SPEC);
    if mode == Mode::Call {
        handler.validation.tx_against_state = std::sync::Arc::new(validate_call_against_state);
    }
    if mode == Mode::BlockDeferredFee {
        // The beneficiary is then never loaded: EIP-3651 only marks it warm.
        handler.post_execution.reward_beneficiary = std::sync::Arc::new(|_, _| Ok(()));
    }
    revm::Evm::new(context, handler)
}

/// Mainnet's check against state, except that a sender with code is allowed
/// (as geth's `eth_call` allows): the code is hidden only for the check.
fn validate_call_against_state<S: StateView>(
    ctx: &mut Context<(), RecordingDb<S>>,
) -> Result<(), revm::primitives::EVMError<StateError>> {
    let caller = ctx.evm.inner.env.tx.caller;
    let load = ctx.evm.inner.journaled_state.load_code(caller, &mut ctx.evm.inner.db)?;
    let account = load.data;
    let code = account.info.code.replace(revm::primitives::Bytecode::default());
    let checked =
        ctx.evm.inner.env.validate_tx_against_state::<revm::primitives::CancunSpec>(account);
    account.info.code = code;
    checked.map_err(revm::primitives::EVMError::Transaction)
}

/// The facts an invalid-transaction message quotes.
pub(crate) fn tx_facts(tx: &TxEnv, env: &BlockEnv) -> TxFacts {
    let auth_count = tx.authorization_list.as_ref().map(|l| l.len() as u64).unwrap_or_default();
    TxFacts {
        caller: tx.caller,
        gas_limit: tx.gas_limit,
        intrinsic_gas: validate_initial_tx_gas(
            SPEC,
            &tx.data,
            tx.transact_to.is_create(),
            &tx.access_list,
            auth_count,
        ),
        max_fee: u128::try_from(tx.gas_price).unwrap_or(u128::MAX),
        base_fee: env.base_fee_per_gas,
        chain_id: env.chain_id,
        tx_chain_id: tx.chain_id,
        input_len: tx.data.len(),
    }
}
