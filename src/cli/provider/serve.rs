//! `notch provider serve`: the provider's own process. Its own data directory, embedded PostgreSQL and signed log
//! (never the ledger's): it follows its inbox on the ledger (`provider-<key>`, long-polled), checks each hand-over
//! with its own keys, opens the policy's channel (`readings-<policy id>`: ChannelOpened) and follows that channel's
//! messages on the ledger (`channel-<key>`, long-polled: catch up, then live), decrypting each and storing its
//! reading (ReadingStored) until a KEY_ROTATION leaves it out (ChannelClosed). `report.provider_readings` shows
//! them.
//!
//! After a restart it walks each open channel again from its grant (the side keys live only in memory) and the
//! policy's stream refuses what it stored already, so nothing is stored twice and nothing is lost.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::command::{execute, execute_from, load, CommandError, Loaded};
use chrono::Utc;
use domain::crypto::PublicKey;
use domain::home::policy_readings::{ClosedBecause, Opening, PolicyReadingsCommand, ReadingValues};
use domain::home::provider_inbox::SignedHandover;
use domain::home::{ChannelLog, HomeError, PolicyReadings, PolicyReadingsState, ProviderInbox, ProviderInboxEvent};
use domain::Aggregate;
use events::Store;
use mam::{Envelope, Grant, Kind, MamError, ProviderKeyPair, Reader};
use notch_p1::backoff::Backoff;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use uuid::Uuid;

use super::super::ledger_client::Ledger;
use super::super::node::{DbArgs, Node};
use super::opens;

/// Channels followed at once (one long-polled read each; the ledger lets 10,000 wait).
pub const MAX_CHANNELS: usize = 5_000;
/// The waits between attempts to reach the ledger or the provider's own log: from this, doubling, up to that.
const RETRY_INITIAL: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// Attempts to store one reading in the provider's own log.
const RECORD_ATTEMPTS: u32 = 30;

pub async fn run(
    keys: (ed25519_dalek::SigningKey, ProviderKeyPair),
    db: DbArgs,
    ledger: &str,
) -> anyhow::Result<ExitCode> {
    let node = Node::open(&db, 8).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let runners: Vec<_> = projections::all()
        .into_iter()
        .map(|projection| tokio::spawn(projections::run(node.store.clone(), projection, stop_rx.clone())))
        .collect();
    let provider = Provider::new(node.store.clone(), ledger, &keys.0, &keys.1, None)?;
    let inbox = tokio::spawn(provider.clone().follow_inbox());
    tracing::info!(provider = provider.key.to_hex(), "the provider is reading its inbox; stop with Ctrl-C or SIGTERM");
    tokio::select! {
        stopped = super::super::serve::wait_for_stop_signal() => stopped?,
        ended = inbox => anyhow::bail!("the inbox reader stopped: {ended:?}"),
    }
    let _ = stop_tx.send(true);
    for runner in runners {
        let _ = runner.await;
    }
    node.close().await;
    Ok(ExitCode::SUCCESS)
}

pub struct Provider {
    store: Store,
    ledger: Ledger,
    key: PublicKey,
    hpke: ProviderKeyPair,
    /// The channel followers started, by policy and channel (finished ones are pruned as new ones start).
    followers: Mutex<HashMap<(Uuid, String), AbortHandle>>,
    observer: Option<Observer>,
}

/// Told of each policy's first stored reading and of each channel closed, when they happen (for a benchmark).
pub type Observer = tokio::sync::mpsc::UnboundedSender<(Seen, std::time::Instant)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    FirstReading(Uuid),
    Closed(Uuid),
}

impl Provider {
    pub fn new(
        store: Store,
        ledger: &str,
        signing: &ed25519_dalek::SigningKey,
        hpke: &ProviderKeyPair,
        observer: Option<Observer>,
    ) -> anyhow::Result<Arc<Provider>> {
        Ok(Arc::new(Provider {
            store,
            ledger: Ledger::new(ledger)?,
            key: PublicKey::of(signing),
            hpke: hpke.clone(),
            followers: Mutex::new(HashMap::new()),
            observer,
        }))
    }

    /// Stops every channel follower (the inbox's task is the caller's).
    pub fn stop(&self) {
        for (_, follower) in self.followers.lock().expect("followers lock").drain() {
            follower.abort();
        }
    }

    fn seen(&self, seen: Seen) {
        if let Some(observer) = &self.observer {
            let _ = observer.send((seen, std::time::Instant::now()));
        }
    }

    /// Reads the inbox from its start (a restart opens nothing twice: the policy's stream refuses it) and then
    /// as it grows. A hand-over the provider's own log cannot take now is tried again, never skipped.
    pub async fn follow_inbox(self: Arc<Self>) {
        let stream = ProviderInbox::stream_id(&self.key);
        let mut from = 1;
        loop {
            for (version, ProviderInboxEvent::GrantHandedOver { handover }) in
                self.page(&stream, from, "the inbox").await
            {
                let mut backoff = Backoff::new(RETRY_INITIAL, RETRY_MAX);
                while let Err(err) = self.take(&handover).await {
                    let delay = backoff.next_delay();
                    tracing::warn!(policy_id = %handover.document.policy_id, "taking a hand-over: {err:#}; again in {delay:?}");
                    tokio::time::sleep(delay).await;
                }
                from = version + 1;
            }
        }
    }

    /// The next page of `stream` from `from`, waiting on the ledger; a ledger that cannot be reached is tried
    /// again with a bounded wait.
    async fn page<E: serde::de::DeserializeOwned>(&self, stream: &str, from: i64, what: &str) -> Vec<(i64, E)> {
        let mut backoff = Backoff::new(RETRY_INITIAL, RETRY_MAX);
        loop {
            match self.ledger.follow::<E>(stream, from).await {
                Ok(page) => return page,
                Err(err) => {
                    let delay = backoff.next_delay();
                    tracing::warn!("reading {what}: {err:#}; again in {delay:?}");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Opens the hand-over's channel (once) and follows it, if the hand-over checks; an error is the log's.
    async fn take(self: &Arc<Self>, handover: &SignedHandover) -> anyhow::Result<()> {
        let document = &handover.document;
        let grant = match opens(handover, &self.hpke) {
            Ok(grant) => grant,
            Err(err) => {
                tracing::warn!(policy_id = %document.policy_id, "refused a hand-over: {err:#}");
                return Ok(());
            }
        };
        let open = PolicyReadingsCommand::Open(Opening {
            policy_id: document.policy_id,
            device_id: document.device_id.clone(),
            home: document.home.to_hex(),
            channel: document.channel.clone(),
            from_index: grant.next_index,
            epoch: grant.epoch,
            at: Utc::now(),
        });
        match execute::<PolicyReadings>(&self.store, &document.policy_id, open).await {
            Ok(_) | Err(CommandError::Refused(HomeError::HandedOver(_))) => {}
            Err(CommandError::Refused(err)) => {
                tracing::warn!(policy_id = %document.policy_id, "not reading a hand-over: {err}");
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        }
        self.start_following((document.policy_id, document.channel.clone()), grant);
        Ok(())
    }

    /// A task following the channel, unless one does already or as many as the bound allows run.
    fn start_following(self: &Arc<Self>, key: (Uuid, String), grant: Grant) {
        let mut followers = self.followers.lock().expect("followers lock");
        followers.retain(|_, follower| !follower.is_finished());
        if followers.contains_key(&key) {
            return;
        }
        if followers.len() >= MAX_CHANNELS {
            tracing::error!(policy_id = %key.0, "not following: {MAX_CHANNELS} channels are followed already");
            return;
        }
        let (provider, (policy_id, channel)) = (self.clone(), key.clone());
        let follower = tokio::spawn(async move {
            if let Err(err) = provider.follow_channel(policy_id, &channel, grant).await {
                tracing::error!(%policy_id, "stopped reading a channel: {err:#}");
            }
        });
        followers.insert(key, follower.abort_handle());
    }

    /// Follows one channel from the grant until a rotation leaves this provider out.
    async fn follow_channel(&self, policy_id: Uuid, channel: &str, grant: Grant) -> anyhow::Result<()> {
        let stream_id = PolicyReadings::stream_id(&policy_id);
        let mut policy = load::<PolicyReadings>(&self.store, &policy_id).await?;
        if policy.state.closed || policy.state.channel.as_deref() != Some(channel) {
            return Ok(());
        }
        let mut reader = Reader::from_grant(&grant.channel, &grant, self.hpke.clone())?;
        let log = ChannelLog::stream_id(channel);
        let mut first = true;
        loop {
            let from = reader.next_index() as i64 + 1;
            for (_, envelope) in self.page::<Envelope>(&log, from, "the channel").await {
                let Some(command) = command_for(&mut reader, &envelope.open()?, &policy.state)? else { continue };
                let closes = matches!(command, PolicyReadingsCommand::Close { .. });
                policy = record(&self.store, &stream_id, policy, command).await?;
                if closes {
                    tracing::info!(%policy_id, "a key rotation left this provider out of the channel");
                    self.seen(Seen::Closed(policy_id));
                    return Ok(());
                }
                if std::mem::take(&mut first) {
                    self.seen(Seen::FirstReading(policy_id));
                }
            }
        }
    }
}

/// What message `sealed` means for the policy: a reading to store, the end of access, or nothing.
fn command_for(
    reader: &mut Reader,
    sealed: &mam::SealedMessage,
    state: &PolicyReadingsState,
) -> anyhow::Result<Option<PolicyReadingsCommand>> {
    let (index, at) = (sealed.index, Utc::now());
    match reader.open(sealed) {
        Ok(opened) if opened.kind == Kind::Data && index >= state.next_index => {
            let values: ReadingValues = match serde_json::from_slice(&opened.payload) {
                Ok(values) => values,
                Err(err) => {
                    tracing::warn!(index, "skipped a message that is not a scope reading: {err}");
                    return Ok(None);
                }
            };
            Ok(Some(PolicyReadingsCommand::Store { index, epoch: opened.epoch, values, at }))
        }
        Ok(_) => Ok(None),
        Err(MamError::Revoked) => {
            Ok(Some(PolicyReadingsCommand::Close { index, because: ClosedBecause::RotatedOut, at }))
        }
        Err(err) => Err(anyhow::anyhow!("message {index} does not open: {err}")),
    }
}

/// Appends the command's events from the state the follower holds; a reading stored before a restart is passed,
/// and a failure of the provider's own database is retried (a bounded number of times).
async fn record(
    store: &Store,
    stream_id: &str,
    policy: Loaded<PolicyReadingsState>,
    command: PolicyReadingsCommand,
) -> anyhow::Result<Loaded<PolicyReadingsState>> {
    let mut backoff = Backoff::new(RETRY_INITIAL, RETRY_MAX);
    for _ in 0..RECORD_ATTEMPTS {
        match execute_from::<PolicyReadings>(store, stream_id, Some(policy.clone()), command.clone()).await {
            Ok((_, after)) => return Ok(after),
            Err(CommandError::Refused(HomeError::AlreadyStored { .. })) => return Ok(policy),
            Err(CommandError::Log(err)) if err.is_transient() => {
                let delay = backoff.next_delay();
                tracing::warn!("storing a reading: {err}; again in {delay:?}");
                tokio::time::sleep(delay).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
    anyhow::bail!("the provider's database kept failing over {RECORD_ATTEMPTS} attempts")
}
