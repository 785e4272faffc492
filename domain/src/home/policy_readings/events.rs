//! What a provider records of one policy's channel.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::commands::{ClosedBecause, ReadingValues};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum PolicyReadingsEvent {
    /// The provider checked the device's grant and reads `channel` from `from_index` on.
    ChannelOpened {
        policy_id: Uuid,
        device_id: String,
        /// The owner key (hex) of the home whose policy this is.
        home: String,
        channel: String,
        from_index: u64,
        epoch: u32,
        at: DateTime<Utc>,
    },
    /// A reading decrypted from message `index` of the channel.
    ReadingStored {
        policy_id: Uuid,
        device_id: String,
        channel: String,
        index: u64,
        epoch: u32,
        values: ReadingValues,
        at: DateTime<Utc>,
    },
    /// Message `index` rotated the channel's key away from this provider.
    ChannelClosed { policy_id: Uuid, channel: String, index: u64, because: ClosedBecause, at: DateTime<Utc> },
}
