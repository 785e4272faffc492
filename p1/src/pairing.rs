//! The device's side of the pairing dialogue (docs/consent.md, "Pairing"): its identity (an Ed25519 device key,
//! whose hash is its device id, and a pairing secret of 160 random bits) and what it says to each message of its
//! inbox. Only the device knows the secret, so only it judges an answer. It keeps its own count of each
//! claimant's wrong answers and its own copy of the challenges it issued, so a ledger can neither slip it
//! another challenge nor make it forget a failure; and it handles each inbox event once, so replaying old events
//! never pairs anyone.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use domain::crypto::{PublicKey, Signed};
use domain::home::device_inbox::{
    answer_is_right, device_id_of, ClaimantSay, DeviceMessage, DeviceSay, RefusalReason, ReleaseReason,
    SignedClaimantMessage, SignedDeviceMessage, CHALLENGE_BYTES, MAX_FAILED_ANSWERS, MAX_OPEN_CLAIMS,
    MAX_TOTAL_FAILED_ANSWERS,
};
use domain::home::provider_inbox::{Handover, SignedHandover};
use domain::home::{DeviceInboxEvent, HouseholdEvent};
use ed25519_dalek::SigningKey;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::policies::DevicePolicies;
use crate::scope_channels::UnsentGrant;
use crate::state_file;

/// Bytes of the pairing secret: 160 bits, 32 characters of base32.
pub const SECRET_BYTES: usize = 20;
/// How long a challenge may be answered.
pub const CHALLENGE_SECONDS: i64 = 120;

/// The device key and the pairing secret, created on first start and kept in a file only the device reads.
pub struct Identity {
    key: SigningKey,
    /// Made of the key once (a hash): every message and check names it.
    device_id: String,
    secret: Zeroizing<[u8; SECRET_BYTES]>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    device_key: String,
    pairing_secret: String,
}

impl Identity {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Identity {
        let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
        rng.fill_bytes(secret.as_mut());
        Identity::of(SigningKey::generate(rng), secret)
    }

    /// The identity in `path`, or a new one written there.
    pub fn open(path: &Path, rng: &mut (impl RngCore + CryptoRng)) -> anyhow::Result<Identity> {
        if let Some(file) = state_file::read::<IdentityFile>(path)? {
            return Identity::from_file(&file).with_context(|| format!("reading {}", path.display()));
        }
        let identity = Identity::generate(rng);
        identity.save(path)?;
        tracing::info!(path = %path.display(), device_id = identity.device_id(), "created the device's identity");
        Ok(identity)
    }

    /// The same device key with a new pairing secret: what a reset on the device does.
    pub fn with_new_secret(&self, rng: &mut (impl RngCore + CryptoRng)) -> Identity {
        let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
        rng.fill_bytes(secret.as_mut());
        Identity::of(self.key.clone(), secret)
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let file = IdentityFile {
            device_key: hex::encode(self.key.to_bytes()),
            pairing_secret: hex::encode(self.secret.as_ref()),
        };
        state_file::write_private(path, &file)
    }

    fn from_file(file: &IdentityFile) -> anyhow::Result<Identity> {
        let key: [u8; 32] = Zeroizing::new(hex::decode(&file.device_key)?)
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("the device key is not 32 bytes"))?;
        let secret: [u8; SECRET_BYTES] = Zeroizing::new(hex::decode(&file.pairing_secret)?)
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("the pairing secret is not {SECRET_BYTES} bytes"))?;
        Ok(Identity::of(SigningKey::from_bytes(&key), Zeroizing::new(secret)))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::of(&self.key)
    }

    fn of(key: SigningKey, secret: Zeroizing<[u8; SECRET_BYTES]>) -> Identity {
        Identity { device_id: device_id_of(&PublicKey::of(&key)), key, secret }
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The secret as the owner types it: 32 characters of base32 in groups of four.
    pub fn secret_text(&self) -> String {
        secret_text(self.secret.as_ref())
    }

    /// A message of this device, signed, at `at`.
    pub fn says(&self, at: DateTime<Utc>, say: DeviceSay) -> SignedDeviceMessage {
        let message = DeviceMessage { device_id: self.device_id.clone(), device_key: self.public_key(), at, say };
        Signed::sign(&self.key, message).expect("a device message has a canonical form")
    }
}

impl Identity {
    /// The hand-over of a grant to its provider, for the home `home`, signed, at `at`.
    pub fn hands_over(
        &self,
        home: PublicKey,
        grant: &UnsentGrant,
        at: DateTime<Utc>,
    ) -> anyhow::Result<SignedHandover> {
        let handover = Handover {
            device_id: self.device_id.clone(),
            device_key: self.public_key(),
            home,
            provider: PublicKey::from_hex(&grant.provider_key)?,
            policy_id: grant.policy_id,
            channel: grant.channel.clone(),
            grant: grant.grant.clone(),
            at,
        };
        Ok(Signed::sign(&self.key, handover)?)
    }
}

pub fn secret_text(secret: &[u8]) -> String {
    let text = data_encoding::BASE32_NOPAD.encode(secret);
    text.as_bytes()
        .chunks(4)
        .map(|group| std::str::from_utf8(group).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join("-")
}

/// The secret's bytes from its text, forgiving what people do when they type it: lower case, spaces, dashes.
pub fn parse_secret(text: &str) -> Result<Vec<u8>, String> {
    let compact: String =
        text.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
    let bytes = data_encoding::BASE32_NOPAD
        .decode(compact.as_bytes())
        .map_err(|_| "a pairing secret is base32 (letters A-Z and digits 2-7)".to_owned())?;
    if bytes.len() != SECRET_BYTES {
        return Err(format!("a pairing secret is {} characters", SECRET_BYTES * 8 / 5));
    }
    Ok(bytes)
}

/// What the device remembers of its dialogues between restarts (a state file beside its identity).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingState {
    /// The owner key (hex) while paired.
    pub paired_with: Option<String>,
    /// The challenge of the claim this device accepted: its DEVICE_ADDED in the home names it.
    #[serde(default)]
    pub paired_challenge: Option<String>,
    /// The home stream's last version handled, once this device's DEVICE_ADDED is found in it.
    #[serde(default)]
    pub home_version: i64,
    /// Whether this pairing's DEVICE_ADDED was seen: the home's events before it belong to earlier pairings.
    #[serde(default)]
    pub home_joined: bool,
    /// The policies of this pairing, as the owner signed them.
    #[serde(default)]
    pub policies: DevicePolicies,
    /// Wrong answers by claimant (owner key hex).
    pub failures: BTreeMap<String, u32>,
    /// Challenges issued and not yet judged, by claimant.
    pub open: BTreeMap<String, OpenChallenge>,
    /// The last inbox version handled: older events are never handled again.
    pub inbox_version: i64,
    /// The device's last message's time: the next is later.
    pub last_said_at: Option<DateTime<Utc>>,
    /// A message said but not yet acknowledged by the ledger, sent again after a restart.
    pub outbox: Option<SignedDeviceMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenChallenge {
    pub challenge: String,
    pub valid_until: DateTime<Utc>,
}

impl PairingState {
    pub fn total_failures(&self) -> u32 {
        self.failures.values().sum()
    }

    /// What the device says to event `version` of its inbox, if anything; the state records the event as handled
    /// and the message in the outbox. Save the state before sending the message.
    pub fn react(
        &mut self,
        identity: &Identity,
        version: i64,
        event: &DeviceInboxEvent,
        now: DateTime<Utc>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Option<SignedDeviceMessage> {
        if version <= self.inbox_version {
            return None;
        }
        self.inbox_version = version;
        let say = match event {
            DeviceInboxEvent::PairingClaimed { message } => self.claimed(identity, message, now, rng),
            DeviceInboxEvent::ChallengeAnswered { message } => self.answered(identity, message, now),
            _ => None,
        }?;
        Some(self.say(identity, now, say))
    }

    fn claimed(
        &mut self,
        identity: &Identity,
        message: &SignedClaimantMessage,
        now: DateTime<Utc>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Option<DeviceSay> {
        let owner = verified_claimant(identity, message)?;
        let failures = self.failures.get(&owner.to_hex()).copied().unwrap_or(0);
        if self.paired_with.is_some() {
            return Some(DeviceSay::Refuse { owner, reason: RefusalReason::Paired, failures });
        }
        if failures >= MAX_FAILED_ANSWERS || self.total_failures() >= MAX_TOTAL_FAILED_ANSWERS {
            return Some(DeviceSay::Refuse { owner, reason: RefusalReason::LockedOut, failures });
        }
        // The ledger keeps at most MAX_OPEN_CLAIMS open; the device bounds its own memory all the same.
        self.open.retain(|_, open| open.valid_until > now);
        if self.open.len() >= MAX_OPEN_CLAIMS {
            tracing::warn!("ignored a claim: {MAX_OPEN_CLAIMS} challenges are open already");
            return None;
        }
        let mut challenge = [0u8; CHALLENGE_BYTES];
        rng.fill_bytes(&mut challenge);
        let challenge = hex::encode(challenge);
        let valid_until = now + Duration::seconds(CHALLENGE_SECONDS);
        self.open.insert(owner.to_hex(), OpenChallenge { challenge: challenge.clone(), valid_until });
        Some(DeviceSay::Challenge { owner, challenge, valid_until })
    }

    fn answered(
        &mut self,
        identity: &Identity,
        message: &SignedClaimantMessage,
        now: DateTime<Utc>,
    ) -> Option<DeviceSay> {
        let owner = verified_claimant(identity, message)?;
        let ClaimantSay::Answer { challenge, mac } = &message.document.say else { return None };
        let open = self.open.get(&owner.to_hex()).filter(|open| open.challenge == *challenge)?.clone();
        self.open.remove(&owner.to_hex());
        let failures = self.failures.get(&owner.to_hex()).copied().unwrap_or(0);
        if now >= open.valid_until {
            return Some(DeviceSay::Refuse { owner, reason: RefusalReason::Expired, failures });
        }
        let challenge_bytes: [u8; CHALLENGE_BYTES] = hex::decode(challenge).ok()?.try_into().ok()?;
        let mac = hex::decode(mac).unwrap_or_default();
        if answer_is_right(identity.secret.as_ref(), &challenge_bytes, &owner, identity.device_id(), &mac) {
            self.paired_with = Some(owner.to_hex());
            self.paired_challenge = Some(challenge.clone());
            (self.home_version, self.home_joined, self.policies) = (0, false, DevicePolicies::default());
            self.open.clear();
            return Some(DeviceSay::Accept { owner, challenge: challenge.clone() });
        }
        let failures = failures + 1;
        self.failures.insert(owner.to_hex(), failures);
        Some(DeviceSay::Refuse { owner, reason: RefusalReason::WrongAnswer, failures })
    }

    /// What the device says to event `version` of its owner's home, if anything: a release once the owner deleted
    /// it (DEVICE_DELETED, signed by the owner). Events before this pairing's DEVICE_ADDED are not this pairing's.
    pub fn react_home(
        &mut self,
        identity: &Identity,
        version: i64,
        event: &HouseholdEvent,
        now: DateTime<Utc>,
    ) -> Option<SignedDeviceMessage> {
        let owner = PublicKey::from_hex(self.paired_with.as_deref()?).ok()?;
        if version <= self.home_version {
            return None;
        }
        self.home_version = version;
        if !self.home_joined {
            self.home_joined = self.is_this_pairing(identity, event);
            return None;
        }
        if let Some(change) = self.policies.apply(identity.device_id(), &owner, event) {
            tracing::info!(?change, "a policy of this device changed");
        }
        let HouseholdEvent::DeviceDeleted { device_id, decision } = event else { return None };
        if *device_id != identity.device_id() || decision.document.home != owner || decision.verify(&owner).is_err() {
            return None;
        }
        self.paired_with = None;
        (self.paired_challenge, self.home_version, self.home_joined) = (None, 0, false);
        self.open.clear();
        Some(self.say(identity, now, DeviceSay::Release { reason: ReleaseReason::Deleted }))
    }

    fn is_this_pairing(&self, identity: &Identity, event: &HouseholdEvent) -> bool {
        let HouseholdEvent::DeviceAdded { device_id, pairing, .. } = event else { return false };
        let accepted = match &pairing.document.say {
            DeviceSay::Accept { challenge, .. } => Some(challenge),
            _ => None,
        };
        *device_id == identity.device_id()
            && pairing.verify(&identity.public_key()).is_ok()
            && accepted.is_some_and(|challenge| Some(challenge) == self.paired_challenge.as_ref())
    }

    /// The time of the device's next message or hand-over: `now`, or just after its last if that is later.
    pub fn next_at(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let at = self.last_said_at.map_or(now, |last| now.max(last + Duration::milliseconds(1)));
        self.last_said_at = Some(at);
        at
    }

    /// The device's next message, later than its last, kept in the outbox until the ledger has it.
    fn say(&mut self, identity: &Identity, now: DateTime<Utc>, say: DeviceSay) -> SignedDeviceMessage {
        let at = self.next_at(now);
        let message = identity.says(at, say);
        self.outbox = Some(message.clone());
        message
    }

    /// A reset on the device: no owner, no counts, no open challenges (the identity gets a new secret).
    pub fn reset(&mut self) {
        let (inbox_version, last_said_at) = (self.inbox_version, self.last_said_at);
        *self = PairingState { inbox_version, last_said_at, ..PairingState::default() };
    }
}

/// The claimant of a message the ledger delivered, once the device has checked the signature itself and that the
/// message is for this device; `None` (ignored, and logged) otherwise.
fn verified_claimant(identity: &Identity, message: &SignedClaimantMessage) -> Option<PublicKey> {
    let document = &message.document;
    if document.device_id != identity.device_id() || message.verify(&document.owner).is_err() {
        tracing::warn!(
            owner = document.owner.to_hex(),
            "ignored a claimant message that is not signed or not for this device"
        );
        return None;
    }
    Some(document.owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::home::device_inbox::{answer_mac, ClaimantMessage, DeviceInboxCommand};
    use domain::home::{DeviceInbox, DeviceInboxState};
    use domain::Decider;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    fn claimant(owner: &SigningKey, device_id: &str, at: DateTime<Utc>, say: ClaimantSay) -> SignedClaimantMessage {
        Signed::sign(owner, ClaimantMessage { device_id: device_id.into(), owner: PublicKey::of(owner), at, say })
            .unwrap()
    }

    fn answer(
        owner: &SigningKey,
        identity: &Identity,
        at: DateTime<Utc>,
        challenge: &str,
        secret: &[u8],
    ) -> SignedClaimantMessage {
        let bytes: [u8; 32] = hex::decode(challenge).unwrap().try_into().unwrap();
        let mac = answer_mac(secret, &bytes, &PublicKey::of(owner), identity.device_id());
        let say = ClaimantSay::Answer { challenge: challenge.into(), mac: hex::encode(mac) };
        claimant(owner, identity.device_id(), at, say)
    }

    /// The ledger's inbox, fed the dialogue as it happens: every device message must pass the ledger's rules.
    struct Ledger {
        state: DeviceInboxState,
        version: i64,
    }

    impl Ledger {
        fn new() -> Ledger {
            Ledger { state: DeviceInboxState::default(), version: 0 }
        }

        fn take(&mut self, command: DeviceInboxCommand) -> Vec<(i64, DeviceInboxEvent)> {
            let events = DeviceInbox::decide(&self.state, command).expect("the ledger accepts it");
            events
                .into_iter()
                .map(|event| {
                    self.state = DeviceInbox::evolve(std::mem::take(&mut self.state), &event);
                    self.version += 1;
                    (self.version, event)
                })
                .collect()
        }

        fn claimant_says(&mut self, message: SignedClaimantMessage, now: DateTime<Utc>) -> (i64, DeviceInboxEvent) {
            self.take(DeviceInboxCommand::FromClaimant { message, now }).remove(0)
        }

        fn device_says(&mut self, message: SignedDeviceMessage, now: DateTime<Utc>) {
            self.take(DeviceInboxCommand::FromDevice { message, now });
        }
    }

    fn challenge_of(message: &SignedDeviceMessage) -> String {
        match &message.document.say {
            DeviceSay::Challenge { challenge, .. } => challenge.clone(),
            other => panic!("not a challenge: {other:?}"),
        }
    }

    #[test]
    fn the_secret_text_is_base32_in_groups_and_reads_back_as_people_type_it() {
        let secret: Vec<u8> = (0..SECRET_BYTES as u8).collect();
        let text = secret_text(&secret);
        assert_eq!(text, "AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT");
        assert_eq!(parse_secret(&text).unwrap(), secret);
        assert_eq!(parse_secret(" aaaqeaye audaocaj-bifqydio b4ibceqt ").unwrap(), secret);
        assert!(parse_secret("AAAQ-EAYE").unwrap_err().contains("32 characters"));
        assert!(parse_secret("AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQ1").unwrap_err().contains("base32"));
    }

    #[test]
    fn the_identity_is_made_once_readable_by_the_device_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.json");
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let first = Identity::open(&path, &mut rng).unwrap();
        let again = Identity::open(&path, &mut rng).unwrap();
        assert_eq!(first.device_id(), again.device_id());
        assert_eq!(first.secret_text(), again.secret_text());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let reset = first.with_new_secret(&mut rng);
        assert_eq!(reset.device_id(), first.device_id());
        assert_ne!(reset.secret_text(), first.secret_text());
    }

    #[test]
    fn the_right_answer_pairs_and_the_ledger_accepts_every_message_of_the_device() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let identity = Identity::generate(&mut rng);
        let owner = SigningKey::from_bytes(&[3; 32]);
        let (mut device, mut ledger) = (PairingState::default(), Ledger::new());

        let (version, event) =
            ledger.claimant_says(claimant(&owner, identity.device_id(), now(), ClaimantSay::Claim), now());
        let said = device.react(&identity, version, &event, now(), &mut rng).unwrap();
        let challenge = challenge_of(&said);
        ledger.device_says(said, now());

        let secret = parse_secret(&identity.secret_text()).unwrap();
        let at = now() + Duration::seconds(5);
        let (version, event) = ledger.claimant_says(answer(&owner, &identity, at, &challenge, &secret), at);
        let said = device.react(&identity, version, &event, at, &mut rng).unwrap();
        assert!(matches!(&said.document.say, DeviceSay::Accept { owner: o, .. } if *o == PublicKey::of(&owner)));
        ledger.device_says(said, at);
        assert_eq!(device.paired_with, Some(PublicKey::of(&owner).to_hex()));
        assert_eq!(ledger.state.paired_with.map(|(o, _)| o), Some(PublicKey::of(&owner)));

        // Handling the same events again says nothing: a replay never pairs anyone.
        assert_eq!(device.react(&identity, version, &event, at, &mut rng), None);
        // Another claimant is told the device is paired.
        let stranger = SigningKey::from_bytes(&[4; 32]);
        let claim = DeviceInboxEvent::PairingClaimed {
            message: claimant(&stranger, identity.device_id(), at, ClaimantSay::Claim),
        };
        let said = device.react(&identity, version + 1, &claim, at, &mut rng).unwrap();
        assert!(matches!(said.document.say, DeviceSay::Refuse { reason: RefusalReason::Paired, .. }));
    }

    #[test]
    fn wrong_answers_are_counted_and_lock_the_claimant_out() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let identity = Identity::generate(&mut rng);
        let owner = SigningKey::from_bytes(&[5; 32]);
        let (mut device, mut ledger) = (PairingState::default(), Ledger::new());
        for round in 0..MAX_FAILED_ANSWERS as i64 {
            let at = now() + Duration::seconds(round * 10);
            let (version, event) =
                ledger.claimant_says(claimant(&owner, identity.device_id(), at, ClaimantSay::Claim), at);
            let said = device.react(&identity, version, &event, at, &mut rng).unwrap();
            let challenge = challenge_of(&said);
            ledger.device_says(said, at);
            let later = at + Duration::seconds(1);
            let (version, event) = ledger.claimant_says(answer(&owner, &identity, later, &challenge, b"guess"), later);
            let said = device.react(&identity, version, &event, later, &mut rng).unwrap();
            let expected = round as u32 + 1;
            assert!(
                matches!(said.document.say, DeviceSay::Refuse { reason: RefusalReason::WrongAnswer, failures, .. } if failures == expected)
            );
            ledger.device_says(said, later);
        }
        // The ledger refuses the next claim itself; a device that is sent one anyway refuses it too.
        let at = now() + Duration::seconds(100);
        let message = claimant(&owner, identity.device_id(), at, ClaimantSay::Claim);
        let refused =
            DeviceInbox::decide(&ledger.state, DeviceInboxCommand::FromClaimant { message: message.clone(), now: at });
        assert!(matches!(refused, Err(domain::home::HomeError::LockedOut { failures: 3 })));
        let said = device.react(&identity, 100, &DeviceInboxEvent::PairingClaimed { message }, at, &mut rng).unwrap();
        assert!(matches!(said.document.say, DeviceSay::Refuse { reason: RefusalReason::LockedOut, failures: 3, .. }));
        device.reset();
        assert!(device.failures.is_empty());
    }

    #[test]
    fn the_device_ignores_what_it_did_not_ask_for_and_what_is_not_signed() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let identity = Identity::generate(&mut rng);
        let owner = SigningKey::from_bytes(&[6; 32]);
        let mut device = PairingState::default();
        // An answer to a challenge the device never issued.
        let stray = answer(&owner, &identity, now(), &"ab".repeat(32), b"x");
        assert_eq!(
            device.react(&identity, 1, &DeviceInboxEvent::ChallengeAnswered { message: stray }, now(), &mut rng),
            None
        );
        // A claim whose signature is not its owner's (a ledger making one up).
        let mut forged = claimant(&owner, identity.device_id(), now(), ClaimantSay::Claim);
        forged.signature =
            claimant(&SigningKey::from_bytes(&[7; 32]), identity.device_id(), now(), ClaimantSay::Claim).signature;
        assert_eq!(
            device.react(&identity, 2, &DeviceInboxEvent::PairingClaimed { message: forged }, now(), &mut rng),
            None
        );
        // A claim for another device.
        let elsewhere = claimant(&owner, "aaaaaaaaaaaaaaaa", now(), ClaimantSay::Claim);
        assert_eq!(
            device.react(&identity, 3, &DeviceInboxEvent::PairingClaimed { message: elsewhere }, now(), &mut rng),
            None
        );
        assert!(device.open.is_empty());
        assert_eq!(device.inbox_version, 3);
    }

    #[test]
    fn a_late_answer_is_refused_as_expired() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let identity = Identity::generate(&mut rng);
        let owner = SigningKey::from_bytes(&[8; 32]);
        let mut device = PairingState::default();
        let claim = DeviceInboxEvent::PairingClaimed {
            message: claimant(&owner, identity.device_id(), now(), ClaimantSay::Claim),
        };
        let challenge = challenge_of(&device.react(&identity, 1, &claim, now(), &mut rng).unwrap());
        let late = now() + Duration::seconds(CHALLENGE_SECONDS);
        let secret = parse_secret(&identity.secret_text()).unwrap();
        let event =
            DeviceInboxEvent::ChallengeAnswered { message: answer(&owner, &identity, late, &challenge, &secret) };
        let said = device.react(&identity, 2, &event, late, &mut rng).unwrap();
        assert!(matches!(said.document.say, DeviceSay::Refuse { reason: RefusalReason::Expired, failures: 0, .. }));
        assert_eq!(device.paired_with, None);
    }
    #[test]
    fn the_device_releases_itself_when_its_owner_deletes_it_and_only_then() {
        use domain::home::household::{Act, OwnerDecision};
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let identity = Identity::generate(&mut rng);
        let owner = SigningKey::from_bytes(&[9; 32]);
        let mut device = PairingState::default();
        let claim = DeviceInboxEvent::PairingClaimed {
            message: claimant(&owner, identity.device_id(), now(), ClaimantSay::Claim),
        };
        let challenge = challenge_of(&device.react(&identity, 1, &claim, now(), &mut rng).unwrap());
        let secret = parse_secret(&identity.secret_text()).unwrap();
        let answered =
            DeviceInboxEvent::ChallengeAnswered { message: answer(&owner, &identity, now(), &challenge, &secret) };
        let accept = device.react(&identity, 2, &answered, now(), &mut rng).unwrap();

        let decided = |act: Act, key: &SigningKey| {
            let decision = OwnerDecision { home: PublicKey::of(&owner), at: now(), act };
            Signed::sign(key, decision).unwrap()
        };
        let deleted = |key: &SigningKey| HouseholdEvent::DeviceDeleted {
            device_id: identity.device_id().to_owned(),
            decision: decided(Act::DeleteDevice { device_id: identity.device_id().to_owned() }, key),
        };
        // A deletion from an earlier pairing, before this pairing's DEVICE_ADDED, is not this pairing's.
        assert_eq!(device.react_home(&identity, 1, &deleted(&owner), now()), None);
        let added = HouseholdEvent::DeviceAdded {
            device_id: identity.device_id().to_owned(),
            device_key: identity.public_key(),
            pairing: accept.clone(),
            decision: decided(Act::AddDevice { pairing: accept }, &owner),
        };
        assert_eq!(device.react_home(&identity, 2, &added, now()), None);
        assert!(device.home_joined);
        // A deletion not signed by the owner is ignored.
        assert_eq!(device.react_home(&identity, 3, &deleted(&SigningKey::from_bytes(&[10; 32])), now()), None);
        let released = device.react_home(&identity, 4, &deleted(&owner), now()).unwrap();
        assert!(matches!(released.document.say, DeviceSay::Release { reason: ReleaseReason::Deleted }));
        assert_eq!((device.paired_with.clone(), device.home_joined, device.home_version), (None, false, 0));
    }
}
