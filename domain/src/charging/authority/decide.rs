use super::commands::{AuthorityCommand, CertificateRequestCommand, RevokeCertificateCommand};
use super::events::AuthorityEvent;
use super::state::{Trust, UserState};
use crate::charging::billing::BillingError;
use crate::charging::certificate::CERTIFICATE_REQUEST_PURPOSE;
use crate::charging::certificate::{is_fresh, Certificate, CertificateBody, MAX_SERIAL_CHARS};
use crate::charging::contact_card::{ContactCard, ContactCardError};
use crate::charging::crypto::{self, CryptoError, PublicKey, Uid};
use crate::{Aggregate, Decider};
use chrono::{DateTime, Duration, DurationRound, Utc};

/// OCPP 1.6 IdToken is CiString20Type.
pub const MAX_ID_TAG_CHARS: usize = 20;
const MAX_REASON_CHARS: usize = 256;

pub struct AuthorityDecider;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
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

impl Aggregate for AuthorityDecider {
    /// One aggregate per user relationship, named by the user's uid.
    type Id = Uid;

    fn stream_id(uid: &Uid) -> String {
        format!("{STREAM_PREFIX}{uid}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}

impl Decider for AuthorityDecider {
    type State = UserState;
    type Command = AuthorityCommand;
    type Event = AuthorityEvent;
    type Error = AuthorityError;

    fn decide(state: &UserState, command: AuthorityCommand) -> Result<Vec<AuthorityEvent>, AuthorityError> {
        match command {
            AuthorityCommand::RequestConnection { card, now } => request_connection(state, card, now),
            AuthorityCommand::RequestCertificate(command) => request_certificate(state, *command),
            AuthorityCommand::RevokeCertificate(command) => revoke_certificate(state, command),
        }
    }

    fn evolve(state: UserState, event: &AuthorityEvent) -> UserState {
        state.evolve(event)
    }
}

fn request_connection(
    state: &UserState,
    card: Box<ContactCard>,
    now: DateTime<Utc>,
) -> Result<Vec<AuthorityEvent>, AuthorityError> {
    card.verify()?;
    if let Some(existing) = &state.relationship {
        // The uid is the key's hash, so the same uid means the same key; asking again is harmless.
        return if existing.public_key == card.card.public_key {
            Ok(vec![])
        } else {
            Err(AuthorityError::AlreadyConnected)
        };
    }
    Ok(vec![AuthorityEvent::ConnectionRequested {
        uid: card.card.uid.clone(),
        alias: card.card.alias.clone(),
        public_key: card.card.public_key,
        contact_card: *card,
        at: now,
    }])
}

fn request_certificate(
    state: &UserState,
    command: CertificateRequestCommand,
) -> Result<Vec<AuthorityEvent>, AuthorityError> {
    let relationship = state.relationship.as_ref().ok_or(AuthorityError::NotConnected)?;
    let proof = &command.request.proof;
    if proof.uid != relationship.uid {
        return Err(AuthorityError::BadRequestSignature);
    }
    crypto::verify(&relationship.public_key, CERTIFICATE_REQUEST_PURPOSE, proof, &command.request.signature)
        .map_err(|_| AuthorityError::BadRequestSignature)?;
    if !is_fresh(proof.requested_at, command.now) {
        return Err(AuthorityError::StaleRequest);
    }
    let accepted = command.billing.accept(&command.card_token_key, command.now)?;
    if command.serial.is_empty()
        || command.serial.chars().count() > MAX_SERIAL_CHARS
        || relationship.certificates.contains_key(&command.serial)
    {
        return Err(AuthorityError::InvalidSerial);
    }
    if command.validity <= Duration::zero() {
        return Err(AuthorityError::InvalidValidity);
    }
    if !command.id_tags.iter().all(|t| valid_id_tag(&t.id_tag)) {
        return Err(AuthorityError::InvalidIdTag);
    }

    let uid = relationship.uid.clone();
    let now = command.now;
    let mut events = vec![AuthorityEvent::BillingAccepted {
        uid: uid.clone(),
        card_token: accepted.card_token.clone(),
        card_last4: accepted.card_last4.clone(),
        card_expiry: accepted.card_expiry.clone(),
        at: now,
    }];
    if relationship.trust == Trust::Untrusted {
        events.push(AuthorityEvent::RelationshipTrusted { uid: uid.clone(), at: now });
    }
    for tag in command.id_tags.iter().filter(|t| !relationship.credentials.contains_key(&t.provider_uid)) {
        events.push(AuthorityEvent::CredentialRegistered {
            uid: uid.clone(),
            provider_uid: tag.provider_uid.clone(),
            id_tag: tag.id_tag.clone(),
            at: now,
        });
    }
    // Whole seconds keep the certificate's canonical JSON short and the same in every language.
    let issued_at = now.duration_trunc(Duration::seconds(1)).unwrap_or(now);
    let body = CertificateBody {
        serial: command.serial.clone(),
        subject_uid: uid,
        subject_public_key: relationship.public_key,
        issuer_uid: Uid::of(&PublicKey::of(&command.authority_key)),
        issued_at,
        expires_at: issued_at + command.validity,
    };
    events.push(AuthorityEvent::CertificateIssued {
        certificate: Certificate::issue(&command.authority_key, body)?,
        at: now,
    });
    Ok(events)
}

fn valid_id_tag(tag: &str) -> bool {
    !tag.is_empty() && tag.len() <= MAX_ID_TAG_CHARS && tag.bytes().all(|b| b.is_ascii_graphic())
}

fn revoke_certificate(
    state: &UserState,
    command: RevokeCertificateCommand,
) -> Result<Vec<AuthorityEvent>, AuthorityError> {
    let relationship = state.relationship.as_ref().ok_or(AuthorityError::NotConnected)?;
    let status = relationship
        .certificates
        .get(&command.serial)
        .ok_or_else(|| AuthorityError::UnknownCertificate(command.serial.clone()))?;
    if status.revoked_at.is_some() {
        return Err(AuthorityError::AlreadyRevoked(command.serial));
    }
    let reason_chars = command.reason.chars().count();
    if reason_chars == 0 || reason_chars > MAX_REASON_CHARS {
        return Err(AuthorityError::InvalidReason);
    }
    Ok(vec![AuthorityEvent::CertificateRevoked {
        uid: relationship.uid.clone(),
        serial: command.serial,
        reason: command.reason,
        at: command.now,
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

    fn now() -> DateTime<Utc> {
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

    fn connected() -> UserState {
        let events = AuthorityDecider::decide(
            &UserState::default(),
            AuthorityCommand::RequestConnection { card: Box::new(app_card()), now: now() },
        )
        .unwrap();
        AuthorityDecider::replay(&events)
    }

    fn certificate_request(card: &str, expiry: &str, cvc: &str) -> AuthorityCommand {
        AuthorityCommand::RequestCertificate(Box::new(CertificateRequestCommand {
            request: SignedCertificateRequest::sign(&app_key(), now()).unwrap(),
            billing: BillingDetails { cc_number: card.into(), expiry: expiry.into(), cvc: cvc.into() },
            card_token_key: CardTokenKey([9; 32]),
            authority_key: authority_key(),
            serial: "serial-1".into(),
            validity: Duration::days(365),
            id_tags: vec![ProviderIdTag { provider_uid: provider_uid(), id_tag: "TAG0001".into() }],
            now: now(),
        }))
    }

    #[test]
    fn a_connection_request_records_an_untrusted_relationship() {
        let state = connected();
        let r: &Relationship = state.relationship.as_ref().unwrap();
        assert_eq!(r.trust, Trust::Untrusted);
        assert_eq!(r.uid, app_card().card.uid);
        let again = AuthorityDecider::decide(
            &state,
            AuthorityCommand::RequestConnection { card: Box::new(app_card()), now: now() },
        );
        assert_eq!(again, Ok(vec![]), "asking again with the same card changes nothing");
    }

    #[test]
    fn a_tampered_contact_card_is_refused() {
        let mut card = app_card();
        card.card.alias = "mallory".into();
        let result = AuthorityDecider::decide(
            &UserState::default(),
            AuthorityCommand::RequestConnection { card: Box::new(card), now: now() },
        );
        assert_eq!(result, Err(AuthorityError::InvalidContactCard(ContactCardError::BadSignature)));
    }

    #[test]
    fn a_valid_certificate_request_trusts_registers_and_issues() {
        let events = AuthorityDecider::decide(&connected(), certificate_request(CARD, "12/2030", "123")).unwrap();
        let types: Vec<_> = events.iter().map(crate::DomainEvent::event_type).collect();
        assert_eq!(types, ["BillingAccepted", "RelationshipTrusted", "CredentialRegistered", "CertificateIssued"]);
        let json = serde_json::to_string(&events).unwrap();
        assert!(!json.contains(CARD), "the card number is never in an event");
        assert!(!json.contains("\"123\""), "the CVC is never in an event");
        let AuthorityEvent::CertificateIssued { certificate, .. } = &events[3] else { panic!("{events:?}") };
        assert_eq!(certificate.verify_issuer_signature(&PublicKey::of(&authority_key())), Ok(()));
        assert_eq!(certificate.certificate.subject_public_key, PublicKey::of(&app_key()));
        assert_eq!(certificate.certificate.expires_at, now() + Duration::days(365));
        let state = events.iter().fold(connected(), UserState::evolve);
        let r = state.relationship.unwrap();
        assert_eq!(r.trust, Trust::Trusted);
        assert_eq!(r.card_last4.as_deref(), Some("1111"));
        assert_eq!(r.credentials.get(&provider_uid()).map(String::as_str), Some("TAG0001"));
    }

    #[test]
    fn billing_refusals_are_clear_and_record_nothing() {
        let state = connected();
        assert_eq!(
            AuthorityDecider::decide(&state, certificate_request("4111111111111112", "12/2030", "123")),
            Err(AuthorityError::Billing(BillingError::LuhnCheckFailed))
        );
        assert_eq!(
            AuthorityDecider::decide(&state, certificate_request(CARD, "01/2020", "123")),
            Err(AuthorityError::Billing(BillingError::CardExpired("01/2020".into())))
        );
        assert_eq!(
            AuthorityDecider::decide(&state, certificate_request(CARD, "12/2030", "12")),
            Err(AuthorityError::Billing(BillingError::MalformedCvc))
        );
    }

    #[test]
    fn a_certificate_needs_a_connection_and_the_identitys_signature() {
        assert_eq!(
            AuthorityDecider::decide(&UserState::default(), certificate_request(CARD, "12/2030", "123")),
            Err(AuthorityError::NotConnected)
        );
        let AuthorityCommand::RequestCertificate(mut command) = certificate_request(CARD, "12/2030", "123") else {
            unreachable!()
        };
        let forged = SignedCertificateRequest::sign(&SigningKey::from_bytes(&[8; 32]), now()).unwrap();
        command.request.signature = forged.signature;
        assert_eq!(
            AuthorityDecider::decide(&connected(), AuthorityCommand::RequestCertificate(command)),
            Err(AuthorityError::BadRequestSignature)
        );
    }

    #[test]
    fn a_stale_request_and_an_overlong_id_tag_are_refused() {
        let AuthorityCommand::RequestCertificate(mut command) = certificate_request(CARD, "12/2030", "123") else {
            unreachable!()
        };
        command.now = now() + Duration::minutes(6);
        assert_eq!(
            AuthorityDecider::decide(&connected(), AuthorityCommand::RequestCertificate(command)),
            Err(AuthorityError::StaleRequest)
        );
        let AuthorityCommand::RequestCertificate(mut command) = certificate_request(CARD, "12/2030", "123") else {
            unreachable!()
        };
        command.id_tags[0].id_tag = "X".repeat(21);
        assert_eq!(
            AuthorityDecider::decide(&connected(), AuthorityCommand::RequestCertificate(command)),
            Err(AuthorityError::InvalidIdTag)
        );
    }

    #[test]
    fn revocation_marks_the_certificate_once() {
        let events = AuthorityDecider::decide(&connected(), certificate_request(CARD, "12/2030", "123")).unwrap();
        let state = events.iter().fold(connected(), UserState::evolve);
        let revoke = |serial: &str| {
            AuthorityCommand::RevokeCertificate(RevokeCertificateCommand {
                serial: serial.into(),
                reason: "phone lost".into(),
                now: now(),
            })
        };
        assert_eq!(
            AuthorityDecider::decide(&state, revoke("nope")),
            Err(AuthorityError::UnknownCertificate("nope".into()))
        );
        let revoked = AuthorityDecider::decide(&state, revoke("serial-1")).unwrap();
        let state = revoked.iter().fold(state, UserState::evolve);
        assert!(state.is_revoked("serial-1"));
        assert_eq!(
            AuthorityDecider::decide(&state, revoke("serial-1")),
            Err(AuthorityError::AlreadyRevoked("serial-1".into()))
        );
    }

    #[test]
    fn a_second_certificate_keeps_the_existing_credential() {
        let events = AuthorityDecider::decide(&connected(), certificate_request(CARD, "12/2030", "123")).unwrap();
        let state = events.iter().fold(connected(), UserState::evolve);
        let AuthorityCommand::RequestCertificate(mut command) = certificate_request(CARD, "12/2030", "123") else {
            unreachable!()
        };
        command.serial = "serial-2".into();
        let events = AuthorityDecider::decide(&state, AuthorityCommand::RequestCertificate(command)).unwrap();
        let types: Vec<_> = events.iter().map(crate::DomainEvent::event_type).collect();
        assert_eq!(types, ["BillingAccepted", "CertificateIssued"]);
    }
}
