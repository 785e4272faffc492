//! Views of the home context (smart meters, MAM channels): `mam_messages.rs` keeps every stored message by its
//! address, `provider_readings.rs` keeps what a provider read through each policy, `queries.rs` reads them.

pub mod mam_messages;
pub mod provider_readings;
pub mod queries;
