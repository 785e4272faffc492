//! `notch home pair DEVICE_ID --secret S`: the owner's half of the pairing dialogue. Claim the device, wait for its
//! challenge, answer it with the HMAC of the secret, wait for its verdict, and record the device in the home with
//! the device's signed acceptance.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::Utc;
use domain::crypto::{PublicKey, Signed};
use domain::home::device_inbox::{
    answer_mac, ClaimantMessage, ClaimantSay, DeviceSay, SignedDeviceMessage, CHALLENGE_BYTES,
};
use domain::home::household::Act;
use domain::home::{DeviceInbox, DeviceInboxEvent, Household};
use domain::Aggregate;
use ed25519_dalek::SigningKey;

use crate::cli::ledger_client::Ledger;

#[derive(clap::Args)]
pub struct PairArgs {
    /// The device id `notch-p1 pairing-code` shows.
    device_id: String,
    /// The pairing secret it shows (spaces, dashes and case do not matter).
    #[arg(long, env = "NOTCH_PAIRING_SECRET", hide_env_values = true)]
    secret: String,
    /// How long to wait for the device at each step.
    #[arg(long, default_value = "60s")]
    timeout: humantime::Duration,
}

pub async fn run(ledger: &Ledger, owner: &SigningKey, args: PairArgs) -> anyhow::Result<ExitCode> {
    let secret = notch_p1::pairing::parse_secret(&args.secret).map_err(anyhow::Error::msg)?;
    let device_id = args.device_id.trim();
    pair(ledger, owner, device_id, &secret, args.timeout.into()).await?;
    let home = Household::stream_id(&PublicKey::of(owner));
    println!("paired device {device_id} with home {home}");
    Ok(ExitCode::SUCCESS)
}

/// The whole pairing dialogue: claim, answer the device's challenge with the secret, record the device.
pub async fn pair(
    ledger: &Ledger,
    owner: &SigningKey,
    device_id: &str,
    secret: &[u8],
    timeout: std::time::Duration,
) -> anyhow::Result<()> {
    let inbox = DeviceInbox::stream_id(device_id);
    let mut dialogue = Dialogue { ledger, owner, device_id: device_id.to_owned(), inbox, timeout, next: 0 };
    dialogue.next = ledger.stream::<DeviceInboxEvent>(&dialogue.inbox).await?.len() as i64 + 1;

    dialogue.say(ClaimantSay::Claim).await?;
    let challenge = match dialogue.device_answer().await? {
        (_, DeviceSay::Challenge { challenge, .. }) => challenge,
        (_, other) => bail!("the device answered the claim with {other:?}"),
    };
    let bytes: [u8; CHALLENGE_BYTES] = hex::decode(&challenge)
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("the device's challenge is not 32 bytes")?;
    let mac = answer_mac(secret, &bytes, &PublicKey::of(owner), &dialogue.device_id);
    dialogue.say(ClaimantSay::Answer { challenge, mac: hex::encode(mac) }).await?;
    let accept = match dialogue.device_answer().await? {
        (message, DeviceSay::Accept { .. }) => message,
        (_, other) => bail!("the device answered with {other:?}"),
    };
    super::post_decision(ledger, owner, Act::AddDevice { pairing: accept }).await?;
    Ok(())
}

struct Dialogue<'a> {
    ledger: &'a Ledger,
    owner: &'a SigningKey,
    device_id: String,
    inbox: String,
    timeout: std::time::Duration,
    /// The inbox version to read from.
    next: i64,
}

impl Dialogue<'_> {
    async fn say(&self, say: ClaimantSay) -> anyhow::Result<()> {
        let owner = PublicKey::of(self.owner);
        let message = ClaimantMessage { device_id: self.device_id.clone(), owner, at: Utc::now(), say };
        let path = format!("/home/devices/{}/claimant-messages", self.device_id);
        self.ledger.post(&path, &Signed::sign(self.owner, message)?).await?;
        Ok(())
    }

    /// The device's next word to this owner: its challenge or its verdict; a refusal is an error that says why.
    async fn device_answer(&mut self) -> anyhow::Result<(SignedDeviceMessage, DeviceSay)> {
        let deadline = Instant::now() + self.timeout;
        while Instant::now() < deadline {
            for (version, event) in self.ledger.follow::<DeviceInboxEvent>(&self.inbox, self.next).await? {
                self.next = version + 1;
                if let Some(answer) = self.to_this_owner(event) {
                    return answer;
                }
            }
        }
        bail!(
            "device {} did not answer within {:?}: is notch-p1 running and reaching this ledger?",
            self.device_id,
            self.timeout
        )
    }

    fn to_this_owner(&self, event: DeviceInboxEvent) -> Option<anyhow::Result<(SignedDeviceMessage, DeviceSay)>> {
        let me = PublicKey::of(self.owner);
        let message = match event {
            DeviceInboxEvent::ChallengeIssued { message }
            | DeviceInboxEvent::PairingAccepted { message }
            | DeviceInboxEvent::PairingRefused { message } => message,
            _ => return None,
        };
        let say = message.document.say.clone();
        match &say {
            DeviceSay::Challenge { owner, .. } | DeviceSay::Accept { owner, .. } if *owner == me => {
                Some(Ok((message, say)))
            }
            DeviceSay::Refuse { owner, reason, failures } if *owner == me => {
                let reason = serde_json::to_value(reason).ok().and_then(|r| r.as_str().map(str::to_owned));
                let reason = reason.unwrap_or_default();
                Some(Err(anyhow::anyhow!("the device refused the claim: {reason} ({failures} wrong answers so far)")))
            }
            _ => None,
        }
    }
}
