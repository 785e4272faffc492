//! A household's rules: only the owner decides, each decision once and in time order, consent only for the
//! home's own devices and within the provider's signed request, and deleting a device ends all its policies.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::commands::{Act, HouseholdCommand, SignedDecision, SignedTermination};
use super::events::{HouseholdEvent, RevocationReason};
use super::state::{HouseholdState, PolicyStatus};
use super::Household;
use crate::crypto::PublicKey;
use crate::home::consent::{Scope, SignedConsentRequest};
use crate::home::device_inbox::{DeviceSay, SignedDeviceMessage};
use crate::home::error::HomeError;
use crate::home::rules::{device_key_is_ids, in_window};
use crate::Decider;

pub use crate::home::rules::DECISION_WINDOW_SECONDS;
pub const MAX_DEVICES: usize = 32;
/// Policies a home ever granted (ended ones stay on record).
pub const MAX_POLICIES: usize = 4096;
/// A device publishes one channel per distinct scope of its active policies.
pub const MAX_SCOPES_PER_DEVICE: usize = 4;
pub const MAX_REASON_CHARS: usize = 500;

impl Decider for Household {
    type State = HouseholdState;
    type Command = HouseholdCommand;
    type Event = HouseholdEvent;
    type Error = HomeError;

    fn decide(state: &HouseholdState, command: HouseholdCommand) -> Result<Vec<HouseholdEvent>, HomeError> {
        match command {
            HouseholdCommand::Decide { decision, now } => {
                check_decision(state, &decision, now)?;
                match decision.document.act.clone() {
                    Act::AddDevice { pairing } => add_device(state, pairing, decision, now),
                    Act::Authorize { policy_id, device_id, request } => {
                        authorize(state, policy_id, device_id, request, decision, now)
                    }
                    Act::Deny { request } => deny(state, request, decision, now),
                    Act::Revoke { policy_id, reason } => revoke(state, policy_id, reason, decision, now),
                    Act::DeleteDevice { device_id } => delete_device(state, device_id, decision, now),
                }
            }
            HouseholdCommand::Terminate { termination, now } => terminate(state, termination, now),
        }
    }

    fn evolve(state: HouseholdState, event: &HouseholdEvent) -> HouseholdState {
        state.evolve(event)
    }
}

/// Signed by the home's owner, within the window of `now`, and after the home's last decision.
fn check_decision(state: &HouseholdState, signed: &SignedDecision, now: DateTime<Utc>) -> Result<(), HomeError> {
    let decision = &signed.document;
    if let Some(owner) = &state.owner {
        if *owner != decision.home {
            return Err(HomeError::WrongHome { expected: owner.to_hex(), got: decision.home.to_hex() });
        }
    }
    signed.verify(&decision.home).map_err(|e| HomeError::BadSignature(format!("owner decision: {e}")))?;
    in_window(decision.at, now)?;
    if state.last_decision_at.is_some_and(|last| decision.at <= last) {
        return Err(HomeError::Stale { at: decision.at, why: "the home has a decision at this time or after it" });
    }
    Ok(())
}

fn add_device(
    state: &HouseholdState,
    pairing: SignedDeviceMessage,
    decision: SignedDecision,
    now: DateTime<Utc>,
) -> Result<Vec<HouseholdEvent>, HomeError> {
    let proof = &pairing.document;
    device_key_is_ids(&proof.device_id, &proof.device_key)?;
    pairing.verify(&proof.device_key).map_err(|e| HomeError::BadSignature(format!("pairing proof: {e}")))?;
    match &proof.say {
        DeviceSay::Accept { owner, .. } if *owner == decision.document.home => {}
        DeviceSay::Accept { .. } => {
            return Err(HomeError::BadRequest("the device accepted another owner's claim".into()));
        }
        _ => return Err(HomeError::BadRequest("a pairing proof is the device's accept of the claim".into())),
    }
    in_window(proof.at, now)?;
    let device_id = proof.device_id.clone();
    if state.devices.contains_key(&device_id) {
        return Err(HomeError::DeviceAlreadyAdded(device_id));
    }
    if state.devices.len() >= MAX_DEVICES {
        return Err(HomeError::TooMany { what: "devices per home", most: MAX_DEVICES });
    }
    Ok(vec![HouseholdEvent::DeviceAdded { device_id, device_key: proof.device_key, pairing, decision }])
}

fn authorize(
    state: &HouseholdState,
    policy_id: Uuid,
    device_id: String,
    request: SignedConsentRequest,
    decision: SignedDecision,
    now: DateTime<Utc>,
) -> Result<Vec<HouseholdEvent>, HomeError> {
    request.check(now)?;
    answerable(state, &request)?;
    if state.policies.contains_key(&policy_id) {
        return Err(HomeError::PolicyTaken(policy_id));
    }
    if state.policies.len() >= MAX_POLICIES {
        return Err(HomeError::TooMany { what: "policies per home", most: MAX_POLICIES });
    }
    if !state.devices.contains_key(&device_id) {
        return Err(HomeError::UnknownDevice(device_id));
    }
    let scope = request.document.scope.clone();
    check_scopes(state, &device_id, &scope, now)?;
    let card = &request.document.provider.document;
    Ok(vec![HouseholdEvent::ConsentAuthorized {
        policy_id,
        request_id: request.document.request_id,
        request_hash: request.hash(),
        device_id,
        provider_key: card.provider_key,
        provider_hpke_key: card.hpke_key.clone(),
        scope,
        valid_from: request.document.valid_from,
        valid_until: request.document.valid_until,
        decision,
    }])
}

fn answerable(state: &HouseholdState, request: &SignedConsentRequest) -> Result<(), HomeError> {
    let request_id = request.document.request_id;
    if state.answered.contains(&request_id) {
        return Err(HomeError::AlreadyAnswered(request_id));
    }
    Ok(())
}

/// A device publishes one channel per distinct scope in use: a new scope must leave room.
fn check_scopes(state: &HouseholdState, device_id: &str, scope: &Scope, now: DateTime<Utc>) -> Result<(), HomeError> {
    let mut scopes: Vec<&Scope> = state.active_policies_of(device_id, now).map(|(_, p)| &p.scope).collect();
    scopes.push(scope);
    scopes.sort();
    scopes.dedup();
    if scopes.len() > MAX_SCOPES_PER_DEVICE {
        return Err(HomeError::TooMany { what: "distinct scopes in use per device", most: MAX_SCOPES_PER_DEVICE });
    }
    Ok(())
}

fn deny(
    state: &HouseholdState,
    request: SignedConsentRequest,
    decision: SignedDecision,
    now: DateTime<Utc>,
) -> Result<Vec<HouseholdEvent>, HomeError> {
    match request.check(now) {
        Ok(()) | Err(HomeError::Expired(_)) => {}
        Err(err) => return Err(err),
    }
    answerable(state, &request)?;
    Ok(vec![HouseholdEvent::ConsentDenied {
        request_id: request.document.request_id,
        request_hash: request.hash(),
        provider_key: *request.provider_key(),
        decision,
    }])
}

fn revoke(
    state: &HouseholdState,
    policy_id: Uuid,
    reason: String,
    decision: SignedDecision,
    now: DateTime<Utc>,
) -> Result<Vec<HouseholdEvent>, HomeError> {
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(HomeError::BadRequest(format!("a reason has at most {MAX_REASON_CHARS} characters")));
    }
    let device_id = active_policy(state, policy_id, now)?.device_id.clone();
    let reason = RevocationReason::Owner { reason };
    Ok(vec![HouseholdEvent::AuthorizationRevoked { policy_id, device_id, reason, decision }])
}

fn active_policy(
    state: &HouseholdState,
    policy_id: Uuid,
    now: DateTime<Utc>,
) -> Result<&super::state::Policy, HomeError> {
    let policy = state.policies.get(&policy_id).ok_or(HomeError::UnknownPolicy(policy_id))?;
    match policy.status_at(now) {
        PolicyStatus::Active => Ok(policy),
        status => Err(HomeError::PolicyEnded { policy_id, status: status.as_str() }),
    }
}

/// Each active policy of the device revoked (its own event), then the device deleted.
fn delete_device(
    state: &HouseholdState,
    device_id: String,
    decision: SignedDecision,
    now: DateTime<Utc>,
) -> Result<Vec<HouseholdEvent>, HomeError> {
    if !state.devices.contains_key(&device_id) {
        return Err(HomeError::UnknownDevice(device_id));
    }
    let mut events: Vec<HouseholdEvent> = state
        .active_policies_of(&device_id, now)
        .map(|(policy_id, _)| HouseholdEvent::AuthorizationRevoked {
            policy_id: *policy_id,
            device_id: device_id.clone(),
            reason: RevocationReason::DeviceDeleted,
            decision: decision.clone(),
        })
        .collect();
    events.push(HouseholdEvent::DeviceDeleted { device_id, decision });
    Ok(events)
}

fn terminate(
    state: &HouseholdState,
    signed: SignedTermination,
    now: DateTime<Utc>,
) -> Result<Vec<HouseholdEvent>, HomeError> {
    let termination = &signed.document;
    if state.owner.as_ref().is_some_and(|owner: &PublicKey| *owner != termination.home) {
        return Err(HomeError::BadRequest("the termination names another home".into()));
    }
    if termination.reason.chars().count() > MAX_REASON_CHARS {
        return Err(HomeError::BadRequest(format!("a reason has at most {MAX_REASON_CHARS} characters")));
    }
    let policy = active_policy(state, termination.policy_id, now)?;
    signed.verify(&policy.provider_key).map_err(|e| HomeError::BadSignature(format!("termination: {e}")))?;
    in_window(termination.at, now)?;
    let (policy_id, device_id) = (termination.policy_id, policy.device_id.clone());
    Ok(vec![HouseholdEvent::PolicyTerminated { policy_id, device_id, termination: signed }])
}
