//! The command side of the home context's dialogues: the service the HTTP adapter calls for the pairing inbox of
//! each device and each household's record. The rules are the deciders of `domain::home`.

pub mod service;

pub use service::{Accepted, HomeService};
