//! What a provider's inbox records: each hand-over, whole and signed by its device.

use serde::{Deserialize, Serialize};

use super::commands::SignedHandover;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum ProviderInboxEvent {
    /// HAND_OVER: the device gives the provider the channel of a policy's scope.
    GrantHandedOver { handover: SignedHandover },
}
