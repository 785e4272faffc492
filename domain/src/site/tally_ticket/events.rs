//! What the TallyTicket aggregate records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum TallyTicketEvent {
    TallyTicketIssued {
        token_hash: String,
        issuer: String,
        counterpart: Option<String>,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    TallyTicketRedeemed {
        issuer: String,
        redeemer: String,
        tally_id: Uuid,
        at: DateTime<Utc>,
    },
    TallyTicketRefused {
        reason: String,
        at: DateTime<Utc>,
    },
}
