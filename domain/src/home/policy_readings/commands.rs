//! What the provider process tells a policy's readings: it opened the channel of a checked grant, it decrypted a
//! reading, or a rotation left it out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum PolicyReadingsCommand {
    /// The grant checked (device signature, grant signature, HPKE unwrap): read `channel` from `from_index`.
    Open {
        policy_id: Uuid,
        device_id: String,
        home: String,
        channel: String,
        from_index: u64,
        epoch: u32,
        at: DateTime<Utc>,
    },
    /// Message `index` of the open channel, decrypted.
    Store { index: u64, epoch: u32, values: ReadingValues, at: DateTime<Utc> },
    /// The channel's message `index` is a KEY_ROTATION without this provider's key: nothing after it opens.
    Close { index: u64, because: ClosedBecause, at: DateTime<Utc> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClosedBecause {
    /// A KEY_ROTATION wrapped the next key to other providers only (revoked, expired, terminated, deleted).
    RotatedOut,
}

/// One message of a scope channel, as the device seals it (docs/consent.md, "Scope channels"): `p1`'s
/// `ScopeValues`, read back by the provider.
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
