//! Pure business rules of notch. Nothing in this crate performs IO: no tokio, no postgres, no clock.
//! Every aggregate has the decider shape (see [`Decider`]); time and randomness come in through commands.

pub mod charging;
pub mod crypto;
pub mod decider;
pub mod home;
pub mod site;

pub use decider::{given_when, Aggregate, Decider, DomainEvent};
