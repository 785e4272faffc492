//! The tally ticket (stream `tallyticket-<token hash>`): a user invites someone to open a tally. It carries
//! the issuer's CHIP address, a one-time token, an expiry, the site public key and optionally the one CID
//! allowed to redeem it. Redeeming it opens tally negotiation (a draft tally); the token is spent either way.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{ForeignParty, TallyTicketCommand};
pub use events::TallyTicketEvent;
pub use state::TallyTicketState;

use crate::Aggregate;

pub struct TallyTicket;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "tallyticket-";

impl Aggregate for TallyTicket {
    /// A tally ticket is named by the hash of its token.
    type Id = str;

    fn stream_id(token_hash: &str) -> String {
        format!("{STREAM_PREFIX}{token_hash}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
