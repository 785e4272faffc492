//! What the ConnectionTicket aggregate records.

use crate::crypto::PublicKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum ConnectionTicketEvent {
    ConnectionTicketIssued {
        token_hash: String,
        cid: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    ConnectionTicketRedeemed {
        cid: String,
        device_key: PublicKey,
        at: DateTime<Utc>,
    },
    /// Kept for the audit trail; `reason` is for the operator, the device only hears "invalid ticket".
    ConnectionTicketRefused {
        reason: String,
        at: DateTime<Utc>,
    },
}
