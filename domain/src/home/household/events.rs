//! What a household's record holds. Each event keeps the signed document it came from, so that anyone reading
//! the home (its devices, an auditor) checks the owner's or the provider's signature themselves.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::commands::{SignedDecision, SignedTermination};
use crate::crypto::{hex_key, PublicKey};
use crate::home::consent::Scope;
use crate::home::device_inbox::SignedDeviceMessage;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum HouseholdEvent {
    /// DEVICE_ADDED: the device accepted the owner's claim and follows this home from here on.
    DeviceAdded {
        device_id: String,
        #[serde(with = "hex_key")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        device_key: PublicKey,
        /// The device's signed `accept` of the owner's claim.
        pairing: SignedDeviceMessage,
        decision: SignedDecision,
    },
    /// AUTHORIZED: the provider may read `scope` of the device from `valid_from` until `valid_until`.
    ConsentAuthorized {
        policy_id: Uuid,
        request_id: Uuid,
        /// BLAKE2b-256 (hex) of the request's canonical bytes.
        request_hash: String,
        device_id: String,
        #[serde(with = "hex_key")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        provider_key: PublicKey,
        /// X25519 (hex) of the provider, which the device wraps the grant to.
        provider_hpke_key: String,
        scope: Scope,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
        /// The owner's decision, which holds the provider's signed request.
        decision: SignedDecision,
    },
    /// DENIED: the owner refused the request.
    ConsentDenied {
        request_id: Uuid,
        request_hash: String,
        #[serde(with = "hex_key")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        provider_key: PublicKey,
        decision: SignedDecision,
    },
    /// AUTHORIZATION_REVOKED: the owner ended the policy, or deleted its device.
    AuthorizationRevoked {
        policy_id: Uuid,
        device_id: String,
        reason: RevocationReason,
        /// The owner's decision: the revocation itself, or the deletion of the device.
        decision: SignedDecision,
    },
    /// TERMINATED: the provider ended its own policy.
    PolicyTerminated { policy_id: Uuid, device_id: String, termination: SignedTermination },
    /// DEVICE_DELETED: the device is no longer paired with this home and may be claimed again.
    DeviceDeleted { device_id: String, decision: SignedDecision },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum RevocationReason {
    /// The owner revoked this policy, saying why (may be empty).
    Owner { reason: String },
    /// The owner deleted the policy's device.
    DeviceDeleted,
}

impl HouseholdEvent {
    /// When the event was decided: the time in the signed document it records.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            HouseholdEvent::DeviceAdded { decision, .. }
            | HouseholdEvent::ConsentAuthorized { decision, .. }
            | HouseholdEvent::ConsentDenied { decision, .. }
            | HouseholdEvent::AuthorizationRevoked { decision, .. }
            | HouseholdEvent::DeviceDeleted { decision, .. } => decision.document.at,
            HouseholdEvent::PolicyTerminated { termination, .. } => termination.document.at,
        }
    }
}
