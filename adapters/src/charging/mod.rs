//! The command side of the charging context: keys, contact cards, and the service the
//! HTTP and OCPP adapters call.

pub mod cards;
pub mod keys;
pub mod service;

pub use keys::ChargingKeys;
pub use service::{ChargingError, ChargingService, ChargingSettings, SocketEnabledReply};
