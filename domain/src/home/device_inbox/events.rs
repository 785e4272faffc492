//! What a device's inbox records: each message of the pairing dialogue, whole and signed by its sender.

use serde::{Deserialize, Serialize};

use super::commands::{SignedClaimantMessage, SignedDeviceMessage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum DeviceInboxEvent {
    /// CLAIM_DEVICE: an owner key asks to pair the device with its home.
    PairingClaimed { message: SignedClaimantMessage },
    /// CHALLENGE: the device's fresh challenge to that claimant.
    ChallengeIssued { message: SignedDeviceMessage },
    /// ANSWER_CHALLENGE: the claimant's MAC of the challenge under the pairing secret.
    ChallengeAnswered { message: SignedClaimantMessage },
    /// CLAIM_RESULT, accepted: the device is the claimant's; the message is the pairing proof for DEVICE_ADDED.
    PairingAccepted { message: SignedDeviceMessage },
    /// CLAIM_RESULT, refused, and why.
    PairingRefused { message: SignedDeviceMessage },
    /// The device is claimable again (deleted by its owner, or reset on the device).
    DeviceReleased { message: SignedDeviceMessage },
}
