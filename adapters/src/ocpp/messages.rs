//! OCPP 1.6 payloads notch exchanges, with the specification's exact field names.

use super::frame::ErrorCode;
use super::time::ocpp_time;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootNotificationReq {
    pub charge_point_vendor: String,
    pub charge_point_model: String,
    pub charge_point_serial_number: Option<String>,
    pub charge_box_serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub meter_type: Option<String>,
    pub meter_serial_number: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RegistrationStatus {
    Accepted,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotificationConf {
    pub status: RegistrationStatus,
    pub current_time: DateTime<Utc>,
    /// Heartbeat interval in seconds.
    pub interval: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatReq {}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatConf {
    pub current_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusNotificationReq {
    pub connector_id: u32,
    pub error_code: String,
    pub status: String,
    pub info: Option<String>,
    #[serde(default, deserialize_with = "ocpp_time::optional")]
    pub timestamp: Option<DateTime<Utc>>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
}

/// Conf payloads that carry nothing (StatusNotification, MeterValues).
#[derive(Debug, Clone, Serialize)]
pub struct EmptyConf {}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeReq {
    pub id_tag: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthorizationStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
    ConcurrentTx,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdTagInfo {
    pub status: AuthorizationStatus,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeConf {
    pub id_tag_info: IdTagInfo,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartTransactionReq {
    pub connector_id: u32,
    pub id_tag: String,
    /// Wh, the energy register at the start.
    pub meter_start: i64,
    pub reservation_id: Option<i64>,
    #[serde(deserialize_with = "ocpp_time::required")]
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTransactionConf {
    pub id_tag_info: IdTagInfo,
    pub transaction_id: i32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SampledValue {
    pub value: String,
    pub context: Option<String>,
    pub format: Option<String>,
    pub measurand: Option<String>,
    pub phase: Option<String>,
    pub location: Option<String>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeterValue {
    #[serde(deserialize_with = "ocpp_time::required")]
    pub timestamp: DateTime<Utc>,
    pub sampled_value: Vec<SampledValue>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeterValuesReq {
    pub connector_id: u32,
    pub transaction_id: Option<i32>,
    pub meter_value: Vec<MeterValue>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StopTransactionReq {
    pub id_tag: Option<String>,
    /// Wh, the energy register at the stop.
    pub meter_stop: i64,
    #[serde(deserialize_with = "ocpp_time::required")]
    pub timestamp: DateTime<Utc>,
    pub transaction_id: i32,
    pub reason: Option<String>,
    pub transaction_data: Option<Vec<MeterValue>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopTransactionConf {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_tag_info: Option<IdTagInfo>,
}

/// Sent by notch to a charge point for a socket a user enabled.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteStartTransactionReq {
    pub connector_id: u32,
    pub id_tag: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RemoteStartStopStatus {
    Accepted,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteStartTransactionConf {
    pub status: RemoteStartStopStatus,
}

/// A call a charge point sent, decoded by action.
#[derive(Debug, Clone, PartialEq)]
pub enum ChargePointRequest {
    BootNotification(BootNotificationReq),
    Heartbeat(HeartbeatReq),
    StatusNotification(StatusNotificationReq),
    Authorize(AuthorizeReq),
    StartTransaction(StartTransactionReq),
    MeterValues(MeterValuesReq),
    StopTransaction(StopTransactionReq),
}

/// Actions of OCPP 1.6 a charge point may send that notch recognizes but does not handle.
const RECOGNIZED_UNSUPPORTED: [&str; 3] =
    ["DataTransfer", "DiagnosticsStatusNotification", "FirmwareStatusNotification"];

pub fn decode_request(action: &str, payload: Value) -> Result<ChargePointRequest, (ErrorCode, String)> {
    fn typed<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T, (ErrorCode, String)> {
        serde_json::from_value(payload).map_err(|e| (error_code_of(&e), e.to_string()))
    }
    match action {
        "BootNotification" => typed(payload).map(ChargePointRequest::BootNotification),
        "Heartbeat" => typed(payload).map(ChargePointRequest::Heartbeat),
        "StatusNotification" => typed(payload).map(ChargePointRequest::StatusNotification),
        "Authorize" => typed(payload).map(ChargePointRequest::Authorize),
        "StartTransaction" => typed(payload).map(ChargePointRequest::StartTransaction),
        "MeterValues" => typed(payload).map(ChargePointRequest::MeterValues),
        "StopTransaction" => typed(payload).map(ChargePointRequest::StopTransaction),
        _ if RECOGNIZED_UNSUPPORTED.contains(&action) => {
            Err((ErrorCode::NotSupported, format!("{action} is not supported")))
        }
        _ => Err((ErrorCode::NotImplemented, format!("unknown action {action:?}"))),
    }
}

/// Maps serde's complaint onto the OCPP error code that names it.
fn error_code_of(error: &serde_json::Error) -> ErrorCode {
    let message = error.to_string();
    if message.starts_with("invalid type") {
        ErrorCode::TypeConstraintViolation
    } else if message.starts_with("missing field") {
        ErrorCode::OccurenceConstraintViolation
    } else if message.starts_with("unknown variant")
        || message.starts_with("invalid value")
        || message.starts_with("invalid length")
        || message.contains("timestamp")
    {
        ErrorCode::PropertyConstraintViolation
    } else {
        ErrorCode::FormationViolation
    }
}

/// The energy register reading in whole Wh from a MeterValues sample, if the sample is one: measurand
/// Energy.Active.Import.Register (OCPP's default), unit Wh (default) or kWh, decimal text, rounded half up.
pub fn energy_register_wh(sample: &SampledValue) -> Option<i64> {
    let measurand = sample.measurand.as_deref().unwrap_or("Energy.Active.Import.Register");
    if measurand != "Energy.Active.Import.Register" {
        return None;
    }
    let scale_digits = match sample.unit.as_deref().unwrap_or("Wh") {
        "Wh" => 0,
        "kWh" => 3,
        _ => return None,
    };
    decimal_scaled(&sample.value, scale_digits)
}

/// Exact decimal parsing: `text` times 10^`scale_digits`, rounded half up, with no floating point.
fn decimal_scaled(text: &str, scale_digits: usize) -> Option<i64> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) || whole.len() > 15 {
        return None;
    }
    let mut padded: String = fraction.chars().chain(std::iter::repeat('0')).take(scale_digits + 1).collect();
    let round_digit = padded.pop().and_then(|c| c.to_digit(10))?;
    let scaled: i64 = format!("{whole}{padded}").parse().ok()?;
    Some(if round_digit >= 5 { scaled + 1 } else { scaled })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_decode_with_ocpp_field_names() {
        let request = decode_request(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "T1", "meterStart": 1000, "timestamp": "2026-11-22T12:00:00Z"}),
        )
        .unwrap();
        let ChargePointRequest::StartTransaction(start) = request else { panic!() };
        assert_eq!((start.connector_id, start.id_tag.as_str(), start.meter_start), (1, "T1", 1000));
    }

    #[test]
    fn naive_timestamps_are_read_as_utc() {
        let request = decode_request(
            "StopTransaction",
            json!({"meterStop": 5, "timestamp": "2026-11-22T12:00:00.5", "transactionId": 1}),
        )
        .unwrap();
        let ChargePointRequest::StopTransaction(stop) = request else { panic!() };
        assert_eq!(stop.timestamp.to_rfc3339(), "2026-11-22T12:00:00.500+00:00");
    }

    #[test]
    fn bad_payloads_get_the_matching_error_code() {
        let code = |action: &str, payload| decode_request(action, payload).unwrap_err().0;
        assert_eq!(code("Authorize", json!({"idTag": 5})), ErrorCode::TypeConstraintViolation);
        assert_eq!(code("Authorize", json!({})), ErrorCode::OccurenceConstraintViolation);
        assert_eq!(code("Authorize", json!({"idTag": "a", "x": 1})), ErrorCode::FormationViolation);
        assert_eq!(
            code(
                "StartTransaction",
                json!({"connectorId": 1, "idTag": "T", "meterStart": 1, "timestamp": "yesterday"})
            ),
            ErrorCode::PropertyConstraintViolation
        );
        assert_eq!(code("FlyToTheMoon", json!({})), ErrorCode::NotImplemented);
        assert_eq!(code("DataTransfer", json!({})), ErrorCode::NotSupported);
    }

    #[test]
    fn energy_register_readings_become_whole_wh() {
        let sample = |value: &str, unit: Option<&str>, measurand: Option<&str>| SampledValue {
            value: value.into(),
            context: None,
            format: None,
            measurand: measurand.map(Into::into),
            phase: None,
            location: None,
            unit: unit.map(Into::into),
        };
        assert_eq!(energy_register_wh(&sample("1234", None, None)), Some(1234));
        assert_eq!(energy_register_wh(&sample("1234.5", Some("Wh"), None)), Some(1235));
        assert_eq!(energy_register_wh(&sample("12.3456", Some("kWh"), None)), Some(12346));
        assert_eq!(energy_register_wh(&sample("7", Some("kWh"), None)), Some(7000));
        assert_eq!(energy_register_wh(&sample("7", None, Some("Power.Active.Import"))), None);
        assert_eq!(energy_register_wh(&sample("-1", None, None)), None);
        assert_eq!(energy_register_wh(&sample("1e3", None, None)), None);
    }
}
