//! A household's consent record (stream `home-<owner key hex>`): the devices paired with the home and the
//! policies its owner granted, denied, revoked, or a provider ended. Every owner decision is a document signed by
//! the owner's key, kept whole in the event, so that a device checks the owner's signature again before it obeys
//! and not even the ledger's operator can forge a consent.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{
    Act, HouseholdCommand, OwnerDecision, SignedDecision, SignedTermination, Termination, OWNER_DECISION_PURPOSE,
    TERMINATION_PURPOSE,
};
pub use decide::{DECISION_WINDOW_SECONDS, MAX_DEVICES, MAX_POLICIES, MAX_REASON_CHARS, MAX_SCOPES_PER_DEVICE};
pub use events::{HouseholdEvent, RevocationReason};
pub use state::{Device, HouseholdState, Policy, PolicyStatus};

use crate::crypto::PublicKey;
use crate::Aggregate;

pub struct Household;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "home-";

impl Aggregate for Household {
    /// The owner's Ed25519 key.
    type Id = PublicKey;

    fn stream_id(owner: &PublicKey) -> String {
        format!("{STREAM_PREFIX}{}", owner.to_hex())
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
