//! EV charging: a registration authority issues certificates to users' apps, and charging providers accept
//! those certificates instead of running their own sign-up. See docs/charging.md for the byte constructions.

pub mod authority;
pub mod billing;
pub mod certificate;
pub mod contact_card;
pub mod crypto;
pub mod provider;

pub use crypto::{PublicKey, Uid};
