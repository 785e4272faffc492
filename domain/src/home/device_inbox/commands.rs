//! What reaches a device's inbox: messages from a claimant (an owner key asking to pair, then answering the
//! device's challenge) and from the device itself (its challenge, its verdict, its release). Each is a document
//! signed by its sender, kept whole in the event, so that the other side checks the signature itself.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::crypto::{blake2b, hex_key, PublicKey, Purpose, Signed, SignedDocument};

pub const CLAIMANT_MESSAGE_PURPOSE: Purpose = Purpose("notch/home/claimant-message/v1");
pub const DEVICE_MESSAGE_PURPOSE: Purpose = Purpose("notch/home/device-message/v1");
/// The tag of a device id's hash: a device id is not a hash of anything else.
const DEVICE_ID_TAG: &[u8] = b"notch/home/device-id/v1\0";
/// Bytes of the key's hash in a device id: 80 bits, 16 base32 characters.
const DEVICE_ID_BYTES: usize = 10;
pub const CHALLENGE_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub enum DeviceInboxCommand {
    /// From an owner key; `now` is the ledger's clock.
    FromClaimant { message: SignedClaimantMessage, now: DateTime<Utc> },
    /// From the device, signed by the key its id is made of.
    FromDevice { message: SignedDeviceMessage, now: DateTime<Utc> },
}

/// A claimant (an owner key) speaking to one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimantMessage {
    pub device_id: String,
    /// The owner key that signs the message and would own the device.
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub owner: PublicKey,
    /// When the claimant sent it; within minutes of the ledger's clock and after its last message to the device.
    pub at: DateTime<Utc>,
    pub say: ClaimantSay,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClaimantSay {
    /// CLAIM_DEVICE: pair this device with my home.
    Claim,
    /// ANSWER_CHALLENGE: `mac` = HMAC-SHA-256(pairing secret, challenge ‖ owner key ‖ device id), hex.
    Answer { challenge: String, mac: String },
}

impl SignedDocument for ClaimantMessage {
    const PURPOSE: Purpose = CLAIMANT_MESSAGE_PURPOSE;
}

pub type SignedClaimantMessage = Signed<ClaimantMessage>;

/// The device speaking: signed by `device_key`, whose hash is `device_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviceMessage {
    pub device_id: String,
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub device_key: PublicKey,
    pub at: DateTime<Utc>,
    pub say: DeviceSay,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeviceSay {
    /// CHALLENGE: a fresh 32 random bytes (hex) for this claimant, answerable until `valid_until`.
    Challenge {
        #[serde(with = "hex_key")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        owner: PublicKey,
        challenge: String,
        valid_until: DateTime<Utc>,
    },
    /// CLAIM_RESULT, accepted: the answer was right; the device follows the owner's home from here on. This
    /// signed message is the pairing proof the owner records (DEVICE_ADDED).
    Accept {
        #[serde(with = "hex_key")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        owner: PublicKey,
        challenge: String,
    },
    /// CLAIM_RESULT, refused, with the device's count of this claimant's wrong answers.
    Refuse {
        #[serde(with = "hex_key")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        owner: PublicKey,
        reason: RefusalReason,
        failures: u32,
    },
    /// The device is claimable again: its owner deleted it, or it was reset on the device itself.
    Release { reason: ReleaseReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The answer was not the MAC of the challenge under the pairing secret.
    WrongAnswer,
    /// This claimant answered wrongly too often (or the device has seen too many wrong answers in all).
    LockedOut,
    /// The device belongs to another home.
    Paired,
    /// The challenge ran out before an answer came.
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// The owner deleted the device (DEVICE_DELETED in its home).
    Deleted,
    /// Reset on the device itself: a new pairing secret, and every count of wrong answers forgotten.
    Reset,
}

impl SignedDocument for DeviceMessage {
    const PURPOSE: Purpose = DEVICE_MESSAGE_PURPOSE;
}

pub type SignedDeviceMessage = Signed<DeviceMessage>;

/// A device's id: its key's hash, so that an id names one key and nobody can speak for a device they do not
/// hold the key of. Lowercase RFC 4648 base32 (no padding) of the first 10 bytes of
/// BLAKE2b-256("notch/home/device-id/v1" ‖ 0x00 ‖ key): 16 characters of `a-z2-7`.
pub fn device_id_of(device_key: &PublicKey) -> String {
    let mut tagged = DEVICE_ID_TAG.to_vec();
    tagged.extend_from_slice(device_key.as_bytes());
    let hash = blake2b(&tagged);
    data_encoding::BASE32_NOPAD.encode(&hash[..DEVICE_ID_BYTES]).to_ascii_lowercase()
}

/// The answer to a challenge: HMAC-SHA-256 keyed with the pairing secret over the challenge's 32 bytes, the owner
/// key's 32 bytes and the device id's UTF-8 bytes (what a browser's WebCrypto computes natively).
pub fn answer_mac(secret: &[u8], challenge: &[u8; CHALLENGE_BYTES], owner: &PublicKey, device_id: &str) -> [u8; 32] {
    answer_hmac(secret, challenge, owner, device_id).finalize().into_bytes().into()
}

/// Whether `mac` answers the challenge, compared in constant time.
pub fn answer_is_right(
    secret: &[u8],
    challenge: &[u8; CHALLENGE_BYTES],
    owner: &PublicKey,
    device_id: &str,
    mac: &[u8],
) -> bool {
    answer_hmac(secret, challenge, owner, device_id).verify_slice(mac).is_ok()
}

fn answer_hmac(secret: &[u8], challenge: &[u8; CHALLENGE_BYTES], owner: &PublicKey, device_id: &str) -> Hmac<Sha256> {
    let mut hmac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    hmac.update(challenge);
    hmac.update(owner.as_bytes());
    hmac.update(device_id.as_bytes());
    hmac
}
