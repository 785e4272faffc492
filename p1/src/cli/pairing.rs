//! `notch-p1 pairing-code` and `notch-p1 reset-pairing`: what the owner needs to pair this device, and the reset
//! on the device itself that makes it claimable again with a new secret.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use domain::home::device_inbox::{DeviceSay, ReleaseReason};
use notch_p1::pairing::Identity;
use notch_p1::pairing_link::{self, ledger_base};
use notch_p1::state_file;
use rand_core::OsRng;

#[derive(clap::Args)]
pub struct PairingCodeArgs {
    /// Where the device keeps its identity and state (as for `run`).
    #[arg(long, env = "NOTCH_P1_DATA_DIR")]
    data_dir: PathBuf,
    /// The ledger's MAM endpoint (as for `run`): the pairing URL opens My Home on that ledger.
    #[arg(long, env = "NOTCH_P1_LEDGER_URL")]
    ledger_url: Option<String>,
    /// Print one JSON object instead of text and a QR code.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct ResetPairingArgs {
    /// Where the device keeps its identity and state (as for `run`, which must not be running).
    #[arg(long, env = "NOTCH_P1_DATA_DIR")]
    data_dir: PathBuf,
}

pub fn pairing_code(args: PairingCodeArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let identity = Identity::open(&identity_path(&args.data_dir), &mut OsRng)?;
    // The secret goes in the fragment, which a browser never sends to the server.
    let url = match &args.ledger_url {
        Some(mam) => Some(format!(
            "{}/home/pair#device={}&secret={}",
            ledger_base(mam)?,
            identity.device_id(),
            identity.secret_text()
        )),
        None => None,
    };
    if args.json {
        let code = serde_json::json!({
            "device_id": identity.device_id(),
            "secret": identity.secret_text(),
            "url": url,
        });
        println!("{code}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("device id  {}", identity.device_id());
    println!("secret     {}", identity.secret_text());
    if let Some(url) = &url {
        println!("pair at    {url}");
    }
    let qr_text = url.unwrap_or_else(|| format!("{} {}", identity.device_id(), identity.secret_text()));
    let qr = qrcode::QrCode::new(qr_text.as_bytes()).context("making the QR code")?;
    println!("\n{}", qr.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build());
    Ok(ExitCode::SUCCESS)
}

/// A new pairing secret, every count of wrong answers forgotten, and a release (reason `reset`) for the ledger,
/// sent by the next `run`.
pub fn reset_pairing(args: ResetPairingArgs) -> anyhow::Result<ExitCode> {
    let _lock = notch_p1::spool::lock_data_dir(&args.data_dir.join("spool"))
        .context("notch-p1 run may be using this data directory; stop it first")?;
    let identity_path = identity_path(&args.data_dir);
    let identity = Identity::open(&identity_path, &mut OsRng)?.with_new_secret(&mut OsRng);
    let state_path = state_path(&args.data_dir);
    let mut state = pairing_link::open_state(&state_path)?;
    state.reset();
    let at = state.last_said_at.map_or(Utc::now(), |last| Utc::now().max(last + chrono::Duration::milliseconds(1)));
    state.last_said_at = Some(at);
    state.outbox = Some(identity.says(at, DeviceSay::Release { reason: ReleaseReason::Reset }));
    state_file::write_private(&state_path, &state)?;
    identity.save(&identity_path)?;
    println!("the device is unpaired; its new pairing secret is {}", identity.secret_text());
    Ok(ExitCode::SUCCESS)
}

pub fn identity_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("identity.json")
}

pub fn state_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("pairing.json")
}
