//! The ChargePoint aggregate's rules.

use super::commands::{ChargePointCommand, TrustContext};
use super::ChargePoint;
use crate::charging::certificate::{is_fresh, SocketRequest};
use crate::charging::charge_point::ChargePointEvent;
use crate::charging::charge_point::{ChargePointState, EnabledSocket};
use crate::charging::error::ChargePointError;
use crate::Decider;
use chrono::{DateTime, Utc};

impl Decider for ChargePoint {
    type State = ChargePointState;
    type Command = ChargePointCommand;
    type Event = ChargePointEvent;
    type Error = ChargePointError;

    fn decide(
        state: &ChargePointState,
        command: ChargePointCommand,
    ) -> Result<Vec<ChargePointEvent>, ChargePointError> {
        match command {
            ChargePointCommand::RecordBoot { charge_point_id, vendor, model, at } => {
                Ok(vec![ChargePointEvent::ChargePointBooted { charge_point_id, vendor, model, at }])
            }
            ChargePointCommand::EnableSocket { charge_point_id, request, context, at } => {
                enable_socket(state, &charge_point_id, &request, &context, at)
            }
            ChargePointCommand::StartCharging { .. } => start_charging(state, command),
            ChargePointCommand::RecordMeterValue { transaction_id, connector_id, energy_wh, sampled_at } => {
                record_meter_value(state, transaction_id, connector_id, energy_wh, sampled_at)
            }
            ChargePointCommand::StopCharging { .. } => stop_charging(state, command),
        }
    }

    fn evolve(state: ChargePointState, event: &ChargePointEvent) -> ChargePointState {
        state.evolve(event)
    }
}

fn start_charging(
    state: &ChargePointState,
    command: ChargePointCommand,
) -> Result<Vec<ChargePointEvent>, ChargePointError> {
    let ChargePointCommand::StartCharging {
        charge_point_id,
        connector_id,
        id_tag,
        meter_start_wh,
        started_at,
        context,
        at,
    } = command
    else {
        unreachable!("decide routes only StartCharging here")
    };
    let (enabled_on, socket) = authorize(state, &id_tag, &context, at)?;
    if enabled_on != connector_id {
        return Err(ChargePointError::WrongConnector { id_tag, enabled: enabled_on, requested: connector_id });
    }
    if meter_start_wh < 0 {
        return Err(ChargePointError::NegativeMeter);
    }
    Ok(vec![ChargePointEvent::ChargingStarted {
        charge_point_id,
        transaction_id: state.transactions_started + 1,
        connector_id,
        uid: socket.uid.clone(),
        id_tag,
        certificate_serial: socket.certificate_serial.clone(),
        meter_start_wh,
        started_at,
        at,
    }])
}

fn record_meter_value(
    state: &ChargePointState,
    transaction_id: i32,
    connector_id: u32,
    energy_wh: i64,
    sampled_at: DateTime<Utc>,
) -> Result<Vec<ChargePointEvent>, ChargePointError> {
    let session = state.sessions.get(&transaction_id).ok_or(ChargePointError::UnknownTransaction(transaction_id))?;
    if energy_wh < session.last_energy_wh {
        return Err(ChargePointError::MeterWentBackwards {
            previous_wh: session.last_energy_wh,
            reading_wh: energy_wh,
        });
    }
    Ok(vec![ChargePointEvent::MeterValueRecorded { transaction_id, connector_id, energy_wh, sampled_at }])
}

/// The session ends and is billed in the same append: a stop without its bill cannot be recorded.
fn stop_charging(
    state: &ChargePointState,
    command: ChargePointCommand,
) -> Result<Vec<ChargePointEvent>, ChargePointError> {
    let ChargePointCommand::StopCharging { charge_point_id, transaction_id, meter_stop_wh, stopped_at, reason } =
        command
    else {
        unreachable!("decide routes only StopCharging here")
    };
    let session = state.sessions.get(&transaction_id).ok_or(ChargePointError::UnknownTransaction(transaction_id))?;
    if meter_stop_wh < session.meter_start_wh {
        return Err(ChargePointError::MeterWentBackwards {
            previous_wh: session.meter_start_wh,
            reading_wh: meter_stop_wh,
        });
    }
    if stopped_at < session.started_at {
        return Err(ChargePointError::StopBeforeStart { started_at: session.started_at, stopped_at });
    }
    Ok(vec![
        ChargePointEvent::ChargingStopped { transaction_id, meter_stop_wh, stopped_at, reason },
        ChargePointEvent::BillRecorded {
            charge_point_id,
            transaction_id,
            connector_id: session.connector_id,
            uid: session.uid.clone(),
            id_tag: session.id_tag.clone(),
            certificate_serial: session.certificate_serial.clone(),
            meter_start_wh: session.meter_start_wh,
            meter_stop_wh,
            energy_wh: meter_stop_wh - session.meter_start_wh,
            started_at: session.started_at,
            stopped_at,
        },
    ])
}

fn enable_socket(
    state: &ChargePointState,
    charge_point_id: &str,
    request: &SocketRequest,
    context: &TrustContext,
    at: DateTime<Utc>,
) -> Result<Vec<ChargePointEvent>, ChargePointError> {
    request.verify_signer().map_err(|_| ChargePointError::BadRequestSignature)?;
    let body = &request.request;
    let certificate = &body.certificate.certificate;
    if request.signer_public_key != certificate.subject_public_key {
        return Err(ChargePointError::WrongKey);
    }
    let issuer_key = context
        .authorities
        .0
        .get(&certificate.issuer_uid)
        .ok_or_else(|| ChargePointError::UnknownAuthority(certificate.issuer_uid.clone()))?;
    body.certificate
        .verify_issuer_signature(issuer_key)
        .map_err(|_| ChargePointError::TamperedCertificate(certificate.issuer_uid.clone()))?;
    check_validity(&certificate.serial, certificate.issued_at, certificate.expires_at, context, at)?;
    if !is_fresh(body.requested_at, at) {
        return Err(ChargePointError::StaleRequest);
    }
    if body.charge_point_id != charge_point_id {
        return Err(ChargePointError::WrongChargePoint(body.charge_point_id.clone()));
    }
    let id_tag = context.user.id_tag_for(&context.provider_uid).ok_or(ChargePointError::NoCredential)?;
    let connector_id = body.connector_id;
    if connector_id == 0 {
        return Err(ChargePointError::InvalidConnector(0));
    }
    let in_session = state.sessions.values().any(|s| s.connector_id == connector_id);
    let enabled_for_other = state.enabled.get(&connector_id).is_some_and(|s| s.uid != certificate.subject_uid);
    if in_session || enabled_for_other {
        return Err(ChargePointError::SocketBusy(connector_id));
    }
    Ok(vec![ChargePointEvent::SocketEnabled {
        charge_point_id: charge_point_id.to_owned(),
        connector_id,
        uid: certificate.subject_uid.clone(),
        id_tag: id_tag.to_owned(),
        certificate_serial: certificate.serial.clone(),
        issuer_uid: certificate.issuer_uid.clone(),
        at,
    }])
}

fn check_validity(
    serial: &str,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    context: &TrustContext,
    at: DateTime<Utc>,
) -> Result<(), ChargePointError> {
    if at >= expires_at {
        return Err(ChargePointError::CertificateExpired(expires_at));
    }
    if at < issued_at {
        return Err(ChargePointError::CertificateNotYetValid(issued_at));
    }
    let status = context
        .user
        .relationship
        .as_ref()
        .and_then(|r| r.certificates.get(serial))
        .ok_or_else(|| ChargePointError::UnknownCertificate(serial.to_owned()))?;
    if status.revoked_at.is_some() {
        return Err(ChargePointError::CertificateRevoked(serial.to_owned()));
    }
    Ok(())
}

/// Whether an id tag may charge here at (OCPP Authorize and StartTransaction): it must be enabled on a
/// socket of this charge point, and the certificate it was enabled with must still be unexpired, unrevoked
/// and from an authority the provider still trusts.
pub fn authorize<'s>(
    state: &'s ChargePointState,
    id_tag: &str,
    context: &TrustContext,
    at: DateTime<Utc>,
) -> Result<(u32, &'s EnabledSocket), ChargePointError> {
    let (connector_id, socket) =
        state.enabled_for(id_tag).ok_or_else(|| ChargePointError::IdTagNotEnabled(id_tag.to_owned()))?;
    if !context.authorities.0.contains_key(&socket.issuer_uid) {
        return Err(ChargePointError::UnknownAuthority(socket.issuer_uid.clone()));
    }
    let status = context
        .user
        .relationship
        .as_ref()
        .and_then(|r| r.certificates.get(&socket.certificate_serial))
        .ok_or_else(|| ChargePointError::UnknownCertificate(socket.certificate_serial.clone()))?;
    if at >= status.expires_at {
        return Err(ChargePointError::CertificateExpired(status.expires_at));
    }
    if status.revoked_at.is_some() {
        return Err(ChargePointError::CertificateRevoked(socket.certificate_serial.clone()));
    }
    Ok((connector_id, socket))
}
