//! A device's inbox (stream `device-<device id>`): the pairing dialogue between an owner key that claims the
//! device and the device itself (CLAIM_DEVICE, CHALLENGE, ANSWER_CHALLENGE, CLAIM_RESULT), and the device's
//! release when its owner deletes it or it is reset. The ledger checks each side's signature and turn; only the
//! device knows its pairing secret, so only the device judges an answer.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{
    answer_is_right, answer_mac, device_id_of, ClaimantMessage, ClaimantSay, DeviceInboxCommand, DeviceMessage,
    DeviceSay, RefusalReason, ReleaseReason, SignedClaimantMessage, SignedDeviceMessage, CHALLENGE_BYTES,
    CLAIMANT_MESSAGE_PURPOSE, DEVICE_MESSAGE_PURPOSE,
};
pub use decide::{MAX_CHALLENGE_SECONDS, MAX_FAILED_ANSWERS, MAX_OPEN_CLAIMS, MAX_TOTAL_FAILED_ANSWERS};
pub use events::DeviceInboxEvent;
pub use state::{Claim, DeviceInboxState, IssuedChallenge, CLAIM_WAIT_SECONDS};

use crate::Aggregate;

pub struct DeviceInbox;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "device-";

impl Aggregate for DeviceInbox {
    /// The device id (`device_id_of` its key).
    type Id = str;

    fn stream_id(device_id: &str) -> String {
        format!("{STREAM_PREFIX}{device_id}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
