//! The one refusal type of the home context.

use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HomeError {
    /// The index is taken; the caller compares the bytes to tell a repeat from a conflict.
    #[error("message {index} is already stored")]
    AlreadyStored { index: u64 },
    #[error("message {got} arrived but the channel is at {expected}: earlier messages are missing")]
    Gap { expected: u64, got: u64 },
    #[error("message {index} is in epoch {got}; the channel is in epoch {expected}")]
    WrongEpoch { index: u64, expected: u32, got: u32 },
    /// A document outside its bounds (what is wrong, said for the person who sent it).
    #[error("{0}")]
    BadRequest(String),
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    /// A signed decision whose time is too far from the ledger's clock, or not after the home's last decision
    /// (a replay, or a clock gone backwards).
    #[error("decision made at {at} is stale: {why}")]
    Stale { at: DateTime<Utc>, why: &'static str },
    #[error("{0}")]
    Expired(String),
    #[error("this decision is signed for home {got}, not for this home ({expected})")]
    WrongHome { expected: String, got: String },
    #[error("device {0} is not paired with this home")]
    UnknownDevice(String),
    #[error("device {0} is already paired with this home")]
    DeviceAlreadyAdded(String),
    #[error("no policy {0} in this home")]
    UnknownPolicy(Uuid),
    #[error("policy id {0} is taken")]
    PolicyTaken(Uuid),
    #[error("policy {policy_id} has ended ({status})")]
    PolicyEnded { policy_id: Uuid, status: &'static str },
    #[error("consent request {0} was answered already")]
    AlreadyAnswered(Uuid),
    #[error("at most {most} {what}")]
    TooMany { what: &'static str, most: usize },
    #[error("device {0} is paired; its owner must delete it, or it must be reset on the device, first")]
    AlreadyPaired(String),
    #[error("this claimant is locked out of the device after {failures} wrong answers; reset the device to retry")]
    LockedOut { failures: u32 },
    #[error("this claimant's claim of the device is under way; answer it or wait until it runs out")]
    ClaimOpen,
    #[error("no such challenge is waiting for this claimant")]
    NoSuchChallenge,
    #[error("this challenge was answered already")]
    ChallengeAnswered,
    #[error("policy {0} was handed over on this channel already")]
    HandedOver(Uuid),
}
