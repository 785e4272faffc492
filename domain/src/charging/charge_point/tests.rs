//! Charge point rules, with the certificate and the user's relationship made by the real authority decider.

use super::*;
use crate::charging::billing::{BillingDetails, CardTokenKey};
use crate::charging::certificate::{Certificate, SignedCertificateRequest, SocketRequest, SocketRequestBody};
use crate::charging::contact_card::ContactCard;
use crate::charging::crypto::{PublicKey, Uid};
use crate::charging::customer::{
    CertificateRequestCommand, Customer, CustomerCommand, CustomerEvent, CustomerState, ProviderIdTag,
    RevokeCertificateCommand,
};
use crate::charging::trust_list::TrustListState;
use crate::charging::ChargePointError;
use crate::Decider;
use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::SigningKey;

const CP: &str = "CP-1";

fn clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}
fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}
fn app() -> SigningKey {
    key(1)
}
fn authority() -> SigningKey {
    key(2)
}
fn provider_uid() -> Uid {
    Uid::of(&PublicKey::of(&key(3)))
}

/// The user's relationship after connecting and obtaining a certificate valid for `validity`.
fn user_with_certificate(issuer: &SigningKey, validity: Duration) -> (CustomerState, Certificate) {
    let card = ContactCard::create(&app(), "alice", vec![], None).unwrap();
    let connect = CustomerCommand::RequestConnection { card, at: clock() };
    let mut events = Customer::decide(&CustomerState::default(), connect).unwrap();
    let state = Customer::replay(&events);
    let request = CustomerCommand::RequestCertificate(Box::new(CertificateRequestCommand {
        request: SignedCertificateRequest::sign(&app(), clock()).unwrap(),
        billing: BillingDetails { cc_number: "4111111111111111".into(), expiry: "12/30".into(), cvc: "123".into() },
        card_token_key: CardTokenKey([9; 32]),
        authority_key: issuer.clone(),
        serial: "S1".into(),
        validity,
        id_tags: vec![ProviderIdTag { provider_uid: provider_uid(), id_tag: "TAG-ALICE".into() }],
        at: clock(),
    }));
    events.extend(Customer::decide(&state, request).unwrap());
    let certificate = events
        .iter()
        .find_map(|e| match e {
            CustomerEvent::CertificateIssued { certificate, .. } => Some(certificate.clone()),
            _ => None,
        })
        .unwrap();
    (Customer::replay(&events), certificate)
}

fn context(user: CustomerState) -> TrustContext {
    let trusted = TrustListState([(Uid::of(&PublicKey::of(&authority())), PublicKey::of(&authority()))].into());
    TrustContext { provider_uid: provider_uid(), authorities: trusted, user }
}

fn socket_request(signer: &SigningKey, certificate: Certificate) -> Box<SocketRequest> {
    let body = SocketRequestBody { certificate, charge_point_id: CP.into(), connector_id: 1, requested_at: clock() };
    Box::new(SocketRequest::sign(signer, body).unwrap())
}

fn enable(
    request: Box<SocketRequest>,
    user: CustomerState,
    at: DateTime<Utc>,
) -> Result<Vec<ChargePointEvent>, ChargePointError> {
    let command = ChargePointCommand::EnableSocket { charge_point_id: CP.into(), request, context: context(user), at };
    ChargePoint::decide(&ChargePointState::default(), command)
}

#[test]
fn a_valid_certificate_enables_the_socket_for_the_users_credential() {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    let events = enable(socket_request(&app(), certificate), user, clock()).unwrap();
    let [ChargePointEvent::SocketEnabled { connector_id, uid, id_tag, certificate_serial, .. }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!((*connector_id, id_tag.as_str(), certificate_serial.as_str()), (1, "TAG-ALICE", "S1"));
    assert_eq!(uid, &Uid::of(&PublicKey::of(&app())));
}

#[test]
fn a_tampered_certificate_is_refused() {
    let (user, mut certificate) = user_with_certificate(&authority(), Duration::days(30));
    certificate.certificate = certificate.certificate.edited(|body| body.expires_at += Duration::days(3650)).unwrap();
    let result = enable(socket_request(&app(), certificate), user, clock());
    assert_eq!(result, Err(ChargePointError::TamperedCertificate(Uid::of(&PublicKey::of(&authority())))));
}

#[test]
fn an_expired_certificate_is_refused() {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    let later = clock() + Duration::days(31);
    let mut body = socket_request(&app(), certificate.clone()).request.into_parsed();
    body.requested_at = later;
    let request = Box::new(SocketRequest::sign(&app(), body).unwrap());
    assert_eq!(enable(request, user, later), Err(ChargePointError::CertificateExpired(clock() + Duration::days(30))));
}

#[test]
fn a_revoked_certificate_is_refused() {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    let revoke = CustomerCommand::RevokeCertificate(RevokeCertificateCommand {
        serial: "S1".into(),
        reason: "lost".into(),
        at: clock(),
    });
    let revoked = Customer::decide(&user, revoke).unwrap();
    let user = revoked.iter().fold(user, CustomerState::evolve);
    assert_eq!(
        enable(socket_request(&app(), certificate), user, clock()),
        Err(ChargePointError::CertificateRevoked("S1".into()))
    );
}

#[test]
fn a_certificate_presented_with_another_key_is_refused() {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    assert_eq!(
        enable(socket_request(&key(5), certificate.clone()), user.clone(), clock()),
        Err(ChargePointError::WrongKey)
    );
    // Naming the subject's key while signing with another one fails the request signature instead.
    let mut request = socket_request(&key(5), certificate);
    request.signer_public_key = PublicKey::of(&app());
    assert_eq!(enable(request, user, clock()), Err(ChargePointError::BadRequestSignature));
}

#[test]
fn a_certificate_from_an_unknown_authority_is_refused() {
    let rogue = key(4);
    let (user, certificate) = user_with_certificate(&rogue, Duration::days(30));
    assert_eq!(
        enable(socket_request(&app(), certificate), user, clock()),
        Err(ChargePointError::UnknownAuthority(Uid::of(&PublicKey::of(&rogue))))
    );
}

#[test]
fn a_stale_request_and_a_user_without_credential_are_refused() {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    let result = enable(socket_request(&app(), certificate.clone()), user.clone(), clock() + Duration::minutes(10));
    assert_eq!(result, Err(ChargePointError::StaleRequest));
    let mut without = user;
    without.relationship.as_mut().unwrap().credentials.clear();
    assert_eq!(enable(socket_request(&app(), certificate), without, clock()), Err(ChargePointError::NoCredential));
}

/// Enabled socket, then a session with the given meter readings; returns the state and the events.
fn run_session(meter_start_wh: i64, meter_stop_wh: i64) -> Result<Vec<ChargePointEvent>, ChargePointError> {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    let mut events = enable(socket_request(&app(), certificate), user.clone(), clock()).unwrap();
    let state = ChargePoint::replay(&events);
    let start = ChargePointCommand::StartCharging {
        charge_point_id: CP.into(),
        connector_id: 1,
        id_tag: "TAG-ALICE".into(),
        meter_start_wh,
        started_at: clock(),
        context: context(user),
        at: clock(),
    };
    events.extend(ChargePoint::decide(&state, start)?);
    let state = ChargePoint::replay(&events);
    let meter = ChargePointCommand::RecordMeterValue {
        transaction_id: 1,
        connector_id: 1,
        energy_wh: meter_start_wh + 10,
        sampled_at: clock() + Duration::minutes(5),
    };
    events.extend(ChargePoint::decide(&state, meter)?);
    let state = ChargePoint::replay(&events);
    let stop = ChargePointCommand::StopCharging {
        charge_point_id: CP.into(),
        transaction_id: 1,
        meter_stop_wh,
        stopped_at: clock() + Duration::minutes(30),
        reason: Some("Local".into()),
    };
    events.extend(ChargePoint::decide(&state, stop)?);
    Ok(events)
}

#[test]
fn a_session_ends_in_a_bill_with_the_metered_energy_and_times() {
    let events = run_session(1000, 8500).unwrap();
    let types: Vec<_> = events.iter().map(crate::DomainEvent::event_type).collect();
    assert_eq!(types, ["SocketEnabled", "ChargingStarted", "MeterValueRecorded", "ChargingStopped", "BillRecorded"]);
    let Some(ChargePointEvent::BillRecorded { energy_wh, started_at, stopped_at, transaction_id, .. }) = events.last()
    else {
        panic!("{events:?}")
    };
    assert_eq!((*energy_wh, *transaction_id), (7500, 1));
    assert_eq!((*started_at, *stopped_at), (clock(), clock() + Duration::minutes(30)));
    let state = ChargePoint::replay(&events);
    assert!(state.sessions.is_empty() && state.enabled.is_empty());
}

#[test]
fn a_meter_that_runs_backwards_is_refused() {
    assert_eq!(
        run_session(1000, 999),
        Err(ChargePointError::MeterWentBackwards { previous_wh: 1000, reading_wh: 999 })
    );
}

#[test]
fn only_enabled_id_tags_of_valid_certificates_are_authorized() {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    let events = enable(socket_request(&app(), certificate), user.clone(), clock()).unwrap();
    let state = ChargePoint::replay(&events);
    assert!(authorize(&state, "TAG-ALICE", &context(user.clone()), clock()).is_ok());
    assert_eq!(
        authorize(&state, "TAG-BOB", &context(user.clone()), clock()).map(|_| ()),
        Err(ChargePointError::IdTagNotEnabled("TAG-BOB".into()))
    );
    let revoke = CustomerCommand::RevokeCertificate(RevokeCertificateCommand {
        serial: "S1".into(),
        reason: "lost".into(),
        at: clock(),
    });
    let revoked = Customer::decide(&user, revoke).unwrap();
    let user = revoked.iter().fold(user, CustomerState::evolve);
    assert_eq!(
        authorize(&state, "TAG-ALICE", &context(user.clone()), clock()).map(|_| ()),
        Err(ChargePointError::CertificateRevoked("S1".into()))
    );
    let start = ChargePointCommand::StartCharging {
        charge_point_id: CP.into(),
        connector_id: 1,
        id_tag: "TAG-ALICE".into(),
        meter_start_wh: 0,
        started_at: clock(),
        context: context(user),
        at: clock(),
    };
    assert_eq!(ChargePoint::decide(&state, start), Err(ChargePointError::CertificateRevoked("S1".into())));
}

#[test]
fn stopping_an_unknown_transaction_is_refused() {
    let stop = ChargePointCommand::StopCharging {
        charge_point_id: CP.into(),
        transaction_id: 7,
        meter_stop_wh: 1,
        stopped_at: clock(),
        reason: None,
    };
    assert_eq!(ChargePoint::decide(&ChargePointState::default(), stop), Err(ChargePointError::UnknownTransaction(7)));
}

#[test]
fn a_request_for_another_charge_point_or_a_missing_connector_is_refused() {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    let command = ChargePointCommand::EnableSocket {
        charge_point_id: "CP-2".into(),
        request: socket_request(&app(), certificate.clone()),
        context: context(user.clone()),
        at: clock(),
    };
    assert_eq!(
        ChargePoint::decide(&ChargePointState::default(), command),
        Err(ChargePointError::WrongChargePoint(CP.into()))
    );
    let mut body = socket_request(&app(), certificate).request.into_parsed();
    body.connector_id = 0;
    let request = Box::new(SocketRequest::sign(&app(), body).unwrap());
    assert_eq!(enable(request, user, clock()), Err(ChargePointError::InvalidConnector(0)));
}

#[test]
fn a_certificate_the_log_does_not_know_is_refused() {
    let (mut user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    user.relationship.as_mut().unwrap().certificates.clear();
    assert_eq!(
        enable(socket_request(&app(), certificate), user, clock()),
        Err(ChargePointError::UnknownCertificate("S1".into()))
    );
}

#[test]
fn a_socket_in_use_is_refused() {
    let (user, certificate) = user_with_certificate(&authority(), Duration::days(30));
    let events = enable(socket_request(&app(), certificate.clone()), user.clone(), clock()).unwrap();
    let state = ChargePoint::replay(&events);
    let start = ChargePointCommand::StartCharging {
        charge_point_id: CP.into(),
        connector_id: 1,
        id_tag: "TAG-ALICE".into(),
        meter_start_wh: 0,
        started_at: clock(),
        context: context(user.clone()),
        at: clock(),
    };
    let started = ChargePoint::decide(&state, start).unwrap();
    let state = started.iter().fold(state, ChargePoint::evolve);
    let again = ChargePointCommand::EnableSocket {
        charge_point_id: CP.into(),
        request: socket_request(&app(), certificate),
        context: context(user),
        at: clock(),
    };
    assert_eq!(ChargePoint::decide(&state, again), Err(ChargePointError::SocketBusy(1)));
}
