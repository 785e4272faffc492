//! The Customer aggregate's rules.

use super::commands::{CertificateRequestCommand, CustomerCommand, RevokeCertificateCommand};
use super::events::CustomerEvent;
use super::state::{CustomerState, Trust};
use super::Customer;
use crate::charging::certificate::CERTIFICATE_REQUEST_PURPOSE;
use crate::charging::certificate::{is_fresh, Certificate, CertificateBody, MAX_SERIAL_CHARS};
use crate::charging::contact_card::ContactCard;
use crate::charging::crypto::{PublicKey, Uid};
use crate::charging::error::CustomerError;
use crate::Decider;
use chrono::{DateTime, Duration, DurationRound, Utc};

/// OCPP 1.6 IdToken is CiString20Type.
pub const MAX_ID_TAG_CHARS: usize = 20;

pub const MAX_REASON_CHARS: usize = 256;

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
