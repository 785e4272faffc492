//! What is asked of the correspondence with one site.

use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum PeerCommand {
    /// Record `message` for sending: it gets the next sequence number.
    Queue { message: Value, at: DateTime<Utc> },
    /// The other site has everything up to `through`.
    Acknowledge { through: u64, at: DateTime<Utc> },
    /// The other site's message `seq` arrived; take it if it is the next one.
    Accept { seq: u64, at: DateTime<Utc> },
}
