//! The user connection ticket (stream `ticket-<token hash>`): the admin issues it for a CID; a device
//! redeems it once with token, CID and its own public key. The token is spent whatever the outcome, and a
//! refusal never says which check failed.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::ConnectionTicketCommand;
pub use decide::token_hash;
pub use events::ConnectionTicketEvent;
pub use state::ConnectionTicketState;

use crate::Aggregate;

pub struct ConnectionTicket;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "ticket-";

impl Aggregate for ConnectionTicket {
    /// A connection ticket is named by the hash of its token (the token itself is never stored).
    type Id = str;

    fn stream_id(token_hash: &str) -> String {
        format!("{STREAM_PREFIX}{token_hash}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
