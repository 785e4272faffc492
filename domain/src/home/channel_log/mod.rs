//! The ledger's record of a MAM channel (stream `mam-<channel public key hex>`): each sealed message once, in index
//! order. The ledger cannot read the messages (it has no side key); the adapter checks the channel's signature
//! with the `mam` crate, and the sequence rules are here.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::ChannelLogCommand;
pub use events::{ChannelLogEvent, MessageKind, StoredMessage};
pub use state::ChannelLogState;

use crate::Aggregate;

pub struct ChannelLog;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "mam-";

impl Aggregate for ChannelLog {
    /// Hex of the channel's Ed25519 public key.
    type Id = str;

    fn stream_id(channel_hex: &str) -> String {
        format!("{STREAM_PREFIX}{channel_hex}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    /// `evolve` takes everything from the message: the state is the head.
    const STATE_IS_LAST_EVENT: bool = true;
}
