//! What is asked of the ConnectionTicket aggregate.

use crate::crypto::PublicKey;
use crate::site::caller::Caller;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum ConnectionTicketCommand {
    IssueConnectionTicket {
        token_hash: String,
        cid: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// The caller claims the ticket for its CID and registers `device_key`.
    RedeemConnectionTicket {
        caller: Caller,
        device_key: PublicKey,
        at: DateTime<Utc>,
    },
}
