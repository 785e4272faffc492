use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;

use super::*;
use crate::crypto::{PublicKey, Signature, Signed, SignedDocument};
use crate::home::error::HomeError;
use crate::{given_when, Decider};

const SECRET: [u8; 20] = [42; 20];

fn t(seconds: i64) -> DateTime<Utc> {
    "2026-12-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(seconds)
}

fn device_key() -> SigningKey {
    SigningKey::from_bytes(&[4; 32])
}

fn device() -> String {
    device_id_of(&PublicKey::of(&device_key()))
}

fn owner(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn from_claimant(key: &SigningKey, at: DateTime<Utc>, say: ClaimantSay) -> DeviceInboxCommand {
    let message = ClaimantMessage { device_id: device(), owner: PublicKey::of(key), at, say };
    DeviceInboxCommand::FromClaimant { message: Signed::sign(key, message).unwrap(), now: at }
}

fn from_device(at: DateTime<Utc>, say: DeviceSay) -> DeviceInboxCommand {
    let key = device_key();
    let message = DeviceMessage { device_id: device(), device_key: PublicKey::of(&key), at, say };
    DeviceInboxCommand::FromDevice { message: Signed::sign(&key, message).unwrap(), now: at }
}

fn challenge_bytes(seed: u8) -> [u8; CHALLENGE_BYTES] {
    [seed; CHALLENGE_BYTES]
}

fn challenge(key: &SigningKey, at: DateTime<Utc>, seed: u8) -> DeviceInboxCommand {
    let say = DeviceSay::Challenge {
        owner: PublicKey::of(key),
        challenge: hex::encode(challenge_bytes(seed)),
        valid_until: at + Duration::seconds(120),
    };
    from_device(at, say)
}

fn answer(key: &SigningKey, at: DateTime<Utc>, seed: u8, secret: &[u8]) -> DeviceInboxCommand {
    let mac = answer_mac(secret, &challenge_bytes(seed), &PublicKey::of(key), &device());
    let say = ClaimantSay::Answer { challenge: hex::encode(challenge_bytes(seed)), mac: hex::encode(mac) };
    from_claimant(key, at, say)
}

fn refusal(key: &SigningKey, at: DateTime<Utc>, reason: RefusalReason, failures: u32) -> DeviceInboxCommand {
    from_device(at, DeviceSay::Refuse { owner: PublicKey::of(key), reason, failures })
}

/// Runs `commands` in order from an empty inbox, each against the state the earlier ones left; the events of all.
fn run(commands: Vec<DeviceInboxCommand>) -> Result<Vec<DeviceInboxEvent>, HomeError> {
    let mut history = Vec::new();
    for command in commands {
        history.extend(given_when::<DeviceInbox>(&history, command)?);
    }
    Ok(history)
}

/// The whole dialogue up to the answer of owner(1), challenge seed 7, at t(0)..t(2).
fn answered(secret: &[u8]) -> Vec<DeviceInboxCommand> {
    let owner = owner(1);
    vec![from_claimant(&owner, t(0), ClaimantSay::Claim), challenge(&owner, t(1), 7), answer(&owner, t(2), 7, secret)]
}

fn paired() -> Vec<DeviceInboxEvent> {
    let mut commands = answered(&SECRET);
    let accept = DeviceSay::Accept { owner: PublicKey::of(&owner(1)), challenge: hex::encode(challenge_bytes(7)) };
    commands.push(from_device(t(3), accept));
    run(commands).unwrap()
}

#[test]
fn a_device_id_is_the_base32_of_its_keys_tagged_blake2b() {
    // Cross-checked with Python: base64.b32encode(hashlib.blake2b(b"notch/home/device-id/v1\0" + key,
    // digest_size=32).digest()[:10]).lower().
    let key = PublicKey::from_bytes(&[0x11; 32]).unwrap();
    assert_eq!(device_id_of(&key), "gynk7jmkzvh4v5fs");
}

#[test]
fn the_answer_is_hmac_sha256_over_challenge_owner_and_device_id() {
    // Cross-checked with Python: hmac.new(bytes(range(20)), challenge + owner + device_id, hashlib.sha256).
    let secret: Vec<u8> = (0..20).collect();
    let owner = PublicKey::from_bytes(&[0x11; 32]).unwrap();
    let mac = answer_mac(&secret, &[0xaa; 32], &owner, "abcdefghijklmnop");
    assert_eq!(hex::encode(mac), "dbd346a328e2f3282a8daf2ab59d5bcbca463d7585c02bb099f39d957b13ee83");
    assert!(answer_is_right(&secret, &[0xaa; 32], &owner, "abcdefghijklmnop", &mac));
    assert!(!answer_is_right(&secret, &[0xaa; 32], &owner, "abcdefghijklmnoq", &mac));
    assert!(!answer_is_right(&SECRET, &[0xaa; 32], &owner, "abcdefghijklmnop", &mac));
    assert!(!answer_is_right(&secret, &[0xaa; 32], &owner, "abcdefghijklmnop", &mac[..31]));
}

#[test]
fn claim_challenge_answer_accept_pairs_the_device_with_the_claimant() {
    let events = paired();
    let names: Vec<&str> = events.iter().map(|e| e.into()).collect();
    assert_eq!(names, ["PairingClaimed", "ChallengeIssued", "ChallengeAnswered", "PairingAccepted"]);
    let state = DeviceInbox::replay(&events);
    assert_eq!(state.paired_with, Some((PublicKey::of(&owner(1)), t(3))));
    assert_eq!(state.device_id, Some(device()));
    assert!(state.claims.is_empty());
}

#[test]
fn a_paired_device_refuses_another_claimant_until_it_is_released() {
    let history = paired();
    let second = from_claimant(&owner(2), t(4), ClaimantSay::Claim);
    assert!(matches!(given_when::<DeviceInbox>(&history, second.clone()), Err(HomeError::AlreadyPaired(_))));
    let mut released = history.clone();
    released.extend(
        given_when::<DeviceInbox>(&history, from_device(t(5), DeviceSay::Release { reason: ReleaseReason::Deleted }))
            .unwrap(),
    );
    let again = from_claimant(&owner(2), t(6), ClaimantSay::Claim);
    assert!(given_when::<DeviceInbox>(&released, again).is_ok());
}

#[test]
fn a_replayed_answer_is_refused() {
    let owner = owner(1);
    let mut commands = answered(&SECRET);
    commands.push(answer(&owner, t(3), 7, &SECRET));
    assert!(matches!(run(commands), Err(HomeError::ChallengeAnswered)));
    // The very same signed message again is older than the claimant's last one.
    let mut commands = answered(&SECRET);
    commands.push(answer(&owner, t(2), 7, &SECRET));
    assert!(matches!(run(commands), Err(HomeError::Stale { .. })));
}

#[test]
fn an_answer_for_another_device_or_another_challenge_is_refused() {
    let owner = owner(1);
    let mut commands = answered(&SECRET)[..2].to_vec();
    let message = ClaimantMessage {
        device_id: device_id_of(&PublicKey::of(&SigningKey::from_bytes(&[5; 32]))),
        owner: PublicKey::of(&owner),
        at: t(2),
        say: ClaimantSay::Answer { challenge: hex::encode(challenge_bytes(7)), mac: "00".repeat(32) },
    };
    commands.push(DeviceInboxCommand::FromClaimant { message: Signed::sign(&owner, message).unwrap(), now: t(2) });
    assert!(matches!(run(commands), Err(HomeError::BadRequest(m)) if m.contains("inbox")));
    let mut commands = answered(&SECRET)[..2].to_vec();
    commands.push(answer(&owner, t(2), 8, &SECRET));
    assert!(matches!(run(commands), Err(HomeError::NoSuchChallenge)));
}

#[test]
fn an_answer_after_the_challenge_ran_out_is_refused() {
    let owner = owner(1);
    let mut commands = answered(&SECRET)[..2].to_vec();
    commands.push(answer(&owner, t(1 + 120), 7, &SECRET));
    assert!(matches!(run(commands), Err(HomeError::Expired(_))));
}

#[test]
fn forged_signatures_are_refused_from_either_side() {
    let claim = from_claimant(&owner(1), t(0), ClaimantSay::Claim);
    let DeviceInboxCommand::FromClaimant { mut message, now } = claim else { unreachable!() };
    message.signature = Signature::sign_canonical(&owner(2), ClaimantMessage::PURPOSE, message.document.canonical());
    let forged = DeviceInboxCommand::FromClaimant { message, now };
    assert!(matches!(run(vec![forged]), Err(HomeError::BadSignature(_))));

    let impostor = SigningKey::from_bytes(&[9; 32]);
    let say = DeviceSay::Challenge { owner: PublicKey::of(&owner(1)), challenge: "11".repeat(32), valid_until: t(60) };
    let message = DeviceMessage { device_id: device(), device_key: PublicKey::of(&impostor), at: t(1), say };
    let impostor_says =
        DeviceInboxCommand::FromDevice { message: Signed::sign(&impostor, message).unwrap(), now: t(1) };
    let result = run(vec![from_claimant(&owner(1), t(0), ClaimantSay::Claim), impostor_says]);
    assert!(matches!(result, Err(HomeError::BadRequest(m)) if m.contains("is not device")));
}

#[test]
fn one_claim_open_per_claimant_and_a_bound_on_all() {
    let first = from_claimant(&owner(1), t(0), ClaimantSay::Claim);
    let again = from_claimant(&owner(1), t(1), ClaimantSay::Claim);
    assert!(matches!(run(vec![first.clone(), again]), Err(HomeError::ClaimOpen)));
    // Once it has run out unanswered, the claimant may claim again.
    let later = from_claimant(&owner(1), t(CLAIM_WAIT_SECONDS), ClaimantSay::Claim);
    assert!(run(vec![first, later]).is_ok());

    let mut claims: Vec<DeviceInboxCommand> =
        (0..MAX_OPEN_CLAIMS as u8).map(|i| from_claimant(&owner(10 + i), t(i as i64), ClaimantSay::Claim)).collect();
    assert!(run(claims.clone()).is_ok());
    claims.push(from_claimant(&owner(99), t(20), ClaimantSay::Claim));
    assert!(matches!(run(claims), Err(HomeError::TooMany { .. })));
}

#[test]
fn a_claimant_is_locked_out_after_repeated_wrong_answers_until_a_reset() {
    let key = owner(1);
    let mut commands = Vec::new();
    for round in 0..MAX_FAILED_ANSWERS as i64 {
        let at = |s: i64| t(round * 10 + s);
        commands.push(from_claimant(&key, at(0), ClaimantSay::Claim));
        commands.push(challenge(&key, at(1), round as u8));
        commands.push(answer(&key, at(2), round as u8, b"a wrong secret"));
        commands.push(refusal(&key, at(3), RefusalReason::WrongAnswer, round as u32 + 1));
    }
    let history = run(commands).unwrap();
    assert_eq!(DeviceInbox::replay(&history).failures.get(&PublicKey::of(&key)), Some(&MAX_FAILED_ANSWERS));
    let claim = from_claimant(&key, t(100), ClaimantSay::Claim);
    assert!(matches!(given_when::<DeviceInbox>(&history, claim), Err(HomeError::LockedOut { failures: 3 })));
    // Another claimant is not locked out by this one's failures.
    assert!(given_when::<DeviceInbox>(&history, from_claimant(&owner(2), t(100), ClaimantSay::Claim)).is_ok());

    let mut reset = history.clone();
    reset.extend(
        given_when::<DeviceInbox>(&history, from_device(t(101), DeviceSay::Release { reason: ReleaseReason::Reset }))
            .unwrap(),
    );
    assert!(given_when::<DeviceInbox>(&reset, from_claimant(&key, t(102), ClaimantSay::Claim)).is_ok());
}

#[test]
fn many_claimants_together_get_a_bounded_number_of_guesses() {
    let mut commands = Vec::new();
    for i in 0..MAX_TOTAL_FAILED_ANSWERS as i64 {
        let key = owner(100 + i as u8);
        let at = |s: i64| t(i * 10 + s);
        commands.push(from_claimant(&key, at(0), ClaimantSay::Claim));
        commands.push(challenge(&key, at(1), 3));
        commands.push(answer(&key, at(2), 3, b"guess"));
        commands.push(refusal(&key, at(3), RefusalReason::WrongAnswer, 1));
    }
    let history = run(commands).unwrap();
    let fresh = from_claimant(&owner(250), t(1000), ClaimantSay::Claim);
    assert!(matches!(given_when::<DeviceInbox>(&history, fresh), Err(HomeError::LockedOut { failures: 0 })));
}

#[test]
fn the_device_speaks_in_turn() {
    let key = owner(1);
    // No challenge without a claim, and no wrong-answer refusal before an answer.
    assert!(matches!(run(vec![challenge(&key, t(0), 1)]), Err(HomeError::NoSuchChallenge)));
    let early = vec![
        from_claimant(&key, t(0), ClaimantSay::Claim),
        challenge(&key, t(1), 1),
        refusal(&key, t(2), RefusalReason::WrongAnswer, 1),
    ];
    assert!(matches!(run(early), Err(HomeError::BadRequest(_))));
    // An accept names the challenge that was answered.
    let mut commands = answered(&SECRET);
    let accept = DeviceSay::Accept { owner: PublicKey::of(&key), challenge: hex::encode(challenge_bytes(8)) };
    commands.push(from_device(t(3), accept));
    assert!(matches!(run(commands), Err(HomeError::NoSuchChallenge)));
    // A challenge is answerable for at most ten minutes.
    let say = DeviceSay::Challenge {
        owner: PublicKey::of(&key),
        challenge: "11".repeat(32),
        valid_until: t(1 + MAX_CHALLENGE_SECONDS + 1),
    };
    let long = vec![from_claimant(&key, t(0), ClaimantSay::Claim), from_device(t(1), say)];
    assert!(matches!(run(long), Err(HomeError::BadRequest(_))));
}

#[test]
fn a_message_far_from_the_ledgers_clock_is_refused() {
    let key = owner(1);
    let message =
        ClaimantMessage { device_id: device(), owner: PublicKey::of(&key), at: t(0), say: ClaimantSay::Claim };
    let late = DeviceInboxCommand::FromClaimant { message: Signed::sign(&key, message).unwrap(), now: t(301) };
    assert!(matches!(run(vec![late]), Err(HomeError::Stale { .. })));
}

#[test]
fn a_malformed_device_id_is_refused() {
    let key = owner(1);
    let message = ClaimantMessage {
        device_id: "P1-GARAGE".into(),
        owner: PublicKey::of(&key),
        at: t(0),
        say: ClaimantSay::Claim,
    };
    let claim = DeviceInboxCommand::FromClaimant { message: Signed::sign(&key, message).unwrap(), now: t(0) };
    assert!(matches!(run(vec![claim]), Err(HomeError::BadRequest(m)) if m.contains("not a device id")));
}

#[test]
fn a_device_counts_no_more_wrong_answers_than_all_claimants_may_give() {
    let key = owner(1);
    let mut commands = answered(b"wrong")[..].to_vec();
    commands.push(refusal(&key, t(3), RefusalReason::WrongAnswer, MAX_TOTAL_FAILED_ANSWERS + 1));
    assert!(matches!(run(commands), Err(HomeError::BadRequest(m)) if m.contains("at most")));
    let mut commands = answered(b"wrong")[..].to_vec();
    commands.push(refusal(&key, t(3), RefusalReason::WrongAnswer, u32::MAX));
    assert!(run(commands).is_err(), "a count that would overflow the total is refused");
}
