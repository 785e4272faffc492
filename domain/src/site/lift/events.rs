//! What the Lift aggregate records.

use crate::site::tally::Side;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One hop of a lift: on `tally_id`, the `payer` side (user `payer_cid`) pays `payee_cid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LiftHop {
    pub tally_id: Uuid,
    pub payer: Side,
    pub payer_cid: String,
    pub payee_cid: String,
    pub chit_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum LiftEvent {
    LiftCommitted { lift_id: Uuid, units_milli: i64, hops: Vec<LiftHop>, at: DateTime<Utc> },
}
