//! The site ledger (after MyCHIPs): users, connection and tally tickets, tallies with their chit chains, and
//! clearing lifts. Every aggregate is a [`crate::Decider`]; the lift finder works on a plain graph.

pub mod caller;
pub mod chit;
pub mod config;
pub mod connection_ticket;

pub mod error;
pub mod finder;
pub mod freshness;
pub mod legacy;
pub mod lift;

pub mod site_aggregate;
pub mod tally;
pub mod tally_ticket;
pub mod user;

pub use error::{SiteError, SiteResult};
