//! `notch home ...`: the owner's side of the consent dialogues for scripts and tests (My Home's pages come on top
//! of the same routes). The owner key lives in an age-encrypted file in the home directory and signs every
//! message; the ledger and the device each check the signature.

pub(crate) mod pair;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use domain::crypto::{PublicKey, Signed};
use domain::home::consent::SignedConsentRequest;
use domain::home::household::{Act, HouseholdState, OwnerDecision};
use domain::home::{Household, HouseholdEvent};
use domain::Decider;
use ed25519_dalek::SigningKey;

use super::key_file;
use super::ledger_client::Ledger;

const OWNER_KEY_FILE: &str = "owner-key.age";

#[derive(Args)]
pub struct HomeArgs {
    /// Where the owner key lives (owner-key.age).
    #[arg(long, env = "NOTCH_HOME_DIR", default_value = "notch-home", global = true)]
    home_dir: PathBuf,
    /// The ledger's base URL.
    #[arg(long, env = "NOTCH_LEDGER", default_value = "http://127.0.0.1:8080", global = true)]
    ledger: String,
    #[command(subcommand)]
    command: HomeCommand,
}

#[derive(Subcommand)]
enum HomeCommand {
    /// Make the owner key (encrypted under a passphrase) and print the home's id (the owner key, hex).
    Init,
    /// Pair a device: claim it, answer its challenge with the pairing secret, record it in the home.
    Pair(pair::PairArgs),
    /// The home's devices, as its record on the ledger has them.
    Devices,
    /// Delete a device from the home: every policy of it is revoked, and it becomes claimable again.
    Delete { device_id: String },
    /// Grant a provider's consent request (a file with its signed JSON, or - for standard input) for one device.
    Consent {
        request: PathBuf,
        #[arg(long)]
        device: String,
    },
    /// Refuse a provider's consent request.
    Deny { request: PathBuf },
    /// End a policy.
    Revoke {
        policy_id: uuid::Uuid,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every policy of the home with its status now.
    Policies,
    /// Every event of the home, in order.
    Events,
}

pub async fn run(args: HomeArgs) -> anyhow::Result<ExitCode> {
    let ledger = Ledger::new(&args.ledger)?;
    match args.command {
        HomeCommand::Init => init(&args.home_dir),
        HomeCommand::Pair(pair) => pair::run(&ledger, &owner_key(&args.home_dir)?, pair).await,
        HomeCommand::Devices => devices(&ledger, &owner_key(&args.home_dir)?).await,
        HomeCommand::Delete { device_id } => {
            decide(&ledger, &owner_key(&args.home_dir)?, Act::DeleteDevice { device_id }).await
        }
        HomeCommand::Consent { request, device } => {
            let act =
                Act::Authorize { policy_id: uuid::Uuid::now_v7(), device_id: device, request: read_request(&request)? };
            decide(&ledger, &owner_key(&args.home_dir)?, act).await
        }
        HomeCommand::Deny { request } => {
            decide(&ledger, &owner_key(&args.home_dir)?, Act::Deny { request: read_request(&request)? }).await
        }
        HomeCommand::Revoke { policy_id, reason } => {
            decide(&ledger, &owner_key(&args.home_dir)?, Act::Revoke { policy_id, reason }).await
        }
        HomeCommand::Policies => policies(&ledger, &owner_key(&args.home_dir)?).await,
        HomeCommand::Events => events(&ledger, &owner_key(&args.home_dir)?).await,
    }
}

fn init(home_dir: &Path) -> anyhow::Result<ExitCode> {
    let path = home_dir.join(OWNER_KEY_FILE);
    if path.exists() {
        bail!("{} exists: this home has an owner key already", path.display());
    }
    std::fs::create_dir_all(home_dir)?;
    let passphrase = key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase for the owner key: ", true)?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    key_file::write(&path, &key, passphrase)?;
    println!("{}", PublicKey::of(&key).to_hex());
    Ok(ExitCode::SUCCESS)
}

fn owner_key(home_dir: &Path) -> anyhow::Result<SigningKey> {
    let path = home_dir.join(OWNER_KEY_FILE);
    if !path.exists() {
        bail!("no owner key in {}: run `notch home init` first", home_dir.display());
    }
    key_file::read(&path, key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase: ", false)?)
}

/// The home's record, replayed from its stream with the same rules the ledger applies.
async fn household(ledger: &Ledger, owner: &SigningKey) -> anyhow::Result<(HouseholdState, Vec<HouseholdEvent>)> {
    let stream = <Household as domain::Aggregate>::stream_id(&PublicKey::of(owner));
    let events: Vec<HouseholdEvent> = ledger.stream(&stream).await?;
    Ok((Household::replay(&events), events))
}

/// Signs `act` as the owner's decision now and has the ledger record it; prints what it became (with the
/// policy id of a grant).
async fn decide(ledger: &Ledger, owner: &SigningKey, act: Act) -> anyhow::Result<ExitCode> {
    let (policy_id, redirect) = match &act {
        Act::Authorize { policy_id, request, .. } => (Some(*policy_id), Some(redirect(request, "authorized")?)),
        Act::Deny { request } => (None, Some(redirect(request, "denied")?)),
        _ => (None, None),
    };
    // Printed only once the ledger has committed the decision: the provider learns of nothing that did not happen.
    let accepted = post_decision(ledger, owner, act).await?;
    println!("{}", serde_json::json!({ "events": accepted["events"], "policy_id": policy_id, "redirect": redirect }));
    Ok(ExitCode::SUCCESS)
}

/// Where the owner goes back to the provider: the request's return URL (one of the provider's card, which the
/// ledger checks), with the request id and the answer.
fn redirect(request: &SignedConsentRequest, answer: &str) -> anyhow::Result<String> {
    let mut url = reqwest::Url::parse(&request.document.return_url)
        .with_context(|| format!("the request's return URL {} is not a URL", request.document.return_url))?;
    url.query_pairs_mut()
        .append_pair("request_id", &request.document.request_id.to_string())
        .append_pair("answer", answer);
    Ok(url.into())
}

/// `act` signed as the owner's decision now, and the ledger's answer.
pub(crate) async fn post_decision(ledger: &Ledger, owner: &SigningKey, act: Act) -> anyhow::Result<serde_json::Value> {
    let home = PublicKey::of(owner);
    let decision = OwnerDecision { home, at: chrono::Utc::now(), act };
    ledger.post(&format!("/home/homes/{}/decisions", home.to_hex()), &Signed::sign(owner, decision)?).await
}

/// A provider's signed request from a file, or from standard input for `-`.
fn read_request(path: &Path) -> anyhow::Result<SignedConsentRequest> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not a signed consent request: {e}", path.display()))
}

async fn policies(ledger: &Ledger, owner: &SigningKey) -> anyhow::Result<ExitCode> {
    let (state, _) = household(ledger, owner).await?;
    let now = chrono::Utc::now();
    for (policy_id, policy) in &state.policies {
        let line = serde_json::json!({
            "policy_id": policy_id,
            "status": policy.status_at(now).as_str(),
            "device_id": policy.device_id,
            "provider_key": policy.provider_key.to_hex(),
            "scope": policy.scope,
            "valid_from": policy.valid_from,
            "valid_until": policy.valid_until,
        });
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn devices(ledger: &Ledger, owner: &SigningKey) -> anyhow::Result<ExitCode> {
    let (state, _) = household(ledger, owner).await?;
    for (device_id, device) in &state.devices {
        let line = serde_json::json!({
            "device_id": device_id,
            "device_key": device.device_key.to_hex(),
            "added_at": device.added_at,
        });
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn events(ledger: &Ledger, owner: &SigningKey) -> anyhow::Result<ExitCode> {
    let (_, events) = household(ledger, owner).await?;
    for event in events {
        println!("{}", serde_json::to_string(&event)?);
    }
    Ok(ExitCode::SUCCESS)
}
