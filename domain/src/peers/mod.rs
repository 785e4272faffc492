//! Federation (docs/federation.md): what this site and one other site have said to each other, so that nothing
//! sent is lost and nothing received is applied twice. Every aggregate is a [`crate::Decider`].

pub mod error;
pub mod peer;

pub use error::{PeerError, PeerResult};
