//! The device's pairing dialogue with the ledger: it follows its inbox (`device-<id>`), or while paired its
//! owner's home (`home-<owner>`, for DEVICE_DELETED), by long-polled reads
//! (`GET /streams/{id}?from=N&wait_ms=...`: catch up, then hear of each new event within moments, no busy
//! polling), answers each event once (`PairingState::react`), and sends what it says to
//! `POST /home/devices/{id}/device-messages`. What it says is saved in the state file before it is sent, and sent
//! again after a restart until the ledger has it; so a crash loses no answer and handles no event twice.
//!
//! While paired it also keeps the scope channels in step with the policies (`ScopeChannels::reconcile`: grants,
//! rotations on revocation, termination, deletion and expiry) and hands each grant to its provider
//! (`POST /home/providers/{key}/handovers`). A read waits no longer than the next start or end of a policy, so an
//! expiry rotates the channel within moments of `until` without any event.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
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
use crate::scope_channels::ScopeChannels;
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
pub async fn run(
    config: LinkConfig,
    identity: Identity,
    mut state: PairingState,
    scopes: Arc<Mutex<ScopeChannels>>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(WAIT_MS) + Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let mut backoff = Backoff::new(config.retry_initial, config.retry_max);
    loop {
        let link = Link { config: &config, http: &http, identity: &identity, scopes: &scopes };
        match link.round(&mut state).await {
            Ok(()) => backoff.reset(),
            Err(err) => {
                let delay = backoff.next_delay();
                tracing::warn!("pairing: {err:#}; again in {delay:?}");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// What a round works with.
struct Link<'a> {
    config: &'a LinkConfig,
    http: &'a reqwest::Client,
    identity: &'a Identity,
    scopes: &'a Mutex<ScopeChannels>,
}

impl Link<'_> {
    /// Sends what is waiting, brings the channels in step with the policies, then reads the inbox (or the home)
    /// past what was handled and answers it.
    async fn round(&self, state: &mut PairingState) -> anyhow::Result<()> {
        if let Some(message) = state.outbox.clone() {
            send(self.config, self.http, self.identity, &message).await?;
            state.outbox = None;
            state_file::write_private(&self.config.state_path, state)?;
        }
        self.reconcile(state)?;
        self.hand_over(state).await?;
        let page = self.read(state).await?;
        for event in page.events {
            let said = if state.paired_with.is_some() {
                let parsed: HouseholdEvent = parse(event.payload, "home")?;
                let said = state.react_home(self.identity, event.stream_version, &parsed, Utc::now());
                self.reconcile(state)?;
                said
            } else {
                let parsed: DeviceInboxEvent = parse(event.payload, "inbox")?;
                state.react(self.identity, event.stream_version, &parsed, Utc::now(), &mut OsRng)
            };
            // Saved before the message leaves, so a crash resends it rather than answering the event again.
            if let Some(message) = said {
                state_file::write_private(&self.config.state_path, state)?;
                send(self.config, self.http, self.identity, &message).await?;
                state.outbox = None;
            }
        }
        // Events that said nothing are handled again after a crash before this, harmlessly: they say nothing again.
        state_file::write_private(&self.config.state_path, state)?;
        self.hand_over(state).await
    }

    /// One page of the stream this device follows: its owner's home while paired (the ledger refuses other
    /// claimants itself), else its inbox; waiting at most until the next start or end of a policy.
    async fn read(&self, state: &PairingState) -> anyhow::Result<StreamPage> {
        let (stream, from) = match &state.paired_with {
            Some(owner) => (Household::stream_id(&PublicKey::from_hex(owner)?), state.home_version + 1),
            None => (DeviceInbox::stream_id(self.identity.device_id()), state.inbox_version + 1),
        };
        let now = Utc::now();
        let until_boundary = state.policies.next_boundary(now).map(|t| (t - now).num_milliseconds().max(0) as u64 + 50);
        let wait_ms = until_boundary.map_or(WAIT_MS, |ms| ms.min(WAIT_MS));
        let url = format!("{}/streams/{stream}?from={from}&limit={PAGE}&wait_ms={wait_ms}", self.config.ledger);
        Ok(self.http.get(&url).send().await?.error_for_status()?.json().await?)
    }

    fn reconcile(&self, state: &PairingState) -> anyhow::Result<()> {
        self.scopes.lock().expect("scopes lock").reconcile(&state.policies, Utc::now(), &mut OsRng)
    }

    /// Hands every waiting grant to its provider, oldest first; a grant the ledger refuses for good (the policy
    /// ended meanwhile, or it has it already) is dropped with a warning.
    async fn hand_over(&self, state: &mut PairingState) -> anyhow::Result<()> {
        let unsent = self.scopes.lock().expect("scopes lock").unsent();
        for (scope, grant) in unsent {
            if let Some(home) = state.paired_with.as_deref() {
                let handover =
                    self.identity.hands_over(PublicKey::from_hex(home)?, &grant, state.next_at(Utc::now()))?;
                let url = format!("{}/home/providers/{}/handovers", self.config.ledger, grant.provider_key);
                post(self.http, &url, &handover, "hand-over").await?;
            }
            self.scopes.lock().expect("scopes lock").sent(&scope, grant.policy_id)?;
        }
        Ok(())
    }
}

fn parse<E: serde::de::DeserializeOwned>(payload: serde_json::Value, stream: &str) -> anyhow::Result<E> {
    serde_json::from_value(payload).with_context(|| format!("the ledger sent a {stream} event this device cannot read"))
}

/// Posts the device's message to its inbox.
async fn send(
    config: &LinkConfig,
    http: &reqwest::Client,
    identity: &Identity,
    message: &SignedDeviceMessage,
) -> anyhow::Result<()> {
    let url = format!("{}/home/devices/{}/device-messages", config.ledger, identity.device_id());
    post(http, &url, message, "message").await
}

/// Done once the ledger has it or refuses it for good (4xx but `contended` and 429, logged: a repeat of a message it
/// already took after a lost answer is refused as stale or as had already); any other failure is the caller's to
/// retry.
async fn post(http: &reqwest::Client, url: &str, body: &impl serde::Serialize, what: &str) -> anyhow::Result<()> {
    let response = http.post(url).json(body).send().await?;
    let status = response.status();
    if status == StatusCode::CREATED {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    // A busy stream (`contended`) or a full ledger (429) is worth another try; any other 4xx is for good.
    let code =
        serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["code"].as_str().map(str::to_owned));
    let busy = status == StatusCode::TOO_MANY_REQUESTS || code.as_deref() == Some("contended");
    if status.is_client_error() && !busy {
        tracing::warn!(%status, "pairing: the ledger refused the device's {what}: {body}");
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
