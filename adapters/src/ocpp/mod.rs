//! OCPP 1.6J: the central system side notch plays for real charge points.

pub mod endpoint;
pub mod frame;
pub mod handler;
pub mod messages;
pub mod registry;
pub mod time;
