//! Views of the home context (smart meters, MAM channels): `mam_messages.rs` keeps every stored message by its
//! address, `queries.rs` reads them.

pub mod mam_messages;
pub mod queries;
