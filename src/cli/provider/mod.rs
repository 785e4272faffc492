//! `notch provider ...`: a service provider's side of consent. Its keys (Ed25519 to sign its card and requests,
//! X25519 for HPKE, which grants are wrapped to) live age-encrypted in the provider directory; its card says who
//! it is, what it asks for and where the owner is sent back to.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{Duration, Utc};
use clap::{Args, Subcommand};
use domain::crypto::{PublicKey, Signed};
use domain::home::consent::{ConsentRequest, Field, Granularity, ProviderCard, Scope, SignedProviderCard};
use domain::home::household::Termination;
use domain::home::provider_inbox::SignedHandover;
use domain::home::{ProviderInbox, ProviderInboxEvent};
use ed25519_dalek::SigningKey;
use mam::ProviderKeyPair;
use zeroize::Zeroizing;

use super::key_file;
use super::ledger_client::Ledger;
use super::node::DbArgs;

mod readings;
pub(crate) mod serve;

const KEYS_FILE: &str = "provider-keys.age";
const CARD_FILE: &str = "card.json";

#[derive(Args)]
pub struct ProviderArgs {
    /// Where the provider's keys and card live.
    #[arg(long, env = "NOTCH_PROVIDER_DIR", default_value = "notch-provider", global = true)]
    provider_dir: PathBuf,
    /// The ledger's base URL.
    #[arg(long, env = "NOTCH_LEDGER", default_value = "http://127.0.0.1:8080", global = true)]
    ledger: String,
    /// The provider's own data (its log, its readings, its embedded PostgreSQL); default: `data` in the provider
    /// directory.
    #[arg(long, env = "NOTCH_PROVIDER_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Keep the provider's data in this PostgreSQL server instead of an embedded one.
    #[arg(long, env = "NOTCH_PROVIDER_DATABASE_URL", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: ProviderCommand,
}

#[derive(Subcommand)]
enum ProviderCommand {
    /// Make the provider's keys (encrypted under a passphrase) and its signed card.
    Init {
        /// The name owners see.
        #[arg(long)]
        name: String,
        /// Where owners may be sent back to after they answer (1 to 8).
        #[arg(long = "return-url", required = true)]
        return_urls: Vec<String>,
        /// What the provider uses the data for (1 to 8; an owner never types a purpose).
        #[arg(long = "purpose", required = true)]
        purposes: Vec<String>,
    },
    /// Print the signed card.
    Card,
    /// The channels devices handed this provider, each checked: the device's signature, the grant's, and that
    /// it opens with this provider's key.
    Policies,
    /// End one of this provider's policies itself (TERMINATED): the device rotates the channel away from it.
    Terminate {
        policy: uuid::Uuid,
        /// Why, for the owner (at most 500 characters).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Run the provider: follow its inbox, read the channels devices hand it, store the readings in its own log.
    Serve,
    /// The readings `serve` stored (JSON lines), newest last.
    Readings {
        /// Only this policy's.
        #[arg(long)]
        policy: Option<uuid::Uuid>,
        /// Only this device's.
        #[arg(long)]
        device: Option<String>,
        /// At most this many (the newest).
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
    /// Print a signed consent request (JSON, one line) for an owner to answer.
    Request {
        /// One of the card's purposes.
        #[arg(long)]
        purpose: String,
        /// The reading fields, comma-separated: power_import_w, power_export_w, energy_import_wh,
        /// energy_export_wh, gas_dm3, phases.
        #[arg(long, value_delimiter = ',', required = true)]
        fields: Vec<String>,
        /// telegram, 1min or 15min.
        #[arg(long, default_value = "15min")]
        granularity: String,
        /// How long the consent would last, from now (e.g. 30days, 90s).
        #[arg(long, default_value = "30days")]
        valid_for: humantime::Duration,
        /// One of the card's return URLs (default: its first).
        #[arg(long)]
        return_url: Option<String>,
    },
}

pub async fn run(args: ProviderArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.provider_dir;
    let db = db_args(&args);
    match args.command {
        ProviderCommand::Policies => policies(dir, &Ledger::new(&args.ledger)?).await,
        ProviderCommand::Terminate { policy, reason } => {
            terminate(dir, &Ledger::new(&args.ledger)?, policy, reason).await
        }
        ProviderCommand::Serve => serve::run(keys(dir)?, db, &args.ledger).await,
        ProviderCommand::Readings { policy, device, limit } => readings::run(db, policy, device, limit).await,
        ProviderCommand::Init { name, return_urls, purposes } => init(dir, name, return_urls, purposes),
        ProviderCommand::Card => {
            println!("{}", serde_json::to_string(&card(dir)?)?);
            Ok(ExitCode::SUCCESS)
        }
        ProviderCommand::Request { purpose, fields, granularity, valid_for, return_url } => {
            let scope = scope(&fields, &granularity)?;
            request(dir, purpose, scope, valid_for.into(), return_url)
        }
    }
}

fn db_args(args: &ProviderArgs) -> DbArgs {
    let data_dir = args.data_dir.clone().unwrap_or_else(|| args.provider_dir.join("data"));
    DbArgs { data_dir, database_url: args.database_url.clone() }
}

fn init(dir: &Path, name: String, return_urls: Vec<String>, purposes: Vec<String>) -> anyhow::Result<ExitCode> {
    let keys_path = dir.join(KEYS_FILE);
    if keys_path.exists() {
        bail!("{} exists: this provider has keys already", keys_path.display());
    }
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let hpke = ProviderKeyPair::generate(&mut rand::rngs::OsRng);
    let document = ProviderCard {
        name,
        provider_key: PublicKey::of(&signing),
        hpke_key: hpke.public.to_hex(),
        return_urls,
        purposes,
        issued_at: Utc::now(),
    };
    let card = Signed::sign(&signing, document)?;
    card.check().map_err(|e| anyhow::anyhow!("the card is refused: {e}"))?;
    std::fs::create_dir_all(dir)?;
    let passphrase = key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase for the provider keys: ", true)?;
    let mut secret = Zeroizing::new(signing.to_bytes().to_vec());
    secret.extend_from_slice(&hpke.secret_bytes());
    key_file::write_secret(&keys_path, &secret, passphrase)?;
    std::fs::write(dir.join(CARD_FILE), serde_json::to_vec_pretty(&card)?)?;
    println!("{}", card.document.provider_key.to_hex());
    Ok(ExitCode::SUCCESS)
}

fn card(dir: &Path) -> anyhow::Result<SignedProviderCard> {
    let path = dir.join(CARD_FILE);
    let bytes =
        std::fs::read(&path).with_context(|| format!("no card at {}: run `notch provider init`", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
}

/// The provider's signing key and HPKE key pair.
pub fn keys(dir: &Path) -> anyhow::Result<(SigningKey, ProviderKeyPair)> {
    let passphrase = key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase: ", false)?;
    let secret = key_file::read_secret(&dir.join(KEYS_FILE), passphrase)?;
    if secret.len() != 64 {
        bail!("{} does not hold a provider's two keys", dir.join(KEYS_FILE).display());
    }
    let seed: [u8; 32] = secret[..32].try_into().expect("32 bytes");
    let hpke: [u8; 32] = secret[32..].try_into().expect("32 bytes");
    Ok((SigningKey::from_bytes(&seed), ProviderKeyPair::from_secret_bytes(&hpke)?))
}

fn scope(fields: &[String], granularity: &str) -> anyhow::Result<Scope> {
    let quoted = |text: &str| serde_json::Value::String(text.trim().to_owned());
    let mut fields: Vec<Field> = fields
        .iter()
        .map(|f| serde_json::from_value(quoted(f)).map_err(|_| anyhow::anyhow!("{f:?} is not a reading field")))
        .collect::<anyhow::Result<_>>()?;
    fields.sort();
    fields.dedup();
    let granularity: Granularity = serde_json::from_value(quoted(granularity))
        .map_err(|_| anyhow::anyhow!("{granularity:?} is not a granularity (telegram, 1min, 15min)"))?;
    Ok(Scope { fields, granularity })
}

fn request(
    dir: &Path,
    purpose: String,
    scope: Scope,
    valid_for: std::time::Duration,
    return_url: Option<String>,
) -> anyhow::Result<ExitCode> {
    let card = card(dir)?;
    let (signing, _) = keys(dir)?;
    let now = Utc::now();
    let return_url = return_url.unwrap_or_else(|| card.document.return_urls[0].clone());
    let document = ConsentRequest {
        request_id: uuid::Uuid::now_v7(),
        provider: card,
        purpose,
        scope,
        valid_from: now,
        valid_until: now + Duration::from_std(valid_for)?,
        return_url,
    };
    let request = Signed::sign(&signing, document)?;
    request.check(now).map_err(|e| anyhow::anyhow!("the request would be refused: {e}"))?;
    println!("{}", serde_json::to_string(&request)?);
    Ok(ExitCode::SUCCESS)
}

async fn policies(dir: &Path, ledger: &Ledger) -> anyhow::Result<ExitCode> {
    let (signing, hpke) = keys(dir)?;
    let inbox = <ProviderInbox as domain::Aggregate>::stream_id(&PublicKey::of(&signing));
    for event in ledger.stream::<ProviderInboxEvent>(&inbox).await? {
        let ProviderInboxEvent::GrantHandedOver { handover } = event;
        let line = match opens(&handover, &hpke) {
            Ok(grant) => serde_json::json!({
                "policy_id": handover.document.policy_id,
                "device_id": handover.document.device_id,
                "home": handover.document.home.to_hex(),
                "channel": handover.document.channel,
                "from_index": grant.next_index,
                "epoch": grant.epoch,
            }),
            Err(err) => serde_json::json!({ "policy_id": handover.document.policy_id, "refused": err.to_string() }),
        };
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs the termination of `policy_id` for the home whose device handed it over, and sends it to that home.
async fn terminate(dir: &Path, ledger: &Ledger, policy_id: uuid::Uuid, reason: String) -> anyhow::Result<ExitCode> {
    let (signing, _) = keys(dir)?;
    let inbox = <ProviderInbox as domain::Aggregate>::stream_id(&PublicKey::of(&signing));
    let handed_over = ledger.stream::<ProviderInboxEvent>(&inbox).await?.into_iter().find_map(|event| {
        let ProviderInboxEvent::GrantHandedOver { handover } = event;
        (handover.document.policy_id == policy_id).then_some(handover.document.home)
    });
    let home = handed_over.with_context(|| format!("no device handed this provider policy {policy_id}"))?;
    let termination = Termination { home, policy_id, reason, at: Utc::now() };
    let signed = Signed::sign(&signing, termination)?;
    let answer = ledger.post(&format!("/home/homes/{}/terminations", home.to_hex()), &signed).await?;
    println!("{answer}");
    Ok(ExitCode::SUCCESS)
}

/// The hand-over's grant, once it checks: signed by its device, a grant of the channel it names, signed by that
/// channel, and wrapped to this provider's key.
fn opens(handover: &SignedHandover, hpke: &ProviderKeyPair) -> anyhow::Result<mam::Grant> {
    let document = &handover.document;
    handover.verify(&document.device_key).map_err(|_| anyhow::anyhow!("the device did not sign this hand-over"))?;
    let grant = mam::Grant::from_bytes(&hex::decode(&document.grant)?)?;
    let channel: [u8; 32] =
        hex::decode(&document.channel)?.try_into().map_err(|_| anyhow::anyhow!("not a channel key"))?;
    mam::Reader::from_grant(&channel, &grant, hpke.clone())?;
    Ok(grant)
}
