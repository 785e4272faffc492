//! Each message of the consent dialogues goes through the shared command runner into its aggregate's stream,
//! stamped with the ledger's clock: a device's inbox (`device-<id>`), a household (`home-<owner hex>`) or a
//! provider's inbox (`provider-<key hex>`).

use chrono::Utc;
use domain::home::device_inbox::{DeviceInboxCommand, SignedClaimantMessage, SignedDeviceMessage};
use domain::home::household::{HouseholdCommand, SignedDecision, SignedTermination};
use domain::home::provider_inbox::{PolicyFact, ProviderInboxCommand, SignedHandover};
use domain::home::{DeviceInbox, HomeError, Household, ProviderInbox};
use domain::DomainEvent;
use events::Store;

use crate::command::{execute, load, CommandError, Executed};

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
}

impl HomeService {
    pub fn new(store: Store) -> HomeService {
        HomeService { store }
    }

    /// A claimant's message to the device it names (CLAIM_DEVICE, ANSWER_CHALLENGE).
    pub async fn claimant_says(&self, message: SignedClaimantMessage) -> Result<Accepted, CommandError<HomeError>> {
        let device_id = message.document.device_id.clone();
        let command = DeviceInboxCommand::FromClaimant { message, now: Utc::now() };
        let executed = execute::<DeviceInbox>(&self.store, &device_id, command).await?;
        Ok(accepted(<DeviceInbox as domain::Aggregate>::stream_id(&device_id), executed))
    }

    /// The device's message to its own inbox (CHALLENGE, CLAIM_RESULT, its release).
    pub async fn device_says(&self, message: SignedDeviceMessage) -> Result<Accepted, CommandError<HomeError>> {
        let device_id = message.document.device_id.clone();
        let command = DeviceInboxCommand::FromDevice { message, now: Utc::now() };
        let executed = execute::<DeviceInbox>(&self.store, &device_id, command).await?;
        Ok(accepted(<DeviceInbox as domain::Aggregate>::stream_id(&device_id), executed))
    }

    /// An owner decision for the home it names.
    pub async fn decide(&self, decision: SignedDecision) -> Result<Accepted, CommandError<HomeError>> {
        let home = decision.document.home;
        let command = HouseholdCommand::Decide { decision, now: Utc::now() };
        let executed = execute::<Household>(&self.store, &home, command).await?;
        Ok(accepted(<Household as domain::Aggregate>::stream_id(&home), executed))
    }

    /// A device hands a provider the channel of a policy: checked against the policy as the owner's home has it.
    pub async fn hand_over(&self, handover: SignedHandover) -> Result<Accepted, CommandError<HomeError>> {
        let (home, provider, policy_id) =
            (handover.document.home, handover.document.provider, handover.document.policy_id);
        let household = load::<Household>(&self.store, &home).await?.state;
        let policy = household.policies.get(&policy_id).map(|policy| PolicyFact {
            device_id: policy.device_id.clone(),
            provider_key: policy.provider_key,
            status: policy.status_at(Utc::now()),
        });
        let command = ProviderInboxCommand::Deliver { handover, policy, now: Utc::now() };
        let executed = execute::<ProviderInbox>(&self.store, &provider, command).await?;
        Ok(accepted(<ProviderInbox as domain::Aggregate>::stream_id(&provider), executed))
    }

    /// A provider ends its own policy in the home the termination names.
    pub async fn terminate(&self, termination: SignedTermination) -> Result<Accepted, CommandError<HomeError>> {
        let home = termination.document.home;
        let command = HouseholdCommand::Terminate { termination, now: Utc::now() };
        let executed = execute::<Household>(&self.store, &home, command).await?;
        Ok(accepted(<Household as domain::Aggregate>::stream_id(&home), executed))
    }
}

fn accepted<E: DomainEvent>(stream_id: String, executed: Executed<E>) -> Accepted {
    Accepted {
        stream_id,
        events: executed.events.iter().map(DomainEvent::event_type).collect(),
        version: executed.version,
        position: executed.last_position,
    }
}
