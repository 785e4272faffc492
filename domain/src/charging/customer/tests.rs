//! The Customer aggregate's rules, command by command.

use super::commands::{CertificateRequestCommand, CustomerCommand, RevokeCertificateCommand};
use super::events::CustomerEvent;
use super::state::{CustomerState, Trust};
use super::*;
use crate::charging::billing::BillingError;
use crate::charging::billing::{BillingDetails, CardTokenKey};
use crate::charging::certificate::SignedCertificateRequest;
use crate::charging::contact_card::{ContactCard, ContactCardError};
use crate::charging::crypto::{PublicKey, Uid};
use crate::charging::customer::{ProviderIdTag, Relationship};
use crate::charging::CustomerError;
use crate::Decider;
use chrono::TimeZone;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;

const CARD: &str = "4111111111111111";

#[test]
#[should_panic(expected = "RelationshipTrusted before ConnectionRequested")]
fn an_event_before_the_connection_is_a_corrupt_stream() {
    let uid = app_card().card.uid.clone();
    Customer::evolve(CustomerState::default(), &CustomerEvent::RelationshipTrusted { uid, at: clock() });
}

fn clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}
fn app_key() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}
fn authority_key() -> SigningKey {
    SigningKey::from_bytes(&[2; 32])
}
fn provider_uid() -> Uid {
    Uid::of(&PublicKey::of(&SigningKey::from_bytes(&[3; 32])))
}
fn app_card() -> ContactCard {
    ContactCard::create(&app_key(), "alice's phone", vec![], None).unwrap()
}

fn connected() -> CustomerState {
    let events = Customer::decide(
        &CustomerState::default(),
        CustomerCommand::RequestConnection { card: app_card(), at: clock() },
    )
    .unwrap();
    Customer::replay(&events)
}

fn certificate_request(card: &str, expiry: &str, cvc: &str) -> CustomerCommand {
    CustomerCommand::RequestCertificate(Box::new(CertificateRequestCommand {
        request: SignedCertificateRequest::sign(&app_key(), clock()).unwrap(),
        billing: BillingDetails { cc_number: card.into(), expiry: expiry.into(), cvc: cvc.into() },
        card_token_key: CardTokenKey([9; 32]),
        authority_key: authority_key(),
        serial: "serial-1".into(),
        validity: Duration::days(365),
        id_tags: vec![ProviderIdTag { provider_uid: provider_uid(), id_tag: "TAG0001".into() }],
        at: clock(),
    }))
}

#[test]
fn a_connection_request_records_an_untrusted_relationship() {
    let state = connected();
    let r: &Relationship = state.relationship.as_ref().unwrap();
    assert_eq!(r.trust, Trust::Untrusted);
    assert_eq!(r.uid, app_card().card.uid);
    let again = Customer::decide(&state, CustomerCommand::RequestConnection { card: app_card(), at: clock() });
    assert_eq!(again, Ok(vec![]), "asking again with the same card changes nothing");
}

#[test]
fn a_tampered_contact_card_is_refused() {
    let mut card = app_card();
    card.card = card.card.edited(|body| body.alias = "mallory".into()).unwrap();
    let result = Customer::decide(&CustomerState::default(), CustomerCommand::RequestConnection { card, at: clock() });
    assert_eq!(result, Err(CustomerError::InvalidContactCard(ContactCardError::BadSignature)));
}

#[test]
fn a_valid_certificate_request_trusts_registers_and_issues() {
    let events = Customer::decide(&connected(), certificate_request(CARD, "12/2030", "123")).unwrap();
    let types: Vec<_> = events.iter().map(crate::DomainEvent::event_type).collect();
    assert_eq!(types, ["BillingAccepted", "RelationshipTrusted", "CredentialRegistered", "CertificateIssued"]);
    let json = serde_json::to_string(&events).unwrap();
    assert!(!json.contains(CARD), "the card number is never in an event");
    assert!(!json.contains("\"123\""), "the CVC is never in an event");
    let CustomerEvent::CertificateIssued { certificate, .. } = &events[3] else { panic!("{events:?}") };
    assert_eq!(certificate.verify_issuer_signature(&PublicKey::of(&authority_key())), Ok(()));
    assert_eq!(certificate.certificate.subject_public_key, PublicKey::of(&app_key()));
    assert_eq!(certificate.certificate.expires_at, clock() + Duration::days(365));
    let state = events.iter().fold(connected(), CustomerState::evolve);
    let r = state.relationship.unwrap();
    assert_eq!(r.trust, Trust::Trusted);
    assert_eq!(r.card_last4.as_deref(), Some("1111"));
    assert_eq!(r.credentials.get(&provider_uid()).map(String::as_str), Some("TAG0001"));
}

#[test]
fn billing_refusals_are_clear_and_record_nothing() {
    let state = connected();
    assert_eq!(
        Customer::decide(&state, certificate_request("4111111111111112", "12/2030", "123")),
        Err(CustomerError::Billing(BillingError::LuhnCheckFailed))
    );
    assert_eq!(
        Customer::decide(&state, certificate_request(CARD, "01/2020", "123")),
        Err(CustomerError::Billing(BillingError::CardExpired("01/2020".into())))
    );
    assert_eq!(
        Customer::decide(&state, certificate_request(CARD, "12/2030", "12")),
        Err(CustomerError::Billing(BillingError::MalformedCvc))
    );
}

#[test]
fn a_certificate_needs_a_connection_and_the_identitys_signature() {
    assert_eq!(
        Customer::decide(&CustomerState::default(), certificate_request(CARD, "12/2030", "123")),
        Err(CustomerError::NotConnected)
    );
    let CustomerCommand::RequestCertificate(mut command) = certificate_request(CARD, "12/2030", "123") else {
        unreachable!()
    };
    let forged = SignedCertificateRequest::sign(&SigningKey::from_bytes(&[8; 32]), clock()).unwrap();
    command.request.signature = forged.signature;
    assert_eq!(
        Customer::decide(&connected(), CustomerCommand::RequestCertificate(command)),
        Err(CustomerError::BadRequestSignature)
    );
}

#[test]
fn a_stale_request_and_an_overlong_id_tag_are_refused() {
    let CustomerCommand::RequestCertificate(mut command) = certificate_request(CARD, "12/2030", "123") else {
        unreachable!()
    };
    command.at = clock() + Duration::minutes(6);
    assert_eq!(
        Customer::decide(&connected(), CustomerCommand::RequestCertificate(command)),
        Err(CustomerError::StaleRequest)
    );
    let CustomerCommand::RequestCertificate(mut command) = certificate_request(CARD, "12/2030", "123") else {
        unreachable!()
    };
    command.id_tags[0].id_tag = "X".repeat(21);
    assert_eq!(
        Customer::decide(&connected(), CustomerCommand::RequestCertificate(command)),
        Err(CustomerError::InvalidIdTag)
    );
}

#[test]
fn revocation_marks_the_certificate_once() {
    let events = Customer::decide(&connected(), certificate_request(CARD, "12/2030", "123")).unwrap();
    let state = events.iter().fold(connected(), CustomerState::evolve);
    let revoke = |serial: &str| {
        CustomerCommand::RevokeCertificate(RevokeCertificateCommand {
            serial: serial.into(),
            reason: "phone lost".into(),
            at: clock(),
        })
    };
    assert_eq!(Customer::decide(&state, revoke("nope")), Err(CustomerError::UnknownCertificate("nope".into())));
    let revoked = Customer::decide(&state, revoke("serial-1")).unwrap();
    let state = revoked.iter().fold(state, CustomerState::evolve);
    assert!(state.is_revoked("serial-1"));
    assert_eq!(Customer::decide(&state, revoke("serial-1")), Err(CustomerError::AlreadyRevoked("serial-1".into())));
}

#[test]
fn a_second_certificate_keeps_the_existing_credential() {
    let events = Customer::decide(&connected(), certificate_request(CARD, "12/2030", "123")).unwrap();
    let state = events.iter().fold(connected(), CustomerState::evolve);
    let CustomerCommand::RequestCertificate(mut command) = certificate_request(CARD, "12/2030", "123") else {
        unreachable!()
    };
    command.serial = "serial-2".into();
    let events = Customer::decide(&state, CustomerCommand::RequestCertificate(command)).unwrap();
    let types: Vec<_> = events.iter().map(crate::DomainEvent::event_type).collect();
    assert_eq!(types, ["BillingAccepted", "CertificateIssued"]);
}
