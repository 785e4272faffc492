//! The ConnectionTicket aggregate's state, folded from its events.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ConnectionTicketState {
    #[default]
    Missing,
    Issued {
        cid: String,
        expires_at: DateTime<Utc>,
    },
    Spent,
}
