//! What is asked of the TallyTicket aggregate.

use crate::site::caller::Caller;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum TallyTicketCommand {
    /// The caller invites `counterpart` (or anyone) to open a tally with it.
    IssueTallyTicket {
        caller: Caller,
        token_hash: String,
        counterpart: Option<String>,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// The caller accepts the invitation: tally `tally_id` is drafted between the two.
    RedeemTallyTicket { caller: Caller, tally_id: Uuid, at: DateTime<Utc> },
}
