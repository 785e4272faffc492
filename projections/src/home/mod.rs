//! Views of the home context (smart meters, MAM channels).

pub mod mam_messages;
