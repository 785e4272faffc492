//! `notch-p1 channel ...`: the owner's channel operations (run them while the service is
//! stopped; the spool admits one process at a time).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use mam::ProviderPublicKey;
use notch_p1::device::Device;
use notch_p1::spool::SpoolConfig;

#[derive(clap::Subcommand)]
pub enum ChannelCommand {
    /// Print the channel's public key, next index and epoch (creating the channel if needed).
    Show {
        #[arg(long, env = "NOTCH_P1_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Give a provider access from the next message on; prints the grant as hex.
    Grant {
        #[arg(long, env = "NOTCH_P1_DATA_DIR")]
        data_dir: PathBuf,
        /// The provider's X25519 public key, hex.
        #[arg(long)]
        provider: String,
    },
    /// New side key; only the listed providers receive it (spools a KEY_ROTATION message).
    Rotate {
        #[arg(long, env = "NOTCH_P1_DATA_DIR")]
        data_dir: PathBuf,
        /// X25519 public keys (hex) of the providers that keep access.
        #[arg(long = "keep")]
        keep: Vec<String>,
    },
}

fn open(data_dir: &std::path::Path) -> anyhow::Result<Device> {
    Device::open(&data_dir.join("channel.json"), SpoolConfig::new(data_dir.join("spool")), &mut rand_core::OsRng)
}

fn provider_key(text: &str) -> anyhow::Result<ProviderPublicKey> {
    ProviderPublicKey::from_hex(text).with_context(|| format!("{text:?} is not a 32-byte hex X25519 public key"))
}

pub fn run(command: ChannelCommand) -> anyhow::Result<ExitCode> {
    match command {
        ChannelCommand::Show { data_dir } => {
            let device = open(&data_dir)?;
            println!(
                "{}",
                serde_json::json!({
                    "channel": hex::encode(device.channel_public_key()),
                    "next_index": device.next_index(),
                    "epoch": device.epoch(),
                })
            );
        }
        ChannelCommand::Grant { data_dir, provider } => {
            let device = open(&data_dir)?;
            let grant = device.grant(&provider_key(&provider)?, &mut rand_core::OsRng)?;
            println!("{}", hex::encode(grant.to_bytes()));
        }
        ChannelCommand::Rotate { data_dir, keep } => {
            let keep = keep.iter().map(|k| provider_key(k)).collect::<anyhow::Result<Vec<_>>>()?;
            let mut device = open(&data_dir)?;
            let index = device.rotate(&keep, &mut rand_core::OsRng)?;
            println!("{}", serde_json::json!({"rotation_index": index, "epoch": device.epoch()}));
        }
    }
    Ok(ExitCode::SUCCESS)
}
