//! What the correspondence with one site records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum PeerEvent {
    /// A message to the other site, recorded before it is sent: `seq` goes on the wire with it.
    PeerMessageQueued { seq: u64, message: Value, at: DateTime<Utc> },
    /// The other site acknowledged every message up to `through`.
    PeerMessagesAcknowledged { through: u64, at: DateTime<Utc> },
    /// The other site's message `seq` was taken (what it changed is in the same append).
    PeerMessageAccepted { seq: u64, at: DateTime<Utc> },
}
