//! `notch charging ...`: contact cards, and the operator's commands for the authority and the provider.

use std::process::ExitCode;

use adapters::charging::{cards, ChargingKeys, ChargingService, ChargingSettings};
use clap::{Args, Subcommand, ValueEnum};
use domain::charging::contact_card::ContactCard;
use domain::charging::Uid;

use super::node::{DbArgs, Node};

/// Settings of the charging roles, shared by `serve` and the commands below.
#[derive(Args, Clone, Debug)]
pub struct ChargingArgs {
    /// The URL apps and charge points reach this node at; written into its contact cards.
    #[arg(long, env = "NOTCH_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// How long the certificates the authority issues are valid.
    #[arg(long, default_value_t = 365)]
    pub certificate_validity_days: i64,
    /// Another provider's uid the authority registers credentials with (repeatable); this node's own
    /// provider is always included.
    #[arg(long = "partner-provider", value_parser = parse_uid)]
    pub partner_providers: Vec<Uid>,
}

impl ChargingArgs {
    pub fn settings(&self) -> anyhow::Result<ChargingSettings> {
        anyhow::ensure!(self.certificate_validity_days > 0, "--certificate-validity-days must be positive");
        Ok(ChargingSettings {
            transports: vec![self.public_url.clone()],
            certificate_validity: chrono::Duration::days(self.certificate_validity_days),
            partner_providers: self.partner_providers.clone(),
        })
    }
}

fn parse_uid(text: &str) -> Result<Uid, String> {
    Uid::parse(text).map_err(|e| e.to_string())
}

/// The charging keys live beside the node key.
pub fn keys(db: &DbArgs) -> anyhow::Result<ChargingKeys> {
    ChargingKeys::load_or_create(&db.data_dir.join("charging"))
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CardRole {
    Authority,
    Provider,
    Socket,
}

#[derive(Subcommand)]
pub enum ChargingCommand {
    /// Print a contact card as base64 (for an app or a QR code); the registration authority's by default.
    ContactCard {
        #[arg(long, value_enum, default_value = "authority")]
        role: CardRole,
        /// For --role socket: the charge point.
        #[arg(long, required_if_eq("role", "socket"))]
        charge_point: Option<String>,
        /// For --role socket: the connector (from 1).
        #[arg(long, default_value_t = 1)]
        connector: u32,
        /// Print the decoded card as JSON too.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        charging: ChargingArgs,
    },
    /// Provider: accept certificates of the authority whose exported contact card this is.
    TrustAuthority {
        contact_card: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        charging: ChargingArgs,
    },
    /// Provider: stop accepting certificates of this authority.
    DistrustAuthority {
        #[arg(value_parser = parse_uid)]
        authority_uid: Uid,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        charging: ChargingArgs,
    },
    /// Authority: revoke a certificate; providers see the revocation in the log.
    Revoke {
        #[arg(long)]
        serial: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        charging: ChargingArgs,
    },
}

pub async fn run(command: ChargingCommand) -> anyhow::Result<ExitCode> {
    match command {
        ChargingCommand::ContactCard { role, charge_point, connector, json, db, charging } => {
            let keys = keys(&db)?;
            let transports = charging.settings()?.transports;
            let card = match role {
                CardRole::Authority => cards::authority_card(&keys, &transports)?,
                CardRole::Provider => cards::provider_card(&keys, &transports)?,
                CardRole::Socket => {
                    let charge_point = charge_point.unwrap_or_default();
                    cards::socket_card(&keys, &transports, &charge_point, connector)?
                }
            };
            println!("{}", card.export()?);
            if json {
                println!("{}", serde_json::to_string_pretty(&card)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        ChargingCommand::TrustAuthority { contact_card, db, charging } => {
            let card = ContactCard::import(&contact_card)?;
            let (node, service) = open(&db, &charging).await?;
            let uid = service.trust_authority(card, chrono::Utc::now()).await;
            node.close().await;
            println!("trusted authority {}", uid?);
            Ok(ExitCode::SUCCESS)
        }
        ChargingCommand::DistrustAuthority { authority_uid, db, charging } => {
            let (node, service) = open(&db, &charging).await?;
            let result = service.distrust_authority(&authority_uid, chrono::Utc::now()).await;
            node.close().await;
            result?;
            println!("no longer trusting authority {authority_uid}");
            Ok(ExitCode::SUCCESS)
        }
        ChargingCommand::Revoke { serial, reason, db, charging } => {
            let (node, service) = open(&db, &charging).await?;
            let result = revoke(&service, &serial, &reason).await;
            node.close().await;
            result?;
            println!("revoked certificate {serial}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn open(db: &DbArgs, charging: &ChargingArgs) -> anyhow::Result<(Node, ChargingService)> {
    let keys = keys(db)?;
    let node = Node::open(db, 2).await?;
    let service = ChargingService::new(node.store.clone(), keys, charging.settings()?);
    Ok((node, service))
}

/// Finds the certificate's subject in the authority's view (caught up first) and revokes in its stream.
async fn revoke(service: &ChargingService, serial: &str, reason: &str) -> anyhow::Result<()> {
    projections::catch_up(service.store(), &projections::charging::ChargingViews).await?;
    let subject = projections::Views::of(service.store()).certificate_subject(serial).await?;
    let subject = subject.ok_or_else(|| anyhow::anyhow!("no certificate with serial {serial}"))?;
    let uid = Uid::parse(&subject)?;
    service.revoke_certificate(&uid, serial, reason, chrono::Utc::now()).await?;
    Ok(())
}
