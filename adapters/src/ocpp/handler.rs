//! Answers the calls a charge point makes, through the charging service.

use chrono::{DateTime, Utc};

use super::frame::{self, ErrorCode, Frame};
use super::messages::*;
use super::registry::CallFailure;
use crate::charging::{ChargingError, ChargingService};
use domain::charging::ChargePointError;

/// Seconds between heartbeats the charge point is asked for.
const HEARTBEAT_INTERVAL_S: u32 = 300;
/// MeterValue entries taken from one MeterValues or StopTransaction call.
const MAX_METER_VALUES: usize = 100;

/// Handles one text frame from `charge_point_id`; returns the frame to send back, if any.
pub async fn handle_text(service: &ChargingService, charge_point_id: &str, text: &str) -> Option<String> {
    match frame::parse(text) {
        Err(err) => {
            tracing::warn!(charge_point_id, code = ?err.code, "refused a malformed OCPP frame: {}", err.description);
            Some(err.to_text())
        }
        Ok(Frame::Call { id, action, payload }) => Some(match decode_request(&action, payload) {
            Err((code, description)) => {
                tracing::warn!(charge_point_id, action, ?code, "refused an OCPP call: {description}");
                frame::call_error(&id, code, &description)
            }
            Ok(request) => answer(service, charge_point_id, &id, request).await,
        }),
        Ok(Frame::CallResult { id, payload }) => {
            service.registry().answer(charge_point_id, &id, Ok(payload));
            None
        }
        Ok(Frame::CallError { id, code, description }) => {
            service.registry().answer(charge_point_id, &id, Err(CallFailure::CallError { code, description }));
            None
        }
    }
}

async fn answer(service: &ChargingService, cp: &str, id: &str, request: ChargePointRequest) -> String {
    let now = Utc::now();
    match request {
        ChargePointRequest::BootNotification(boot) => {
            match service.record_boot(cp, &boot.charge_point_vendor, &boot.charge_point_model, now).await {
                Ok(()) => frame::call_result(
                    id,
                    &BootNotificationConf {
                        status: RegistrationStatus::Accepted,
                        current_time: now,
                        interval: HEARTBEAT_INTERVAL_S,
                    },
                ),
                Err(err) => internal(id, &err),
            }
        }
        ChargePointRequest::Heartbeat(_) => frame::call_result(id, &HeartbeatConf { current_time: now }),
        ChargePointRequest::StatusNotification(status) => {
            tracing::debug!(cp, connector = status.connector_id, status = status.status, "status notification");
            frame::call_result(id, &EmptyConf {})
        }
        ChargePointRequest::Authorize(request) => {
            let status = status_of(service.authorize(cp, &request.id_tag, now).await, cp);
            frame::call_result(id, &AuthorizeConf { id_tag_info: IdTagInfo { status } })
        }
        ChargePointRequest::StartTransaction(start) => start_transaction(service, cp, id, start, now).await,
        ChargePointRequest::MeterValues(values) => meter_values(service, cp, id, values).await,
        ChargePointRequest::StopTransaction(stop) => stop_transaction(service, cp, id, stop).await,
    }
}

async fn start_transaction(
    service: &ChargingService,
    cp: &str,
    id: &str,
    start: StartTransactionReq,
    now: DateTime<Utc>,
) -> String {
    let result =
        service.start_charging(cp, start.connector_id, &start.id_tag, start.meter_start, start.timestamp, now).await;
    let (transaction_id, status) = match result {
        Ok(transaction_id) => (transaction_id, AuthorizationStatus::Accepted),
        // OCPP requires a transaction id even when refusing; 0 is never one notch assigns.
        Err(err) => (0, status_of(Err(err), cp)),
    };
    frame::call_result(id, &StartTransactionConf { id_tag_info: IdTagInfo { status }, transaction_id })
}

/// Records the energy register of each sampled value; other measurands are ignored.
async fn meter_values(service: &ChargingService, cp: &str, id: &str, values: MeterValuesReq) -> String {
    let Some(transaction_id) = values.transaction_id else {
        return frame::call_result(id, &EmptyConf {});
    };
    if values.meter_value.len() > MAX_METER_VALUES {
        return frame::call_error(id, ErrorCode::OccurenceConstraintViolation, "too many meterValue entries");
    }
    for value in &values.meter_value {
        let Some(energy_wh) = value.sampled_value.iter().find_map(energy_register_wh) else {
            continue;
        };
        let recorded =
            service.record_meter_value(cp, transaction_id, values.connector_id, energy_wh, value.timestamp).await;
        if let Err(err) = recorded {
            return refusal(id, &err);
        }
    }
    frame::call_result(id, &EmptyConf {})
}

async fn stop_transaction(service: &ChargingService, cp: &str, id: &str, stop: StopTransactionReq) -> String {
    let data = stop.transaction_data.as_deref().unwrap_or_default();
    if data.len() > MAX_METER_VALUES {
        return frame::call_error(id, ErrorCode::OccurenceConstraintViolation, "too many transactionData entries");
    }
    match service.stop_charging(cp, stop.transaction_id, stop.meter_stop, stop.timestamp, stop.reason).await {
        Ok(()) => frame::call_result(
            id,
            &StopTransactionConf { id_tag_info: Some(IdTagInfo { status: AuthorizationStatus::Accepted }) },
        ),
        Err(err) => refusal(id, &err),
    }
}

/// The OCPP authorization status for a provider decision.
fn status_of(result: Result<(), ChargingError>, cp: &str) -> AuthorizationStatus {
    match result {
        Ok(()) => AuthorizationStatus::Accepted,
        Err(err) => {
            tracing::info!(cp, "id tag refused: {err}");
            match err {
                ChargingError::ChargePoint(ChargePointError::CertificateExpired(_)) => AuthorizationStatus::Expired,
                ChargingError::ChargePoint(
                    ChargePointError::CertificateRevoked(_) | ChargePointError::UnknownAuthority(_),
                ) => AuthorizationStatus::Blocked,
                _ => AuthorizationStatus::Invalid,
            }
        }
    }
}

/// A refusal of the rules, answered as a CallError naming it.
fn refusal(id: &str, err: &ChargingError) -> String {
    match err {
        ChargingError::Log(_) => internal(id, err),
        _ => frame::call_error(id, ErrorCode::PropertyConstraintViolation, &err.to_string()),
    }
}

fn internal(id: &str, err: &ChargingError) -> String {
    tracing::error!("OCPP call failed: {err}");
    frame::call_error(id, ErrorCode::InternalError, "the central system could not record this; retry")
}
