//! The TallyTicket aggregate's state, folded from its events.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TallyTicketState {
    #[default]
    Missing,
    Issued {
        issuer: String,
        counterpart: Option<String>,
        expires_at: DateTime<Utc>,
    },
    Spent,
}
