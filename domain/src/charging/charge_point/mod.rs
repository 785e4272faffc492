//! One aggregate per charge point (stream `charging-cp-<chargePointId>`): who may use a socket (certificate
//! checks), and each session from start to bill.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{ChargePointCommand, TrustContext};
pub use decide::authorize;
pub use events::ChargePointEvent;
pub use state::{ChargePointState, EnabledSocket, Session};

use crate::Aggregate;

pub struct ChargePoint;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "charging-cp-";

impl ChargePoint {
    /// The charge point whose stream `stream_id` is.
    pub fn charge_point_id(stream_id: &str) -> Option<&str> {
        stream_id.strip_prefix(STREAM_PREFIX)
    }
}

impl Aggregate for ChargePoint {
    /// A charge point is named by its OCPP chargePointId.
    type Id = str;

    fn stream_id(charge_point_id: &str) -> String {
        format!("{STREAM_PREFIX}{charge_point_id}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
