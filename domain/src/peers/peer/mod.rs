//! The correspondence with one other site (stream `peer-<its agent id>`). Outgoing messages are numbered from 1
//! and recorded before they are sent (`PeerMessageQueued`); the link sends every unacknowledged one, in order,
//! until the other site acknowledges it (`PeerMessagesAcknowledged`, cumulative). Incoming messages are taken in
//! their sender's order, each once (`PeerMessageAccepted`, in the same append as what the message changes): a
//! repeat is acknowledged again and changes nothing, one that skips ahead waits for the ones before it.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::PeerCommand;
pub use events::PeerEvent;
pub use state::{PeerState, MAX_PENDING};

use crate::Aggregate;

pub struct Peer;

/// Every stream of this aggregate starts with this, followed by the other site's agent id.
const STREAM_PREFIX: &str = "peer-";

impl Aggregate for Peer {
    /// A peer is named by its agent id (base64url of its site key).
    type Id = str;

    fn stream_id(agent: &str) -> String {
        format!("{STREAM_PREFIX}{agent}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
