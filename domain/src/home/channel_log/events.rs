//! What a channel's record holds: each sealed message once.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Data,
    KeyRotation,
}

/// One sealed message as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StoredMessage {
    /// Hex of the channel's Ed25519 public key.
    pub channel: String,
    pub index: u64,
    pub epoch: u32,
    pub kind: MessageKind,
    /// Hex of the message's 32-byte address.
    pub address: String,
    /// Base64 of the message's exact wire bytes (header, ciphertext, signature).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum ChannelLogEvent {
    MamMessageStored(StoredMessage),
}
