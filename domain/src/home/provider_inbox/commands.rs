//! What reaches a provider's inbox: a device's hand-over of the channel a policy grants (HAND_OVER: the
//! `mam::Grant`, HPKE-wrapped to the provider's key and signed by the channel key), itself signed by the device.
//! The ledger checks it against the policy in the owner's home, which comes in through the command.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::{hex_key, PublicKey, Purpose, Signed, SignedDocument};
use crate::home::household::PolicyStatus;

pub const HANDOVER_PURPOSE: Purpose = Purpose("notch/home/handover/v1");

#[derive(Debug, Clone)]
pub enum ProviderInboxCommand {
    /// `policy` is the policy the hand-over names, as the owner's home has it (`None`: no such policy).
    Deliver { handover: SignedHandover, policy: Option<PolicyFact>, now: DateTime<Utc> },
}

/// The policy a hand-over names, from the household's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFact {
    pub device_id: String,
    pub provider_key: PublicKey,
    pub status: PolicyStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Handover {
    pub device_id: String,
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub device_key: PublicKey,
    /// The home whose policy this is (the owner key).
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub home: PublicKey,
    /// The provider whose inbox this is for.
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub provider: PublicKey,
    pub policy_id: Uuid,
    /// The channel's public key (hex): the channel of the policy's scope.
    pub channel: String,
    /// `mam::Grant` bytes (hex): the channel's current root and side key, HPKE-wrapped to the provider.
    pub grant: String,
    pub at: DateTime<Utc>,
}

impl SignedDocument for Handover {
    const PURPOSE: Purpose = HANDOVER_PURPOSE;
}

pub type SignedHandover = Signed<Handover>;
