//! What is asked of the ChargePoint aggregate.

use crate::charging::certificate::SocketRequest;
use crate::charging::crypto::Uid;
use crate::charging::customer::CustomerState;
use crate::charging::trust_list::TrustListState;
use chrono::{DateTime, Utc};

/// What the provider knows besides this charge point's stream: its own uid, the authorities it trusts
/// (`charging-provider-trust`) and the certificate subject's relationship as the authority recorded it
/// (`charging-user-<uid>`: credentials and revocations).
#[derive(Debug, Clone)]
pub struct TrustContext {
    pub provider_uid: Uid,
    pub authorities: TrustListState,
    pub user: CustomerState,
}

#[derive(Debug, Clone)]
pub enum ChargePointCommand {
    RecordBoot {
        charge_point_id: String,
        vendor: String,
        model: String,
        at: DateTime<Utc>,
    },
    EnableSocket {
        charge_point_id: String,
        request: Box<SocketRequest>,
        context: TrustContext,
        at: DateTime<Utc>,
    },
    StartCharging {
        charge_point_id: String,
        connector_id: u32,
        id_tag: String,
        meter_start_wh: i64,
        started_at: DateTime<Utc>,
        context: TrustContext,
        at: DateTime<Utc>,
    },
    RecordMeterValue {
        transaction_id: i32,
        connector_id: u32,
        energy_wh: i64,
        sampled_at: DateTime<Utc>,
    },
    StopCharging {
        charge_point_id: String,
        transaction_id: i32,
        meter_stop_wh: i64,
        stopped_at: DateTime<Utc>,
        reason: Option<String>,
    },
}
