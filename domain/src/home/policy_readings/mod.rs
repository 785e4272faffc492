//! What a provider read through one policy (stream `readings-<policy id>`, in the provider's own log, never the
//! ledger's): the channel it opened with the device's grant, each reading it decrypted from that channel, and the
//! end of its access when a KEY_ROTATION left it out. The provider process (`notch provider serve`) appends
//! these; `report.provider_readings` shows them per device and policy.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{ClosedBecause, Opening, PolicyReadingsCommand, ReadingValues};
pub use decide::{MAX_CHANNELS_PER_POLICY, MAX_PHASES_BYTES};
pub use events::PolicyReadingsEvent;
pub use state::PolicyReadingsState;

use uuid::Uuid;

use crate::Aggregate;

pub struct PolicyReadings;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "readings-";

impl Aggregate for PolicyReadings {
    /// The policy (the owner's home names it; the provider keeps its readings under it).
    type Id = Uuid;

    fn stream_id(policy_id: &Uuid) -> String {
        format!("{STREAM_PREFIX}{policy_id}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
