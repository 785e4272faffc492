//! The charging provider: which authorities it trusts (stream `charging-provider-trust`) and one aggregate
//! per charge point (stream `charging-cp-<chargePointId>`): enabled sockets, sessions and bills.

mod charge_point;
mod charge_point_events;
mod charge_point_state;
#[cfg(test)]
mod charge_point_tests;
mod trust;

pub use charge_point::{authorize, ChargePoint, ChargePointCommand, ChargePointError, TrustContext};
pub use charge_point_events::ChargePointEvent;
pub use charge_point_state::{ChargePointState, EnabledSocket, Session};
pub use trust::{TrustList, TrustListCommand, TrustListError, TrustListEvent, TrustListState};
