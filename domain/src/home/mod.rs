//! The home context (smart-meter data consent): the ledger's record of each device's MAM channel, and (with the
//! consent issue) pairing and consent. Same layout as every context: one folder per aggregate (commands, events,
//! state, decide) and one refusal type (`error.rs`).

pub mod channel_log;
mod error;

pub use channel_log::{ChannelLog, ChannelLogCommand, ChannelLogEvent, ChannelLogState, MessageKind, StoredMessage};
pub use error::HomeError;
