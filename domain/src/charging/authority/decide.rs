use super::commands::{CertificateRequestCommand, CustomerCommand, RevokeCertificateCommand};
use super::events::CustomerEvent;
use super::state::{CustomerState, Trust};
use crate::charging::billing::BillingError;
use crate::charging::certificate::CERTIFICATE_REQUEST_PURPOSE;
use crate::charging::certificate::{is_fresh, Certificate, CertificateBody, MAX_SERIAL_CHARS};
use crate::charging::contact_card::{ContactCard, ContactCardError};
use crate::charging::crypto::{CryptoError, PublicKey, Uid};
use crate::{Aggregate, Decider};
use chrono::{DateTime, Duration, DurationRound, Utc};

/// OCPP 1.6 IdToken is CiString20Type.
pub const MAX_ID_TAG_CHARS: usize = 20;
const MAX_REASON_CHARS: usize = 256;

pub struct Customer;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    #[error("invalid contact card: {0}")]
    InvalidContactCard(#[from] ContactCardError),
    #[error("this identity already asked to connect with a different contact card")]
    AlreadyConnected,
    #[error("no connection request from this identity yet")]
    NotConnected,
    #[error("the certificate request is not signed by the identity's key")]
    BadRequestSignature,
    #[error("the signed request is older or newer than five minutes")]
    StaleRequest,
    #[error("billing details refused: {0}")]
    Billing(#[from] BillingError),
    #[error("an id tag must be 1 to {MAX_ID_TAG_CHARS} printable ASCII characters")]
    InvalidIdTag,
    #[error("a serial must be 1 to {MAX_SERIAL_CHARS} characters and new for this user")]
    InvalidSerial,
    #[error("the validity must be positive")]
    InvalidValidity,
    #[error("no certificate with serial {0} for this user")]
    UnknownCertificate(String),
    #[error("certificate {0} is already revoked")]
    AlreadyRevoked(String),
    #[error("a revocation reason must be 1 to {MAX_REASON_CHARS} characters")]
    InvalidReason,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "charging-user-";

impl Aggregate for Customer {
    /// One aggregate per user relationship, named by the user's uid.
    type Id = Uid;

    fn stream_id(uid: &Uid) -> String {
        format!("{STREAM_PREFIX}{uid}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}

impl Decider for Customer {
    type State = CustomerState;
    type Command = CustomerCommand;
    type Event = CustomerEvent;
    type Error = CustomerError;

    fn decide(state: &CustomerState, command: CustomerCommand) -> Result<Vec<CustomerEvent>, CustomerError> {
        match command {
            CustomerCommand::RequestConnection { card, at } => request_connection(state, card, at),
            CustomerCommand::RequestCertificate(command) => request_certificate(state, *command),
            CustomerCommand::RevokeCertificate(command) => revoke_certificate(state, command),
        }
    }

    fn evolve(state: CustomerState, event: &CustomerEvent) -> CustomerState {
        state.evolve(event)
    }
}

fn request_connection(
    state: &CustomerState,
    card: ContactCard,
    at: DateTime<Utc>,
) -> Result<Vec<CustomerEvent>, CustomerError> {
    card.verify()?;
    if let Some(existing) = &state.relationship {
        // The uid is the key's hash, so the same uid means the same key; asking again is harmless.
        return if existing.public_key == card.card.public_key {
            Ok(vec![])
        } else {
            Err(CustomerError::AlreadyConnected)
        };
    }
    Ok(vec![CustomerEvent::ConnectionRequested {
        uid: card.card.uid.clone(),
        alias: card.card.alias.clone(),
        public_key: card.card.public_key,
        contact_card: card,
        at,
    }])
}

fn request_certificate(
    state: &CustomerState,
    command: CertificateRequestCommand,
) -> Result<Vec<CustomerEvent>, CustomerError> {
    let relationship = state.relationship.as_ref().ok_or(CustomerError::NotConnected)?;
    let proof = &command.request.proof;
    if proof.uid != relationship.uid {
        return Err(CustomerError::BadRequestSignature);
    }
    proof
        .verify(&relationship.public_key, CERTIFICATE_REQUEST_PURPOSE, &command.request.signature)
        .map_err(|_| CustomerError::BadRequestSignature)?;
    if !is_fresh(proof.requested_at, command.at) {
        return Err(CustomerError::StaleRequest);
    }
    let accepted = command.billing.accept(&command.card_token_key, command.at)?;
    if command.serial.is_empty()
        || command.serial.chars().count() > MAX_SERIAL_CHARS
        || relationship.certificates.contains_key(&command.serial)
    {
        return Err(CustomerError::InvalidSerial);
    }
    if command.validity <= Duration::zero() {
        return Err(CustomerError::InvalidValidity);
    }
    if !command.id_tags.iter().all(|t| valid_id_tag(&t.id_tag)) {
        return Err(CustomerError::InvalidIdTag);
    }

    let uid = relationship.uid.clone();
    let at = command.at;
    let mut events = vec![CustomerEvent::BillingAccepted {
        uid: uid.clone(),
        card_token: accepted.card_token.clone(),
        card_last4: accepted.card_last4.clone(),
        card_expiry: accepted.card_expiry.clone(),
        at,
    }];
    if relationship.trust == Trust::Untrusted {
        events.push(CustomerEvent::RelationshipTrusted { uid: uid.clone(), at });
    }
    for tag in command.id_tags.iter().filter(|t| !relationship.credentials.contains_key(&t.provider_uid)) {
        events.push(CustomerEvent::CredentialRegistered {
            uid: uid.clone(),
            provider_uid: tag.provider_uid.clone(),
            id_tag: tag.id_tag.clone(),
            at,
        });
    }
    // Whole seconds keep the certificate's canonical JSON short and the same in every language.
    let issued_at = at.duration_trunc(Duration::seconds(1)).unwrap_or(at);
    let body = CertificateBody {
        serial: command.serial.clone(),
        subject_uid: uid,
        subject_public_key: relationship.public_key,
        issuer_uid: Uid::of(&PublicKey::of(&command.authority_key)),
        issued_at,
        expires_at: issued_at + command.validity,
    };
    events
        .push(CustomerEvent::CertificateIssued { certificate: Certificate::issue(&command.authority_key, body)?, at });
    Ok(events)
}

fn valid_id_tag(tag: &str) -> bool {
    !tag.is_empty() && tag.len() <= MAX_ID_TAG_CHARS && tag.bytes().all(|b| b.is_ascii_graphic())
}

fn revoke_certificate(
    state: &CustomerState,
    command: RevokeCertificateCommand,
) -> Result<Vec<CustomerEvent>, CustomerError> {
    let relationship = state.relationship.as_ref().ok_or(CustomerError::NotConnected)?;
    let status = relationship
        .certificates
        .get(&command.serial)
        .ok_or_else(|| CustomerError::UnknownCertificate(command.serial.clone()))?;
    if status.revoked_at.is_some() {
        return Err(CustomerError::AlreadyRevoked(command.serial));
    }
    let reason_chars = command.reason.chars().count();
    if reason_chars == 0 || reason_chars > MAX_REASON_CHARS {
        return Err(CustomerError::InvalidReason);
    }
    Ok(vec![CustomerEvent::CertificateRevoked {
        uid: relationship.uid.clone(),
        serial: command.serial,
        reason: command.reason,
        at: command.at,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charging::authority::{ProviderIdTag, Relationship};
    use crate::charging::billing::{BillingDetails, CardTokenKey};
    use crate::charging::certificate::SignedCertificateRequest;
    use chrono::TimeZone;
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
        let result =
            Customer::decide(&CustomerState::default(), CustomerCommand::RequestConnection { card, at: clock() });
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
}
