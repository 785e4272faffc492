//! What reaches a household: the owner's signed decisions, and a provider's signed end of its own policy. Facts
//! from other streams come in through the command: the device's signed acceptance of the owner's claim.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::{hex_key, PublicKey, Purpose, Signed, SignedDocument};
use crate::home::consent::SignedConsentRequest;
use crate::home::device_inbox::SignedDeviceMessage;

pub const OWNER_DECISION_PURPOSE: Purpose = Purpose("notch/home/owner-decision/v1");
pub const TERMINATION_PURPOSE: Purpose = Purpose("notch/home/termination/v1");

#[derive(Debug, Clone)]
pub enum HouseholdCommand {
    /// An owner decision; `now` is the ledger's clock.
    Decide { decision: SignedDecision, now: DateTime<Utc> },
    /// A provider ends a policy granted to it.
    Terminate { termination: SignedTermination, now: DateTime<Utc> },
}

/// One decision of the owner, for one home, at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OwnerDecision {
    /// The owner's key: it names the home and signs the decision.
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub home: PublicKey,
    /// When the owner decided; within minutes of the ledger's clock and after the home's last decision.
    pub at: DateTime<Utc>,
    pub act: Act,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Act {
    /// Record a device that accepted this owner's claim: `pairing` is the device's signed `accept`.
    AddDevice { pairing: SignedDeviceMessage },
    /// Grant a provider's request for one device of the home (AUTHORIZED).
    Authorize { policy_id: Uuid, device_id: String, request: SignedConsentRequest },
    /// Refuse a provider's request (DENIED).
    Deny { request: SignedConsentRequest },
    /// End a policy (AUTHORIZATION_REVOKED).
    Revoke { policy_id: Uuid, reason: String },
    /// Unpair a device: every policy of it is revoked, and it becomes claimable again.
    DeleteDevice { device_id: String },
}

impl SignedDocument for OwnerDecision {
    const PURPOSE: Purpose = OWNER_DECISION_PURPOSE;
}

/// An owner decision signed by the owner key it names (`home`).
pub type SignedDecision = Signed<OwnerDecision>;

/// A provider ends a policy granted to it (TERMINATED).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Termination {
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub home: PublicKey,
    pub policy_id: Uuid,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl SignedDocument for Termination {
    const PURPOSE: Purpose = TERMINATION_PURPOSE;
}

/// A termination signed by the policy's provider key.
pub type SignedTermination = Signed<Termination>;
