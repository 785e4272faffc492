//! EV charging: a registration authority issues certificates to users' apps, and charging providers accept
//! those certificates instead of running their own sign-up. See docs/charging.md for the byte constructions.

pub mod billing;
pub mod certificate;
pub mod charge_point;
pub mod contact_card;
pub mod crypto;
pub mod customer;
mod error;
pub mod trust_list;

pub use crypto::{PublicKey, Uid};
pub use error::{ChargePointError, CustomerError, TrustListError};
