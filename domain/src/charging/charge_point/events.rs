use crate::charging::crypto::Uid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happens at one charge point. `at` is the provider's clock; `started_at`, `sampled_at`, `stopped_at`
/// are the charge point's own timestamps from OCPP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum ChargePointEvent {
    ChargePointBooted {
        charge_point_id: String,
        vendor: String,
        model: String,
        at: DateTime<Utc>,
    },
    SocketEnabled {
        charge_point_id: String,
        connector_id: u32,
        uid: Uid,
        id_tag: String,
        certificate_serial: String,
        issuer_uid: Uid,
        at: DateTime<Utc>,
    },
    ChargingStarted {
        charge_point_id: String,
        transaction_id: i32,
        connector_id: u32,
        uid: Uid,
        id_tag: String,
        certificate_serial: String,
        meter_start_wh: i64,
        started_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    MeterValueRecorded {
        transaction_id: i32,
        connector_id: u32,
        energy_wh: i64,
        sampled_at: DateTime<Utc>,
    },
    ChargingStopped {
        transaction_id: i32,
        meter_stop_wh: i64,
        stopped_at: DateTime<Utc>,
        reason: Option<String>,
    },
    BillRecorded {
        charge_point_id: String,
        transaction_id: i32,
        connector_id: u32,
        uid: Uid,
        id_tag: String,
        certificate_serial: String,
        meter_start_wh: i64,
        meter_stop_wh: i64,
        energy_wh: i64,
        started_at: DateTime<Utc>,
        stopped_at: DateTime<Utc>,
    },
}
