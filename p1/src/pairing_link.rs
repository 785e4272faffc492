//! The device's pairing dialogue with the ledger: it follows its inbox (`device-<id>`), or while paired its
//! owner's home (`home-<owner>`, for DEVICE_DELETED), by long-polled reads
//! (`GET /streams/{id}?from=N&wait_ms=...`: catch up, then hear of each new event within moments, no busy
//! polling), answers each event once (`PairingState::react`), and sends what it says to
//! `POST /home/devices/{id}/device-messages`. What it says is saved in the state file before it is sent, and sent
//! again after a restart until the ledger has it; so a crash loses no answer and handles no event twice.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use domain::crypto::PublicKey;
use domain::home::device_inbox::SignedDeviceMessage;
use domain::home::{DeviceInbox, DeviceInboxEvent, Household, HouseholdEvent};
use domain::Aggregate;
use rand_core::OsRng;
use reqwest::StatusCode;
use serde::Deserialize;

use crate::backoff::Backoff;
use crate::pairing::{Identity, PairingState};
use crate::state_file;

/// How long one inbox read waits on the ledger for something new.
const WAIT_MS: u64 = 25_000;
/// Events read per round.
const PAGE: usize = 100;

#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The ledger's base URL, e.g. `http://ledger:8080`.
    pub ledger: String,
    pub state_path: PathBuf,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl LinkConfig {
    pub fn new(ledger: String, state_path: PathBuf) -> LinkConfig {
        LinkConfig { ledger, state_path, retry_initial: Duration::from_millis(500), retry_max: Duration::from_secs(30) }
    }
}

#[derive(Deserialize)]
struct StreamPage {
    events: Vec<StreamEvent>,
}

#[derive(Deserialize)]
struct StreamEvent {
    stream_version: i64,
    payload: serde_json::Value,
}

/// The ledger's base URL from its MAM endpoint (`http://ledger:8080/mam/messages` → `http://ledger:8080`).
pub fn ledger_base(mam_url: &str) -> anyhow::Result<String> {
    mam_url
        .trim_end_matches('/')
        .strip_suffix("/mam/messages")
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("the ledger URL {mam_url} does not end in /mam/messages"))
}

/// The device's pairing state in `path`, or a new one.
pub fn open_state(path: &std::path::Path) -> anyhow::Result<PairingState> {
    Ok(state_file::read(path)?.unwrap_or_default())
}

/// Runs until the task is dropped; every failure to reach the ledger is retried with a bounded wait.
pub async fn run(config: LinkConfig, identity: Identity, mut state: PairingState) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(WAIT_MS) + Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let mut backoff = Backoff::new(config.retry_initial, config.retry_max);
    loop {
        match round(&config, &http, &identity, &mut state).await {
            Ok(()) => backoff.reset(),
            Err(err) => {
                let delay = backoff.next_delay();
                tracing::warn!("pairing: {err:#}; again in {delay:?}");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Sends what is waiting in the outbox, then reads the inbox past what was handled and answers it.
async fn round(
    config: &LinkConfig,
    http: &reqwest::Client,
    identity: &Identity,
    state: &mut PairingState,
) -> anyhow::Result<()> {
    if let Some(message) = state.outbox.clone() {
        send(config, http, identity, &message).await?;
        state.outbox = None;
        state_file::write_private(&config.state_path, state)?;
    }
    // Paired, the device hears from its owner's home (the ledger refuses other claimants itself); unpaired, from
    // its inbox.
    let (stream, from) = match &state.paired_with {
        Some(owner) => (Household::stream_id(&PublicKey::from_hex(owner)?), state.home_version + 1),
        None => (DeviceInbox::stream_id(identity.device_id()), state.inbox_version + 1),
    };
    let url = format!("{}/streams/{stream}?from={from}&limit={PAGE}&wait_ms={WAIT_MS}", config.ledger);
    let page: StreamPage = http.get(&url).send().await?.error_for_status()?.json().await?;
    for event in page.events {
        let said = if state.paired_with.is_some() {
            let parsed: HouseholdEvent = parse(event.payload, "home")?;
            state.react_home(identity, event.stream_version, &parsed, Utc::now())
        } else {
            let parsed: DeviceInboxEvent = parse(event.payload, "inbox")?;
            state.react(identity, event.stream_version, &parsed, Utc::now(), &mut OsRng)
        };
        // Saved before the message leaves, so a crash resends it rather than answering the event again.
        if let Some(message) = said {
            state_file::write_private(&config.state_path, state)?;
            send(config, http, identity, &message).await?;
            state.outbox = None;
        }
    }
    // Events that said nothing are handled again after a crash before this, harmlessly: they say nothing again.
    state_file::write_private(&config.state_path, state)?;
    Ok(())
}

fn parse<E: serde::de::DeserializeOwned>(payload: serde_json::Value, stream: &str) -> anyhow::Result<E> {
    serde_json::from_value(payload).with_context(|| format!("the ledger sent a {stream} event this device cannot read"))
}

/// Posts the device's message: done once the ledger has it or refuses it for good (4xx, logged: a repeat of a
/// message it already took after a lost answer is refused as stale); any other failure is the caller's to retry.
async fn send(
    config: &LinkConfig,
    http: &reqwest::Client,
    identity: &Identity,
    message: &SignedDeviceMessage,
) -> anyhow::Result<()> {
    let url = format!("{}/home/devices/{}/device-messages", config.ledger, identity.device_id());
    let response = http.post(&url).json(message).send().await?;
    let status = response.status();
    if status == StatusCode::CREATED {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    if status.is_client_error() {
        tracing::warn!(%status, "pairing: the ledger refused the device's message: {body}");
        return Ok(());
    }
    anyhow::bail!("the ledger answered {status}: {body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_base_is_the_mam_endpoint_without_its_path() {
        assert_eq!(ledger_base("http://ledger:8080/mam/messages").unwrap(), "http://ledger:8080");
        assert_eq!(ledger_base("https://l.example/notch/mam/messages/").unwrap(), "https://l.example/notch");
        let err = ledger_base("http://ledger:8080/").unwrap_err().to_string();
        assert!(err.contains("does not end in /mam/messages"), "{err}");
    }
}
