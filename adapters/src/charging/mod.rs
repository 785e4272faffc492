//! The command side of the charging context: keys, the generic load/decide/append loop, and the service the
//! HTTP and OCPP adapters call.

pub mod cards;
pub mod keys;
pub mod log;
pub mod service;

pub use keys::ChargingKeys;
pub use service::{ChargingError, ChargingService, ChargingSettings, SocketEnabledReply};
