//! Each message of the consent dialogues goes through the shared command runner into its aggregate's stream,
//! stamped with the ledger's clock: a device's inbox (`device-<id>`), a household (`home-<owner hex>`) or a
//! provider's inbox (`provider-<key hex>`).

use std::sync::Arc;

use chrono::Utc;
use domain::home::device_inbox::{DeviceInboxCommand, SignedClaimantMessage, SignedDeviceMessage};
use domain::home::household::{HouseholdCommand, SignedDecision, SignedTermination};
use domain::home::provider_inbox::{PolicyFact, ProviderInboxCommand, SignedHandover};
use domain::home::ProviderInboxState;
use domain::home::{DeviceInbox, HomeError, Household, ProviderInbox};
use domain::{Aggregate, DomainEvent};
use events::Store;

use crate::command::{execute, load, CommandError, Executed, Serialised};

/// Locks that serialise hand-overs to one provider's inbox in this process (every device granting a provider
/// writes to its one inbox stream).
const INBOX_STRIPES: usize = 64;
/// Provider inboxes whose head is cached.
const CACHED_INBOXES: usize = 10_000;

/// What a dialogue message became: the events' types, and the stream's version and log position after them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Accepted {
    pub stream_id: String,
    pub events: Vec<&'static str>,
    pub version: i64,
    pub position: Option<i64>,
}

#[derive(Clone)]
pub struct HomeService {
    store: Store,
    /// Hand-overs to a provider's inbox, one at a time per inbox.
    inboxes: Arc<Serialised<ProviderInboxState>>,
}

impl HomeService {
    pub fn new(store: Store) -> HomeService {
        HomeService { store, inboxes: Arc::new(Serialised::new(INBOX_STRIPES, CACHED_INBOXES)) }
    }

    /// A claimant's message to the device it names (CLAIM_DEVICE, ANSWER_CHALLENGE).
    pub async fn claimant_says(&self, message: SignedClaimantMessage) -> Result<Accepted, CommandError<HomeError>> {
        let device_id = message.document.device_id.clone();
        self.run::<DeviceInbox>(&device_id, DeviceInboxCommand::FromClaimant { message, now: Utc::now() }).await
    }

    /// The device's message to its own inbox (CHALLENGE, CLAIM_RESULT, its release).
    pub async fn device_says(&self, message: SignedDeviceMessage) -> Result<Accepted, CommandError<HomeError>> {
        let device_id = message.document.device_id.clone();
        self.run::<DeviceInbox>(&device_id, DeviceInboxCommand::FromDevice { message, now: Utc::now() }).await
    }

    /// An owner decision for the home it names.
    pub async fn decide(&self, decision: SignedDecision) -> Result<Accepted, CommandError<HomeError>> {
        let home = decision.document.home;
        self.run::<Household>(&home, HouseholdCommand::Decide { decision, now: Utc::now() }).await
    }

    /// A device hands a provider the channel of a policy: checked against the policy as the owner's home has it.
    pub async fn hand_over(&self, handover: SignedHandover) -> Result<Accepted, CommandError<HomeError>> {
        let (home, provider, policy_id) =
            (handover.document.home, handover.document.provider, handover.document.policy_id);
        let now = Utc::now();
        let household = load::<Household>(&self.store, &home).await?.state;
        let policy = household.policies.get(&policy_id).map(|policy| PolicyFact {
            device_id: policy.device_id.clone(),
            provider_key: policy.provider_key,
            status: policy.status_at(now),
        });
        let stream_id = ProviderInbox::stream_id(&provider);
        let command = ProviderInboxCommand::Deliver { handover, policy, now };
        let executed = self.inboxes.execute::<ProviderInbox>(&self.store, &stream_id, command).await?;
        Ok(accepted(stream_id, &executed))
    }

    /// A provider ends its own policy in the home the termination names.
    pub async fn terminate(&self, termination: SignedTermination) -> Result<Accepted, CommandError<HomeError>> {
        let home = termination.document.home;
        self.run::<Household>(&home, HouseholdCommand::Terminate { termination, now: Utc::now() }).await
    }

    /// The command through the shared runner, and what it became.
    async fn run<A>(&self, id: &A::Id, command: A::Command) -> Result<Accepted, CommandError<HomeError>>
    where
        A: Aggregate<Error = HomeError>,
        A::Command: Clone,
    {
        let executed = execute::<A>(&self.store, id, command).await?;
        Ok(accepted(A::stream_id(id), &executed))
    }
}

fn accepted<E: DomainEvent>(stream_id: String, executed: &Executed<E>) -> Accepted {
    Accepted {
        stream_id,
        events: executed.events.iter().map(DomainEvent::event_type).collect(),
        version: executed.version,
        position: executed.last_position,
    }
}
