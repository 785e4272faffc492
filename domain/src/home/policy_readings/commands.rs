//! What the provider process tells a policy's readings: it opened the channel of a checked grant, it decrypted a
//! reading, or a rotation left it out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum PolicyReadingsCommand {
    /// The grant checked (device signature, grant signature, HPKE unwrap): read its channel.
    Open(Opening),
    /// Message `index` of the open channel, decrypted.
    Store { index: u64, epoch: u32, values: ReadingValues, at: DateTime<Utc> },
    /// The channel's message `index` is a KEY_ROTATION without this provider's key: nothing after it opens.
    Close { index: u64, because: ClosedBecause, at: DateTime<Utc> },
}

/// A checked grant: read `channel` of the home's device from `from_index` (in `epoch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub policy_id: Uuid,
    pub device_id: String,
    /// The owner key (hex).
    pub home: String,
    pub channel: String,
    pub from_index: u64,
    pub epoch: u32,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClosedBecause {
    /// A KEY_ROTATION wrapped the next key to other providers only (revoked, expired, terminated, deleted).
    RotatedOut,
}

/// One message of a scope channel (docs/consent.md, "Scope channels"): what the device seals (`p1`'s
/// `ScopeAggregator` makes it) and the provider reads back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReadingValues {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub samples: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_import_w: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_export_w: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_import_wh: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_export_wh: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_dm3: Option<i64>,
    /// Per-phase values (`l1`..`l3`), as the device's reading has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<serde_json::Value>,
}
