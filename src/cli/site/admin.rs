//! `notch admin ...`: the operator's commands for the site ledger.

use std::process::ExitCode;

use adapters::site::admin::{self as app, UserRecord};
use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Subcommand};
use domain::crypto::PublicKey;
use domain::site::site_aggregate::{SiteCommand, SiteIdentity};
use domain::site::user::{Contact, UserCommand};
use ed25519_dalek::SigningKey;

use age::secrecy::ExposeSecret;

use crate::cli::control::{self, ControlRequest};
use crate::cli::key_file;
use crate::cli::node::{DbArgs, Node};

#[derive(Args)]
pub struct AdminArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the site and its key (stored encrypted under a passphrase).
    Init {
        #[arg(long)]
        name: String,
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 65430)]
        port: u16,
    },
    /// The site key.
    Key {
        #[command(subcommand)]
        action: KeyCommand,
    },
    /// Users of the site.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Issue a connection ticket for a user: prints it as JSON and as a one-line link.
    Ticket {
        cid: String,
        /// Lifetime such as 45m, 2h (default: the site's ticket_lifetime_s).
        #[arg(long)]
        expires: Option<humantime::Duration>,
    },
    /// Lockdown: a locked site accepts nothing but admin work.
    Site {
        #[command(subcommand)]
        action: SiteAction,
    },
    /// Site configuration defaults.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The peer server (the Noise link to other sites) of the running `notch serve` on this data directory.
    Peer {
        #[command(subcommand)]
        action: PeerAction,
    },
}

#[derive(Subcommand)]
enum PeerAction {
    /// Start it: opens the site key (NOTCH_PASSPHRASE or a prompt); prints the address it listens on.
    Start {
        /// Address to listen on (default: the one it last listened on).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Stop it and close every peer connection; the HTTP API goes on.
    Stop,
    /// Open connections, counters by peer, refusals by kind.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Generate a new site key (the old passphrase unlocks the old key first).
    New,
    /// Re-encrypt the site key under a new passphrase (NOTCH_NEW_PASSPHRASE or a prompt).
    Passphrase,
}

#[derive(Subcommand)]
enum SiteAction {
    Lock,
    Unlock,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print one key, or the whole configuration as JSON.
    Get {
        key: Option<String>,
    },
    Set {
        key: String,
        value: i64,
    },
}

#[derive(Subcommand)]
enum UserAction {
    Add {
        cid: String,
        #[arg(long)]
        name: String,
        /// Contact entry KEY=VALUE (repeatable).
        #[arg(long = "contact", value_parser = parse_contact)]
        contact: Vec<(String, String)>,
    },
    Edit {
        cid: String,
        #[arg(long)]
        name: Option<String>,
        /// Replaces all contact data when given (repeatable KEY=VALUE).
        #[arg(long = "contact", value_parser = parse_contact)]
        contact: Vec<(String, String)>,
    },
    Show {
        cid: String,
    },
    List,
    Lock {
        cid: String,
    },
    Unlock {
        cid: String,
    },
    Close {
        cid: String,
    },
    /// Write users as JSON (one CID, or --all).
    Dump {
        cid: Option<String>,
        #[arg(long, conflicts_with = "cid")]
        all: bool,
    },
    /// Create the users of a dump (none of them may exist yet).
    Load {
        file: std::path::PathBuf,
    },
}

fn parse_contact(entry: &str) -> Result<(String, String), String> {
    entry
        .split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("contact {entry:?} is not KEY=VALUE"))
}

pub async fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    if let AdminCommand::Peer { action } = args.command {
        peer(&args.db, action).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let node = Node::open(&args.db, 4).await?;
    let result = match adapters::site::legacy::adopt_legacy_lifts(&node.store, Utc::now()).await {
        Ok(_) => dispatch(&node, &args.db, args.command).await,
        Err(err) => Err(err.into()),
    };
    node.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn dispatch(node: &Node, db: &DbArgs, command: AdminCommand) -> anyhow::Result<()> {
    let store = &node.store;
    let now = Utc::now();
    match command {
        AdminCommand::Init { name, host, port } => init(store, db, name, host, port, now).await?,
        AdminCommand::Peer { .. } => unreachable!("run() sends peer commands to the service"),
        AdminCommand::Key { action } => key(store, db, action, now).await?,
        AdminCommand::User { action } => user(store, action, now).await?,
        AdminCommand::Ticket { cid, expires } => {
            let lifetime = expires
                .map(|d| chrono::Duration::from_std(d.into()))
                .transpose()
                .context("ticket lifetime out of range")?;
            let (ticket, expires_at) = app::issue_connection_ticket(store, &cid, lifetime, now).await?;
            println!("{}", serde_json::to_string(&ticket)?);
            println!("{}", ticket.link());
            eprintln!("ticket for {cid} expires at {}", expires_at.to_rfc3339());
        }
        AdminCommand::Site { action } => {
            let command = match action {
                SiteAction::Lock => SiteCommand::LockSite { at: now },
                SiteAction::Unlock => SiteCommand::UnlockSite { at: now },
            };
            app::site_command(store, command).await?;
        }
        AdminCommand::Config { action } => match action {
            ConfigAction::Get { key: None } => {
                println!("{}", serde_json::to_string_pretty(&app::config(store).await?)?)
            }
            ConfigAction::Get { key: Some(key) } => println!("{}", app::config(store).await?.get(&key)?),
            ConfigAction::Set { key, value } => {
                app::site_command(store, SiteCommand::SetConfig { key, value, at: now }).await?;
            }
        },
    }
    Ok(())
}

/// Talks to the running service: the peer server lives in its process.
async fn peer(db: &DbArgs, action: PeerAction) -> anyhow::Result<()> {
    let request = match &action {
        PeerAction::Start { listen } => {
            let passphrase = key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase for the site key: ", false)?;
            ControlRequest::StartPeerServer { passphrase: passphrase.expose_secret().to_owned(), listen: *listen }
        }
        PeerAction::Stop => ControlRequest::StopPeerServer,
        PeerAction::Status { .. } => ControlRequest::PeerStatus,
    };
    let status = control::ask(&db.data_dir, &request).await?;
    match action {
        PeerAction::Start { .. } => {
            println!("peer server listening on {}", status["listening"].as_str().unwrap_or("?"))
        }
        PeerAction::Stop => {}
        PeerAction::Status { json: true } => println!("{}", serde_json::to_string_pretty(&status)?),
        PeerAction::Status { json: false } => print!("{}", peer_status_text(&status)),
    }
    Ok(())
}

fn peer_status_text(status: &serde_json::Value) -> String {
    let Some(listening) = status["listening"].as_str() else { return "peer server: stopped\n".into() };
    let mut text =
        format!("peer server: listening on {listening}, agent {}\n", status["agent"].as_str().unwrap_or("?"));
    let connections = status["connections"].as_array().cloned().unwrap_or_default();
    text += &format!("connections: {}\n", connections.len());
    for c in &connections {
        text += &format!(
            "  {} {} {} {} sent {} received {}\n",
            c["direction"].as_str().unwrap_or("?"),
            c["agent"].as_str().unwrap_or("?"),
            c["remote"].as_str().unwrap_or("?"),
            if c["open"] == true { "open" } else { "handshaking" },
            c["messages_sent"],
            c["messages_received"],
        );
    }
    for (kind, count) in status["refusals"].as_object().into_iter().flatten() {
        text += &format!("refused {kind}: {count}\n");
    }
    text
}

/// Decides first (nothing written if refused), then keeps the key, then records the site.
async fn init(
    store: &events::Store,
    db: &DbArgs,
    name: String,
    host: String,
    port: u16,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let path = key_file::site_key_path(&db.data_dir);
    if path.exists() {
        bail!("{} exists: this site has a key already", path.display());
    }
    let passphrase = key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase for the site key: ", true)?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let identity = SiteIdentity { name, host, port, site_key: PublicKey::of(&key) };
    domain::site::site_aggregate::Site::check_init(&app::site(store).await?, &identity)?;
    key_file::write(&path, &key, passphrase)?;
    app::site_command(store, SiteCommand::InitSite { identity: identity.clone(), at: now }).await?;
    println!("site {} initialised; key {}", identity.name, identity.site_key);
    Ok(())
}

/// Rotates the site key or re-encrypts it; either way the key file must hold the site's current key.
async fn key(store: &events::Store, db: &DbArgs, action: KeyCommand, now: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    let path = key_file::site_key_path(&db.data_dir);
    let old = key_file::read(&path, key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase: ", false)?)?;
    let (identity, _) = app::site_identity(store).await?;
    if PublicKey::of(&old) != identity.site_key {
        bail!("the key in {} is not the site's current key", path.display());
    }
    match action {
        KeyCommand::New => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let passphrase = key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase: ", false)?;
            key_file::write(&path, &key, passphrase)?;
            app::site_command(store, SiteCommand::RotateSiteKey { site_key: PublicKey::of(&key), at: now }).await?;
            println!("new site key {}", PublicKey::of(&key));
        }
        KeyCommand::Passphrase => {
            let new = key_file::passphrase("NOTCH_NEW_PASSPHRASE", "New passphrase: ", true)?;
            key_file::write(&path, &old, new)?;
            println!("site key re-encrypted");
        }
    }
    Ok(())
}

async fn user(store: &events::Store, action: UserAction, now: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    let simple = |cid: &str, command| (cid.to_owned(), command);
    let (cid, command) = match action {
        UserAction::Add { cid, name, contact } => {
            let contact: Contact = contact.into_iter().collect();
            simple(&cid, UserCommand::RegisterUser { cid: cid.clone(), name, contact, at: now })
        }
        UserAction::Edit { cid, name, contact } => {
            let contact = (!contact.is_empty()).then(|| contact.into_iter().collect());
            simple(&cid, UserCommand::EditUser { name, contact, at: now })
        }
        UserAction::Lock { cid } => simple(&cid, UserCommand::LockUser { at: now }),
        UserAction::Unlock { cid } => simple(&cid, UserCommand::UnlockUser { at: now }),
        UserAction::Close { cid } => simple(&cid, UserCommand::CloseUser { at: now }),
        UserAction::Show { cid } => {
            let record = app::dump_user(store, &cid).await?;
            let (identity, _) = app::site_identity(store).await?;
            let mut shown = serde_json::to_value(&record)?;
            shown["chip_address"] = identity.chip_address(&cid).into();
            println!("{}", serde_json::to_string_pretty(&shown)?);
            return Ok(());
        }
        UserAction::List => {
            for cid in app::user_cids(store).await? {
                let user = app::user(store, &cid).await?;
                println!("{cid}\t{}\t{}", user.status.as_str(), user.name);
            }
            return Ok(());
        }
        UserAction::Dump { cid, all } => {
            let cids = match (cid, all) {
                (Some(cid), _) => vec![cid],
                (None, true) => app::user_cids(store).await?,
                (None, false) => bail!("name a CID or pass --all"),
            };
            let mut records = Vec::with_capacity(cids.len());
            for cid in cids {
                records.push(app::dump_user(store, &cid).await?);
            }
            println!("{}", serde_json::to_string_pretty(&records)?);
            return Ok(());
        }
        UserAction::Load { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let records: Vec<UserRecord> =
                serde_json::from_str(&text).with_context(|| format!("{} is not a user dump", file.display()))?;
            for record in &records {
                if app::user(store, &record.cid).await.is_ok() {
                    bail!("user {} exists already; nothing loaded", record.cid);
                }
            }
            let count = records.len();
            for record in records {
                let cid = record.cid.clone();
                app::load_user(store, record, now).await.with_context(|| format!("loading {cid}"))?;
            }
            eprintln!("loaded {count} users");
            return Ok(());
        }
    };
    app::user_command(store, &cid, command).await?;
    Ok(())
}
