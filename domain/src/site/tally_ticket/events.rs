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
        /// The redeemer's CID (on its own site, when `redeemer_site` is set).
        redeemer: String,
        /// The agent id of the redeemer's site, for a user of another site.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        redeemer_site: Option<String>,
        tally_id: Uuid,
        at: DateTime<Utc>,
    },
    TallyTicketRefused {
        reason: String,
        at: DateTime<Utc>,
    },
}
