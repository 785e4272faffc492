//! notch-p1: the device side of the smart-meter channel. Reads DSMR P1 telegrams from a serial
//! port, parses them into typed readings, seals them into a MAM channel and publishes them to the
//! notch ledger (and optionally MQTT) through a durable local spool.

pub mod backoff;
pub mod bench;
pub mod device;
pub mod drop_log;
pub mod frame;
pub mod mqtt;
pub mod pairing;
pub mod pairing_link;
pub mod parse;
pub mod policies;
pub mod publish;
pub mod reader;
pub mod reading;
pub mod scope_channels;
pub mod scope_values;
pub mod serial;
pub mod spool;
pub mod state_file;
pub mod values;

pub use frame::{Dropped, Frame, Framer, RawTelegram};
pub use parse::{parse_telegram, ParseError};
pub use reading::Reading;
