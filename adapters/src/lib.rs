//! Bridges between notch and the outside world. Each adapter translates a protocol into calls on the log and
//! the domain; none holds business rules of its own.

pub mod charging;
pub mod command;
pub mod home;
pub mod http;
pub mod ocpp;
pub mod peers;
pub mod site;
