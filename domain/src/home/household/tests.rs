use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use uuid::Uuid;

use super::*;
use crate::crypto::{PublicKey, Received, Signature, Signed, SignedDocument};
use crate::home::consent::testkit::{provider, request, scope};
use crate::home::consent::{Granularity, SignedConsentRequest};
use crate::home::device_inbox::{device_id_of, DeviceMessage, DeviceSay, ReleaseReason, SignedDeviceMessage};
use crate::home::error::HomeError;
use crate::{given_when, Decider};

fn now() -> DateTime<Utc> {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

fn owner() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn device_signing_key() -> SigningKey {
    SigningKey::from_bytes(&[4; 32])
}

fn decide_as(key: &SigningKey, at: DateTime<Utc>, act: Act) -> HouseholdCommand {
    let decision = Signed::sign(key, OwnerDecision { home: PublicKey::of(key), at, act }).unwrap();
    HouseholdCommand::Decide { decision, now: at }
}

/// The test device's id: made of its key.
fn device() -> String {
    device_id_of(&PublicKey::of(&device_signing_key()))
}

/// The device's signed `accept` of `owner`'s claim.
fn pairing(owner: &SigningKey, at: DateTime<Utc>) -> SignedDeviceMessage {
    let key = device_signing_key();
    let say = DeviceSay::Accept { owner: PublicKey::of(owner), challenge: "00".repeat(32) };
    Signed::sign(&key, DeviceMessage { device_id: device(), device_key: PublicKey::of(&key), at, say }).unwrap()
}

/// Runs `commands` in order from an empty home, each against the state the earlier ones left; the events of all.
fn run(commands: Vec<HouseholdCommand>) -> Result<Vec<HouseholdEvent>, HomeError> {
    let mut history = Vec::new();
    for command in commands {
        history.extend(given_when::<Household>(&history, command)?);
    }
    Ok(history)
}

fn paired() -> Vec<HouseholdEvent> {
    run(vec![decide_as(&owner(), now(), Act::AddDevice { pairing: pairing(&owner(), now()) })]).unwrap()
}

fn granted(request: &SignedConsentRequest, policy_id: Uuid, seconds: i64) -> Vec<HouseholdEvent> {
    let mut history = paired();
    let act = Act::Authorize { policy_id, device_id: device(), request: request.clone() };
    history.extend(
        given_when::<Household>(&history, decide_as(&owner(), now() + Duration::seconds(seconds), act)).unwrap(),
    );
    history
}

fn at(seconds: i64) -> DateTime<Utc> {
    now() + Duration::seconds(seconds)
}

#[test]
fn pairing_records_the_device_and_its_key() {
    let events = paired();
    assert!(matches!(&events[..], [HouseholdEvent::DeviceAdded { device_id, device_key, .. }]
        if *device_id == device() && *device_key == PublicKey::of(&device_signing_key())));
    let state = Household::replay(&events);
    assert_eq!(state.owner, Some(PublicKey::of(&owner())));
}

#[test]
fn a_pairing_proof_for_another_owner_or_forged_is_refused() {
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let err = run(vec![decide_as(&owner(), now(), Act::AddDevice { pairing: pairing(&stranger, now()) })]);
    assert!(matches!(err, Err(HomeError::BadRequest(_))), "{err:?}");
    let mut forged = pairing(&owner(), now());
    forged.signature = Signature::sign_canonical(&stranger, DeviceMessage::PURPOSE, forged.document.canonical());
    let err = run(vec![decide_as(&owner(), now(), Act::AddDevice { pairing: forged })]);
    assert!(matches!(err, Err(HomeError::BadSignature(_))), "{err:?}");
}

#[test]
fn a_pairing_proof_is_an_accept_by_the_key_the_device_id_is_made_of() {
    let mut not_an_accept = (*pairing(&owner(), now()).document).clone();
    not_an_accept.say = DeviceSay::Release { reason: ReleaseReason::Reset };
    let signed = Signed::sign(&device_signing_key(), not_an_accept).unwrap();
    let err = run(vec![decide_as(&owner(), now(), Act::AddDevice { pairing: signed })]);
    assert!(matches!(err, Err(HomeError::BadRequest(_))), "{err:?}");
    let impostor = SigningKey::from_bytes(&[8; 32]);
    let mut claimed = (*pairing(&owner(), now()).document).clone();
    claimed.device_key = PublicKey::of(&impostor);
    let signed = Signed::sign(&impostor, claimed).unwrap();
    let err = run(vec![decide_as(&owner(), now(), Act::AddDevice { pairing: signed })]);
    assert!(matches!(&err, Err(HomeError::BadRequest(m)) if m.contains("is not device")), "{err:?}");
}

#[test]
fn a_decision_signed_by_another_key_is_refused() {
    let history = paired();
    let request = request(&provider(1), scope(Granularity::Telegram), now(), 30);
    let act = Act::Authorize { policy_id: Uuid::new_v4(), device_id: device(), request };
    let HouseholdCommand::Decide { decision, now } = decide_as(&owner(), at(1), act) else { unreachable!() };
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let signature = Signature::sign_canonical(&stranger, OwnerDecision::PURPOSE, decision.document.canonical());
    let forged = SignedDecision { signature, ..decision };
    let err = given_when::<Household>(&history, HouseholdCommand::Decide { decision: forged, now });
    assert!(matches!(err, Err(HomeError::BadSignature(_))), "{err:?}");
}

#[test]
fn another_owner_cannot_decide_for_this_home() {
    let history = paired();
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let err = given_when::<Household>(&history, decide_as(&stranger, at(1), Act::DeleteDevice { device_id: device() }));
    assert!(matches!(err, Err(HomeError::WrongHome { .. })), "{err:?}");
}

#[test]
fn a_replayed_or_out_of_window_decision_is_stale() {
    let history = paired();
    let replay = decide_as(&owner(), now(), Act::DeleteDevice { device_id: device() });
    assert!(matches!(given_when::<Household>(&history, replay), Err(HomeError::Stale { .. })));
    let HouseholdCommand::Decide { decision, .. } =
        decide_as(&owner(), at(1), Act::DeleteDevice { device_id: device() })
    else {
        unreachable!()
    };
    let late = HouseholdCommand::Decide { decision, now: at(DECISION_WINDOW_SECONDS + 2) };
    assert!(matches!(given_when::<Household>(&history, late), Err(HomeError::Stale { .. })));
}

#[test]
fn authorizing_names_the_policy_request_device_scope_and_validity() {
    let request = request(&provider(1), scope(Granularity::FifteenMinutes), now(), 30);
    let policy_id = Uuid::new_v4();
    let events = granted(&request, policy_id, 1);
    let HouseholdEvent::ConsentAuthorized {
        policy_id: p,
        request_id,
        request_hash,
        device_id,
        scope: s,
        valid_until,
        ..
    } = &events[1]
    else {
        panic!("{events:?}")
    };
    assert_eq!((*p, *request_id), (policy_id, request.document.request_id));
    assert_eq!(request_hash, &request.hash());
    assert_eq!((device_id.clone(), s), (device(), &scope(Granularity::FifteenMinutes)));
    assert_eq!(*valid_until, now() + Duration::days(30));
    let state = Household::replay(&events);
    assert_eq!(state.policies[&policy_id].status_at(at(2)), PolicyStatus::Active);
    assert_eq!(state.policies[&policy_id].status_at(now() + Duration::days(31)), PolicyStatus::Expired);
}

#[test]
fn consent_is_only_for_a_device_of_the_home_and_each_request_is_answered_once() {
    let request = request(&provider(1), scope(Granularity::Telegram), now(), 30);
    let history = paired();
    let elsewhere = Act::Authorize {
        policy_id: Uuid::new_v4(),
        device_id: device_id_of(&PublicKey::of(&SigningKey::from_bytes(&[5; 32]))),
        request: request.clone(),
    };
    let err = given_when::<Household>(&history, decide_as(&owner(), at(1), elsewhere));
    assert!(matches!(err, Err(HomeError::UnknownDevice(_))), "{err:?}");
    let history = granted(&request, Uuid::new_v4(), 1);
    let again = Act::Authorize { policy_id: Uuid::new_v4(), device_id: device(), request: request.clone() };
    let err = given_when::<Household>(&history, decide_as(&owner(), at(2), again));
    assert!(matches!(err, Err(HomeError::AlreadyAnswered(_))), "{err:?}");
    let err = given_when::<Household>(&history, decide_as(&owner(), at(3), Act::Deny { request }));
    assert!(matches!(err, Err(HomeError::AlreadyAnswered(_))), "{err:?}");
}

#[test]
fn a_tampered_request_is_refused() {
    let mut request = request(&provider(1), scope(Granularity::FifteenMinutes), now(), 30);
    let mut widened = (*request.document).clone();
    widened.scope = scope(Granularity::Telegram);
    request.document = Received::of(widened).unwrap();
    let act = Act::Authorize { policy_id: Uuid::new_v4(), device_id: device(), request };
    let err = given_when::<Household>(&paired(), decide_as(&owner(), at(1), act));
    assert!(matches!(err, Err(HomeError::BadSignature(_))), "{err:?}");
}

#[test]
fn denying_records_the_request_and_grants_nothing() {
    let request = request(&provider(1), scope(Granularity::Telegram), now(), 30);
    let mut history = paired();
    history.extend(
        given_when::<Household>(&history, decide_as(&owner(), at(1), Act::Deny { request: request.clone() })).unwrap(),
    );
    assert!(
        matches!(&history[1], HouseholdEvent::ConsentDenied { request_id, .. } if *request_id == request.document.request_id)
    );
    assert!(Household::replay(&history).policies.is_empty());
}

#[test]
fn revoking_ends_an_active_policy_once() {
    let policy_id = Uuid::new_v4();
    let mut history = granted(&request(&provider(1), scope(Granularity::Telegram), now(), 30), policy_id, 1);
    let revoke = || Act::Revoke { policy_id, reason: "moved out".into() };
    history.extend(given_when::<Household>(&history, decide_as(&owner(), at(2), revoke())).unwrap());
    let state = Household::replay(&history);
    assert_eq!(state.policies[&policy_id].status_at(at(3)), PolicyStatus::Revoked);
    let err = given_when::<Household>(&history, decide_as(&owner(), at(3), revoke()));
    assert!(matches!(err, Err(HomeError::PolicyEnded { status: "revoked", .. })), "{err:?}");
}

#[test]
fn an_expired_policy_cannot_be_revoked() {
    let policy_id = Uuid::new_v4();
    let history = granted(&request(&provider(1), scope(Granularity::Telegram), now(), 1), policy_id, 1);
    let later = now() + Duration::days(2);
    let err =
        given_when::<Household>(&history, decide_as(&owner(), later, Act::Revoke { policy_id, reason: String::new() }));
    assert!(matches!(err, Err(HomeError::PolicyEnded { status: "expired", .. })), "{err:?}");
}

#[test]
fn deleting_a_device_revokes_each_of_its_active_policies_then_unpairs_it() {
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let mut history = granted(&request(&provider(1), scope(Granularity::Telegram), now(), 30), first, 1);
    let other = Act::Authorize {
        policy_id: second,
        device_id: device(),
        request: request(&provider(2), scope(Granularity::OneMinute), now(), 30),
    };
    history.extend(given_when::<Household>(&history, decide_as(&owner(), at(2), other)).unwrap());
    let events =
        given_when::<Household>(&history, decide_as(&owner(), at(3), Act::DeleteDevice { device_id: device() }))
            .unwrap();
    let revoked: Vec<Uuid> = events
        .iter()
        .filter_map(|e| match e {
            HouseholdEvent::AuthorizationRevoked { policy_id, reason: RevocationReason::DeviceDeleted, .. } => {
                Some(*policy_id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(revoked.len(), 2);
    assert!(revoked.contains(&first) && revoked.contains(&second));
    assert!(matches!(events.last(), Some(HouseholdEvent::DeviceDeleted { .. })));
    history.extend(events);
    let state = Household::replay(&history);
    assert!(state.devices.is_empty());
    // The device can be paired again, by a new claim.
    let again = decide_as(&owner(), at(4), Act::AddDevice { pairing: pairing(&owner(), at(4)) });
    assert!(given_when::<Household>(&history, again).is_ok());
}

#[test]
fn a_device_serves_at_most_four_distinct_scopes() {
    let mut history = paired();
    let scopes = [
        scope(Granularity::Telegram),
        scope(Granularity::OneMinute),
        scope(Granularity::FifteenMinutes),
        crate::home::consent::Scope {
            fields: vec![crate::home::consent::Field::GasDm3],
            granularity: Granularity::Telegram,
        },
        crate::home::consent::Scope {
            fields: vec![crate::home::consent::Field::Phases],
            granularity: Granularity::Telegram,
        },
    ];
    for (n, s) in scopes.iter().enumerate() {
        let act = Act::Authorize {
            policy_id: Uuid::new_v4(),
            device_id: device(),
            request: request(&provider(1), s.clone(), now(), 30),
        };
        let result = given_when::<Household>(&history, decide_as(&owner(), at(n as i64 + 1), act));
        if n < MAX_SCOPES_PER_DEVICE {
            history.extend(result.unwrap());
        } else {
            assert!(matches!(result, Err(HomeError::TooMany { .. })), "{result:?}");
        }
    }
}

fn terminate(key: &SigningKey, policy_id: Uuid, seconds: i64) -> HouseholdCommand {
    let termination =
        Termination { home: PublicKey::of(&owner()), policy_id, reason: "service closed".into(), at: at(seconds) };
    HouseholdCommand::Terminate { termination: Signed::sign(key, termination).unwrap(), now: at(seconds) }
}

#[test]
fn only_the_policys_provider_terminates_it() {
    let policy_id = Uuid::new_v4();
    let mut history = granted(&request(&provider(1), scope(Granularity::Telegram), now(), 30), policy_id, 1);
    let err = given_when::<Household>(&history, terminate(&provider(2), policy_id, 2));
    assert!(matches!(err, Err(HomeError::BadSignature(_))), "{err:?}");
    history.extend(given_when::<Household>(&history, terminate(&provider(1), policy_id, 2)).unwrap());
    let state = Household::replay(&history);
    assert_eq!(state.policies[&policy_id].status_at(at(3)), PolicyStatus::Terminated);
}

#[test]
#[should_panic(expected = "a policy is for a device of the home")]
fn a_policy_for_a_device_never_added_is_a_corrupt_stream() {
    let request = request(&provider(1), scope(Granularity::Telegram), now(), 30);
    let events = granted(&request, Uuid::new_v4(), 1);
    Household::replay(&events[1..]);
}
