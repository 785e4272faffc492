//! A provider's inbox (stream `provider-<provider key hex>`): the hand-overs devices send it (HAND_OVER), each
//! the grant of the channel a policy of the owner's home gives the provider. The ledger checks the device's
//! signature and the policy; the provider checks the grant's own signature and unwraps it with its HPKE key.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{Handover, PolicyFact, ProviderInboxCommand, SignedHandover, HANDOVER_PURPOSE};
pub use decide::{MAX_GRANT_BYTES, MAX_HANDOVERS_PER_POLICY};
pub use events::ProviderInboxEvent;
pub use state::ProviderInboxState;

use crate::crypto::PublicKey;
use crate::Aggregate;

pub struct ProviderInbox;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "provider-";

impl Aggregate for ProviderInbox {
    /// The provider's Ed25519 key.
    type Id = PublicKey;

    fn stream_id(provider: &PublicKey) -> String {
        format!("{STREAM_PREFIX}{}", provider.to_hex())
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
