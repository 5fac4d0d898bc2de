//! `phalanx keygen` and `phalanx genesis`.

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context;
use phalanx_core_types::{Genesis, GenesisAccount, Validator};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `phalanx keygen`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// Directory to write `consensus.key`, `account.key` and `validator.json` into.
    #[arg(long)]
    out: PathBuf,
    /// Validator name, for logs.
    #[arg(long, default_value = "validator")]
    name: String,
}

/// Arguments of `phalanx genesis`.
#[derive(Debug, clap::Args)]
pub(crate) struct GenesisArgs {
    /// EIP-155 chain id.
    #[arg(long, default_value_t = 7777)]
    chain_id: u64,
    /// A `validator.json` written by `phalanx keygen` (repeat for each validator).
    #[arg(long = "validator", required = true)]
    validators: Vec<PathBuf>,
    /// An Ethereum-style `alloc` JSON object (address → {balance, nonce, code, storage}).
    #[arg(long)]
    alloc: Option<PathBuf>,
    /// Also prefund this many deterministic development accounts (see `phalanx devnet`).
    #[arg(long, default_value_t = 0)]
    dev_accounts: usize,
    /// Block gas limit.
    #[arg(long, default_value_t = 100_000_000)]
    gas_limit: u64,
    /// Constant base fee per gas in wei (0 makes gas free).
    #[arg(long, default_value_t = 1_000_000_000)]
    base_fee: u64,
    /// Where to write the genesis JSON.
    #[arg(long)]
    out: PathBuf,
}

/// Generates a validator's keys into `dir` (secrets owner-readable only) and
/// returns its public description.
pub(crate) fn generate_validator(dir: &Path, name: &str) -> anyhow::Result<Validator> {
    use ed25519_dalek::SigningKey;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let consensus = SigningKey::generate(&mut rand::rngs::OsRng);
    let account = PrivateKeySigner::random();
    let validator = Validator {
        name: name.to_string(),
        address: account.address(),
        consensus_key: format!("0x{}", hex::encode(consensus.verifying_key().to_bytes())),
    };
    write_secret(&dir.join("consensus.key"), &hex::encode(consensus.to_bytes()))?;
    write_secret(&dir.join("account.key"), &hex::encode(account.to_bytes()))?;
    std::fs::write(dir.join("validator.json"), serde_json::to_string_pretty(&validator)?)?;
    Ok(validator)
}

/// Secrets are written owner-readable only.
fn write_secret(path: &Path, hex_secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!("creating {} (refusing to overwrite an existing key)", path.display())
        })?;
    f.write_all(hex_secret.as_bytes())?;
    Ok(())
}

pub(crate) fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let validator = generate_validator(&args.out, &args.name)?;
    println!("validator `{}`", validator.name);
    println!("  address        {}", validator.address);
    println!("  consensus key  {}", validator.consensus_key);
    println!("  written to     {}", args.out.display());
    Ok(())
}

/// Balance given to each development account: one million ether.
pub(crate) fn dev_balance() -> U256 {
    U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18))
}

pub(crate) fn build_genesis(
    chain_id: u64,
    validators: Vec<Validator>,
    mut alloc: BTreeMap<Address, GenesisAccount>,
    dev_accounts: &[PrivateKeySigner],
    gas_limit: u64,
    base_fee: u64,
) -> anyhow::Result<Genesis> {
    for signer in dev_accounts {
        alloc
            .entry(signer.address())
            .or_insert(GenesisAccount { balance: dev_balance(), ..Default::default() });
    }
    let genesis = Genesis {
        chain_id,
        timestamp: crate::devnet::now_seconds(),
        gas_limit,
        base_fee_per_gas: base_fee,
        validators,
        alloc,
    };
    genesis.validate()?;
    Ok(genesis)
}

pub(crate) fn genesis(args: GenesisArgs) -> anyhow::Result<()> {
    let validators = args
        .validators
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str::<Validator>(&text)
                .with_context(|| format!("parsing {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let alloc = match &args.alloc {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing alloc {}", p.display()))?
        }
        None => BTreeMap::new(),
    };
    let dev = phalanx_tools_loadgen::dev_accounts(args.dev_accounts);
    let genesis =
        build_genesis(args.chain_id, validators, alloc, &dev, args.gas_limit, args.base_fee)?;
    std::fs::write(&args.out, serde_json::to_string_pretty(&genesis)?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} validators, {} accounts)",
        args.out.display(),
        genesis.validators.len(),
        genesis.alloc.len()
    );
    Ok(())
}
