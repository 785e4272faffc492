//! A device inbox's rules: each side speaks in turn and signs what it says, a device id speaks only with the key
//! it is made of, a claimant has at most one claim open and is locked out after a few wrong answers, and a
//! paired device takes no other claimant until it is released.

use chrono::{DateTime, Duration, Utc};

use super::commands::{
    ClaimantSay, DeviceInboxCommand, DeviceSay, RefusalReason, ReleaseReason, SignedClaimantMessage,
    SignedDeviceMessage, CHALLENGE_BYTES,
};
use super::events::DeviceInboxEvent;
use super::state::{Claim, DeviceInboxState, IssuedChallenge};
use super::DeviceInbox;
use crate::crypto::PublicKey;
use crate::home::error::HomeError;
use crate::home::rules::{device_key_is_ids, in_window, is_hex_bytes};
use crate::Decider;

/// Wrong answers after which a claimant is locked out of the device (until a reset on the device).
pub const MAX_FAILED_ANSWERS: u32 = 3;
/// Wrong answers from all claimants after which the device takes no claim at all (until a reset): a guesser
/// with many keys gets no more tries than this.
pub const MAX_TOTAL_FAILED_ANSWERS: u32 = 20;
/// Claims open at once, from all claimants.
pub const MAX_OPEN_CLAIMS: usize = 8;
/// Longest a challenge may be answerable.
pub const MAX_CHALLENGE_SECONDS: i64 = 600;

impl Decider for DeviceInbox {
    type State = DeviceInboxState;
    type Command = DeviceInboxCommand;
    type Event = DeviceInboxEvent;
    type Error = HomeError;

    fn decide(state: &DeviceInboxState, command: DeviceInboxCommand) -> Result<Vec<DeviceInboxEvent>, HomeError> {
        match command {
            DeviceInboxCommand::FromClaimant { message, now } => {
                check_claimant(state, &message, now)?;
                match message.document.say.clone() {
                    ClaimantSay::Claim => claim(state, message, now),
                    ClaimantSay::Answer { challenge, mac } => answer(state, message, &challenge, &mac, now),
                }
            }
            DeviceInboxCommand::FromDevice { message, now } => {
                check_device(state, &message, now)?;
                match message.document.say.clone() {
                    DeviceSay::Challenge { owner, challenge, valid_until } => {
                        issue(state, message, &owner, &challenge, valid_until, now)
                    }
                    DeviceSay::Accept { owner, challenge } => accept(state, message, &owner, &challenge),
                    DeviceSay::Refuse { owner, reason, failures } => refuse(state, message, &owner, reason, failures),
                    DeviceSay::Release { reason } => release(state, message, reason),
                }
            }
        }
    }

    fn evolve(state: DeviceInboxState, event: &DeviceInboxEvent) -> DeviceInboxState {
        state.evolve(event)
    }
}

/// The inbox is one device's: every message names the device the first one named.
fn same_device(state: &DeviceInboxState, device_id: &str) -> Result<(), HomeError> {
    match &state.device_id {
        Some(known) if known != device_id => {
            Err(HomeError::BadRequest(format!("this is device {known}'s inbox, not {device_id}'s")))
        }
        _ => Ok(()),
    }
}

/// Signed by the claimant it names, in time, and after its last message to this device.
fn check_claimant(
    state: &DeviceInboxState,
    signed: &SignedClaimantMessage,
    now: DateTime<Utc>,
) -> Result<(), HomeError> {
    let message = &signed.document;
    same_device(state, &message.device_id)?;
    check_device_id(&message.device_id)?;
    signed.verify(&message.owner).map_err(|e| HomeError::BadSignature(format!("claimant message: {e}")))?;
    in_window(message.at, now)?;
    if state.last_claimant_at.get(&message.owner).is_some_and(|last| message.at <= *last) {
        return Err(HomeError::Stale {
            at: message.at,
            why: "this claimant sent the device a message at this time or after it",
        });
    }
    Ok(())
}

/// A device id is 16 characters of lowercase base32 (`device_id_of`).
fn check_device_id(device_id: &str) -> Result<(), HomeError> {
    let well_formed = device_id.len() == 16 && device_id.chars().all(|c| matches!(c, 'a'..='z' | '2'..='7'));
    if !well_formed {
        return Err(HomeError::BadRequest(format!("{device_id:?} is not a device id (16 characters of a-z and 2-7)")));
    }
    Ok(())
}

/// Signed by the key the device id is made of, in time, and after the device's last message.
fn check_device(state: &DeviceInboxState, signed: &SignedDeviceMessage, now: DateTime<Utc>) -> Result<(), HomeError> {
    let message = &signed.document;
    same_device(state, &message.device_id)?;
    device_key_is_ids(&message.device_id, &message.device_key)?;
    signed.verify(&message.device_key).map_err(|e| HomeError::BadSignature(format!("device message: {e}")))?;
    in_window(message.at, now)?;
    if state.last_device_at.is_some_and(|last| message.at <= last) {
        return Err(HomeError::Stale { at: message.at, why: "the device sent a message at this time or after it" });
    }
    Ok(())
}

fn claim(
    state: &DeviceInboxState,
    message: SignedClaimantMessage,
    now: DateTime<Utc>,
) -> Result<Vec<DeviceInboxEvent>, HomeError> {
    let owner = message.document.owner;
    if state.paired_with.is_some() {
        return Err(HomeError::AlreadyPaired(message.document.device_id.clone()));
    }
    let failures = state.failures.get(&owner).copied().unwrap_or(0);
    if failures >= MAX_FAILED_ANSWERS || state.total_failures() >= MAX_TOTAL_FAILED_ANSWERS {
        return Err(HomeError::LockedOut { failures });
    }
    if state.claims.get(&owner).is_some_and(|claim| claim.is_open(now)) {
        return Err(HomeError::ClaimOpen);
    }
    if state.open_claims(now) >= MAX_OPEN_CLAIMS {
        return Err(HomeError::TooMany { what: "open claims per device", most: MAX_OPEN_CLAIMS });
    }
    Ok(vec![DeviceInboxEvent::PairingClaimed { message }])
}

fn answer(
    state: &DeviceInboxState,
    message: SignedClaimantMessage,
    challenge: &str,
    mac: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DeviceInboxEvent>, HomeError> {
    if !is_hex_bytes(mac, 32) {
        return Err(HomeError::BadRequest("an answer's mac is 32 bytes of hex".into()));
    }
    let issued = issued_to(state, &message.document.owner, challenge)?;
    if issued.answered_at.is_some() {
        return Err(HomeError::ChallengeAnswered);
    }
    if now >= issued.valid_until {
        return Err(HomeError::Expired(format!("the challenge ran out at {}", issued.valid_until)));
    }
    Ok(vec![DeviceInboxEvent::ChallengeAnswered { message }])
}

/// The challenge `challenge` issued to `owner` in its unsettled claim.
fn issued_to<'s>(
    state: &'s DeviceInboxState,
    owner: &PublicKey,
    challenge: &str,
) -> Result<&'s IssuedChallenge, HomeError> {
    state
        .claims
        .get(owner)
        .and_then(|claim: &Claim| claim.challenge.as_ref())
        .filter(|issued| issued.challenge == challenge)
        .ok_or(HomeError::NoSuchChallenge)
}

fn issue(
    state: &DeviceInboxState,
    message: SignedDeviceMessage,
    owner: &PublicKey,
    challenge: &str,
    valid_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<DeviceInboxEvent>, HomeError> {
    if !is_hex_bytes(challenge, CHALLENGE_BYTES) {
        return Err(HomeError::BadRequest(format!("a challenge is {CHALLENGE_BYTES} bytes of hex")));
    }
    let at = message.document.at;
    if valid_until <= at || valid_until > at + Duration::seconds(MAX_CHALLENGE_SECONDS) {
        return Err(HomeError::BadRequest(format!("a challenge is answerable for 1..={MAX_CHALLENGE_SECONDS} s")));
    }
    match state.claims.get(owner) {
        Some(claim) if claim.challenge.is_none() && claim.is_open(now) => {}
        Some(claim) if claim.challenge.is_some() => return Err(HomeError::ClaimOpen),
        _ => return Err(HomeError::NoSuchChallenge),
    }
    Ok(vec![DeviceInboxEvent::ChallengeIssued { message }])
}

fn accept(
    state: &DeviceInboxState,
    message: SignedDeviceMessage,
    owner: &PublicKey,
    challenge: &str,
) -> Result<Vec<DeviceInboxEvent>, HomeError> {
    if state.paired_with.is_some() {
        return Err(HomeError::AlreadyPaired(message.document.device_id.clone()));
    }
    if issued_to(state, owner, challenge)?.answered_at.is_none() {
        return Err(HomeError::BadRequest("the device accepts only an answered challenge".into()));
    }
    Ok(vec![DeviceInboxEvent::PairingAccepted { message }])
}

fn refuse(
    state: &DeviceInboxState,
    message: SignedDeviceMessage,
    owner: &PublicKey,
    reason: RefusalReason,
    failures: u32,
) -> Result<Vec<DeviceInboxEvent>, HomeError> {
    let Some(claim) = state.claims.get(owner) else { return Err(HomeError::NoSuchChallenge) };
    let answered = claim.challenge.as_ref().is_some_and(|issued| issued.answered_at.is_some());
    if reason == RefusalReason::WrongAnswer && !answered {
        return Err(HomeError::BadRequest("a wrong answer is refused only once it is given".into()));
    }
    let counted = state.failures.get(owner).copied().unwrap_or(0);
    if failures < counted {
        return Err(HomeError::BadRequest(format!(
            "the device counted {counted} wrong answers of this claimant already"
        )));
    }
    // No claimant is ever allowed more guesses than all of them together.
    if failures > MAX_TOTAL_FAILED_ANSWERS {
        return Err(HomeError::BadRequest(format!(
            "a device counts at most {MAX_TOTAL_FAILED_ANSWERS} wrong answers of a claimant"
        )));
    }
    Ok(vec![DeviceInboxEvent::PairingRefused { message }])
}

fn release(
    state: &DeviceInboxState,
    message: SignedDeviceMessage,
    reason: ReleaseReason,
) -> Result<Vec<DeviceInboxEvent>, HomeError> {
    if reason == ReleaseReason::Deleted && state.paired_with.is_none() {
        return Err(HomeError::BadRequest("only a paired device is released by its owner's deletion".into()));
    }
    Ok(vec![DeviceInboxEvent::DeviceReleased { message }])
}
