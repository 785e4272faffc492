//! What is asked of the Lift aggregate.

use crate::site::tally::Side;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A lift to commit: the hops in cycle order, each (tally, paying side, id of its lift chit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CommitLift {
    pub lift_id: Uuid,
    pub hops: Vec<(Uuid, Side, Uuid)>,
    /// Move at most this much; None = the full capacity of the cycle.
    pub max_units_milli: Option<i64>,
    pub at: DateTime<Utc>,
}
