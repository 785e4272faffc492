//! What a device's inbox holds: whom the device is paired with, the claims under way, and the device's count of
//! each claimant's wrong answers.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::commands::{ClaimantSay, DeviceSay, ReleaseReason};
use super::events::DeviceInboxEvent;
use crate::crypto::PublicKey;

/// A claim the device has not answered within this long is no longer open (its claimant may claim again).
pub const CLAIM_WAIT_SECONDS: i64 = 300;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceInboxState {
    /// Set by the first message.
    pub device_id: Option<String>,
    /// Set by the device's first message.
    pub device_key: Option<PublicKey>,
    /// The owner and since when, while paired.
    pub paired_with: Option<(PublicKey, DateTime<Utc>)>,
    /// The claims not yet settled, by claimant.
    pub claims: BTreeMap<PublicKey, Claim>,
    /// Wrong answers by claimant, as the device counted them (a reset on the device forgets them).
    pub failures: BTreeMap<PublicKey, u32>,
    /// Each claimant's last message: the next must be later (no replays).
    pub last_claimant_at: BTreeMap<PublicKey, DateTime<Utc>>,
    pub last_device_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub claimed_at: DateTime<Utc>,
    pub challenge: Option<IssuedChallenge>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedChallenge {
    pub challenge: String,
    pub valid_until: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

impl Claim {
    /// Whether the claim still waits on someone at `now`: the device to challenge, the claimant to answer, or the
    /// device to judge the answer.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let wait = Duration::seconds(CLAIM_WAIT_SECONDS);
        match &self.challenge {
            None => now < self.claimed_at + wait,
            Some(IssuedChallenge { answered_at: None, valid_until, .. }) => now < *valid_until,
            Some(IssuedChallenge { answered_at: Some(answered), .. }) => now < *answered + wait,
        }
    }
}

impl DeviceInboxState {
    pub fn total_failures(&self) -> u32 {
        self.failures.values().fold(0, |total, failures| total.saturating_add(*failures))
    }

    pub fn open_claims(&self, now: DateTime<Utc>) -> usize {
        self.claims.values().filter(|claim| claim.is_open(now)).count()
    }

    pub fn evolve(mut self, event: &DeviceInboxEvent) -> DeviceInboxState {
        match event {
            DeviceInboxEvent::PairingClaimed { message } | DeviceInboxEvent::ChallengeAnswered { message } => {
                let message = &message.document;
                self.device_id.get_or_insert_with(|| message.device_id.clone());
                self.last_claimant_at.insert(message.owner, message.at);
                match &message.say {
                    ClaimantSay::Claim => {
                        self.claims.insert(message.owner, Claim { claimed_at: message.at, challenge: None });
                    }
                    ClaimantSay::Answer { .. } => {
                        let issued = self.claims.get_mut(&message.owner).and_then(|claim| claim.challenge.as_mut());
                        if let Some(issued) = issued {
                            issued.answered_at = Some(message.at);
                        }
                    }
                }
            }
            DeviceInboxEvent::ChallengeIssued { message }
            | DeviceInboxEvent::PairingAccepted { message }
            | DeviceInboxEvent::PairingRefused { message }
            | DeviceInboxEvent::DeviceReleased { message } => {
                let message = &message.document;
                self.device_id.get_or_insert_with(|| message.device_id.clone());
                self.device_key.get_or_insert(message.device_key);
                self.last_device_at = Some(message.at);
                self.evolve_device_say(&message.say, message.at);
            }
        }
        self
    }

    fn evolve_device_say(&mut self, say: &DeviceSay, at: DateTime<Utc>) {
        match say {
            DeviceSay::Challenge { owner, challenge, valid_until } => {
                if let Some(claim) = self.claims.get_mut(owner) {
                    let challenge = challenge.clone();
                    claim.challenge = Some(IssuedChallenge { challenge, valid_until: *valid_until, answered_at: None });
                }
            }
            DeviceSay::Accept { owner, .. } => {
                self.paired_with = Some((*owner, at));
                self.claims.clear();
            }
            DeviceSay::Refuse { owner, failures, .. } => {
                self.claims.remove(owner);
                if *failures > 0 {
                    self.failures.insert(*owner, *failures);
                }
            }
            DeviceSay::Release { reason } => {
                self.paired_with = None;
                self.claims.clear();
                if *reason == ReleaseReason::Reset {
                    self.failures.clear();
                }
            }
        }
    }
}
