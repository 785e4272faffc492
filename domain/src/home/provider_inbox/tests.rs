use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use uuid::Uuid;

use super::*;
use crate::crypto::{PublicKey, Signed};
use crate::home::device_inbox::device_id_of;
use crate::home::error::HomeError;
use crate::home::household::PolicyStatus;
use crate::{given_when, Decider};

fn t(seconds: i64) -> DateTime<Utc> {
    "2026-12-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(seconds)
}

fn device_key() -> SigningKey {
    SigningKey::from_bytes(&[4; 32])
}

fn provider() -> PublicKey {
    PublicKey::of(&SigningKey::from_bytes(&[6; 32]))
}

fn device() -> String {
    device_id_of(&PublicKey::of(&device_key()))
}

fn handover(policy_id: Uuid, channel: u8, at: DateTime<Utc>) -> SignedHandover {
    let document = Handover {
        device_id: device(),
        device_key: PublicKey::of(&device_key()),
        home: PublicKey::of(&SigningKey::from_bytes(&[5; 32])),
        provider: provider(),
        policy_id,
        channel: hex::encode([channel; 32]),
        grant: "ab".repeat(300),
        at,
    };
    Signed::sign(&device_key(), document).unwrap()
}

fn active() -> Option<PolicyFact> {
    Some(PolicyFact { device_id: device(), provider_key: provider(), status: PolicyStatus::Active })
}

fn deliver(handover: SignedHandover, policy: Option<PolicyFact>) -> ProviderInboxCommand {
    let now = handover.document.at;
    ProviderInboxCommand::Deliver { handover, policy, now }
}

#[test]
fn a_hand_over_for_an_active_policy_is_recorded_once_per_channel() {
    let policy_id = Uuid::now_v7();
    let events = given_when::<ProviderInbox>(&[], deliver(handover(policy_id, 1, t(0)), active())).unwrap();
    assert!(matches!(&events[..], [ProviderInboxEvent::GrantHandedOver { .. }]));
    let again = given_when::<ProviderInbox>(&events, deliver(handover(policy_id, 1, t(1)), active()));
    assert_eq!(again, Err(HomeError::HandedOver(policy_id)));
    // A device that starts over hands the policy over on its new channel.
    let renewed = given_when::<ProviderInbox>(&events, deliver(handover(policy_id, 2, t(1)), active()));
    assert!(renewed.is_ok());
    let state = ProviderInbox::replay(&events);
    assert_eq!(state.provider, Some(provider()));
}

#[test]
fn a_hand_over_needs_the_policy_active_and_this_devices_for_this_provider() {
    let policy_id = Uuid::now_v7();
    let unknown = given_when::<ProviderInbox>(&[], deliver(handover(policy_id, 1, t(0)), None));
    assert_eq!(unknown, Err(HomeError::UnknownPolicy(policy_id)));
    let revoked = PolicyFact { status: PolicyStatus::Revoked, ..active().unwrap() };
    let ended = given_when::<ProviderInbox>(&[], deliver(handover(policy_id, 1, t(0)), Some(revoked)));
    assert!(matches!(ended, Err(HomeError::PolicyEnded { status: "revoked", .. })), "{ended:?}");
    let elsewhere = PolicyFact { provider_key: PublicKey::of(&SigningKey::from_bytes(&[7; 32])), ..active().unwrap() };
    let other = given_when::<ProviderInbox>(&[], deliver(handover(policy_id, 1, t(0)), Some(elsewhere)));
    assert!(matches!(other, Err(HomeError::BadRequest(_))), "{other:?}");
}

#[test]
fn a_forged_stale_or_oversized_hand_over_is_refused() {
    let policy_id = Uuid::now_v7();
    let mut forged = handover(policy_id, 1, t(0));
    forged.signature = handover(policy_id, 9, t(0)).signature;
    assert!(matches!(given_when::<ProviderInbox>(&[], deliver(forged, active())), Err(HomeError::BadSignature(_))));

    let late = ProviderInboxCommand::Deliver { handover: handover(policy_id, 1, t(0)), policy: active(), now: t(301) };
    assert!(matches!(given_when::<ProviderInbox>(&[], late), Err(HomeError::Stale { .. })));

    let mut big = (*handover(policy_id, 1, t(0)).document).clone();
    big.grant = "ab".repeat(MAX_GRANT_BYTES + 1);
    let big = Signed::sign(&device_key(), big).unwrap();
    assert!(matches!(given_when::<ProviderInbox>(&[], deliver(big, active())), Err(HomeError::BadRequest(_))));

    let history = given_when::<ProviderInbox>(&[], deliver(handover(policy_id, 1, t(5)), active())).unwrap();
    let replayed = given_when::<ProviderInbox>(&history, deliver(handover(policy_id, 2, t(5)), active()));
    assert!(matches!(replayed, Err(HomeError::Stale { .. })), "{replayed:?}");
}
