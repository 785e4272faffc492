//! What a device asks of its channel's record.

use super::events::StoredMessage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelLogCommand {
    /// Store a message whose signature the adapter has verified against `message.channel`.
    StoreMessage { message: StoredMessage },
}
