//! A provider inbox's rules: a hand-over is signed by the device its id is made of, in time and in order, for an
//! active policy of that device granted to this provider, once per policy and channel, with a bounded grant.

use chrono::{DateTime, Utc};

use super::commands::{PolicyFact, ProviderInboxCommand, SignedHandover};
use super::events::ProviderInboxEvent;
use super::state::ProviderInboxState;
use super::ProviderInbox;
use crate::home::error::HomeError;
use crate::home::household::PolicyStatus;
use crate::home::rules::{device_key_is_ids, in_window, is_hex_at_most, is_hex_bytes};
use crate::Decider;

/// Channels one policy may be handed over on (a device that starts over makes a new channel).
pub const MAX_HANDOVERS_PER_POLICY: usize = 16;
/// Bytes of a grant (hex doubles them): a grant is a few hundred.
pub const MAX_GRANT_BYTES: usize = 4096;

impl Decider for ProviderInbox {
    type State = ProviderInboxState;
    type Command = ProviderInboxCommand;
    type Event = ProviderInboxEvent;
    type Error = HomeError;

    fn decide(state: &ProviderInboxState, command: ProviderInboxCommand) -> Result<Vec<ProviderInboxEvent>, HomeError> {
        match command {
            ProviderInboxCommand::Deliver { handover, policy, now } => deliver(state, handover, policy, now),
        }
    }

    fn evolve(state: ProviderInboxState, event: &ProviderInboxEvent) -> ProviderInboxState {
        state.evolve(event)
    }
}

fn deliver(
    state: &ProviderInboxState,
    signed: SignedHandover,
    policy: Option<PolicyFact>,
    now: DateTime<Utc>,
) -> Result<Vec<ProviderInboxEvent>, HomeError> {
    let handover = &signed.document;
    if state.provider.is_some_and(|provider| provider != handover.provider) {
        return Err(HomeError::BadRequest("this hand-over is for another provider's inbox".into()));
    }
    device_key_is_ids(&handover.device_id, &handover.device_key)?;
    signed.verify(&handover.device_key).map_err(|e| HomeError::BadSignature(format!("hand-over: {e}")))?;
    in_window(handover.at, now)?;
    check_policy(policy, &signed)?;
    // Before the order check: a device sending a hand-over again after a lost answer learns it was taken.
    check_grant(state, &signed)?;
    if state.last_at.get(&handover.device_id).is_some_and(|last| handover.at <= *last) {
        return Err(HomeError::Stale {
            at: handover.at,
            why: "the device handed over something at this time or after it",
        });
    }
    Ok(vec![ProviderInboxEvent::GrantHandedOver { handover: signed }])
}

/// The policy is the device's, for this provider, and active.
fn check_policy(policy: Option<PolicyFact>, signed: &SignedHandover) -> Result<(), HomeError> {
    let handover = &signed.document;
    let policy = policy.ok_or(HomeError::UnknownPolicy(handover.policy_id))?;
    if policy.device_id != handover.device_id || policy.provider_key != handover.provider {
        return Err(HomeError::BadRequest("the policy is not this device's for this provider".into()));
    }
    if policy.status != PolicyStatus::Active {
        return Err(HomeError::PolicyEnded { policy_id: handover.policy_id, status: policy.status.as_str() });
    }
    Ok(())
}

fn check_grant(state: &ProviderInboxState, signed: &SignedHandover) -> Result<(), HomeError> {
    let handover = &signed.document;
    if !is_hex_bytes(&handover.channel, 32) || !is_hex_at_most(&handover.grant, MAX_GRANT_BYTES) {
        return Err(HomeError::BadRequest(format!(
            "a hand-over names a 32-byte channel and a grant of at most {MAX_GRANT_BYTES} bytes, hex"
        )));
    }
    let channels = state.handed_over.get(&handover.policy_id).map(Vec::as_slice).unwrap_or_default();
    if channels.contains(&handover.channel) {
        return Err(HomeError::HandedOver(handover.policy_id));
    }
    if channels.len() >= MAX_HANDOVERS_PER_POLICY {
        return Err(HomeError::TooMany { what: "hand-overs per policy", most: MAX_HANDOVERS_PER_POLICY });
    }
    Ok(())
}
