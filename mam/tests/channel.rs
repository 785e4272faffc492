//! The channel's promises: round trip, no side key no address and no plaintext, tampering,
//! reordering and foreign messages caught, rotation cuts a removed provider off.

use std::collections::HashMap;

use mam::{Address, Channel, Kind, MamError, ProviderKeyPair, Reader, SealedMessage, SideKey};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The ledger as the reader sees it: messages by address.
#[derive(Default)]
struct Ledger(HashMap<Address, SealedMessage>);

impl Ledger {
    fn store(&mut self, m: SealedMessage) {
        m.verify_signature().expect("the ledger stores only signed messages");
        self.0.insert(m.address, m);
    }

    fn fetch(&self) -> impl FnMut(&Address) -> Option<SealedMessage> + '_ {
        |a| self.0.get(a).cloned()
    }
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(42)
}

fn payloads(opened: &[mam::Opened]) -> Vec<Vec<u8>> {
    opened.iter().filter(|o| o.kind == Kind::Data).map(|o| o.payload.clone()).collect()
}

#[test]
fn a_granted_provider_reads_what_follows_the_grant_in_order() {
    let mut rng = rng();
    let mut channel = Channel::create(&mut rng);
    let mut ledger = Ledger::default();
    ledger.store(channel.publish(b"before the grant", &mut rng));
    let provider = ProviderKeyPair::generate(&mut rng);
    let grant = mam::Grant::from_bytes(&channel.grant(&provider.public, &mut rng).unwrap().to_bytes()).unwrap();
    for i in 0..5 {
        let m = channel.publish(format!("telegram {i}").as_bytes(), &mut rng);
        // The wire form round-trips exactly.
        assert_eq!(SealedMessage::from_bytes(&m.to_bytes()).unwrap(), m);
        assert_eq!(m.to_envelope().open().unwrap(), m);
        ledger.store(m);
    }
    let mut reader = Reader::from_grant(&channel.public_key(), &grant, provider).unwrap();
    let walk = reader.walk(ledger.fetch(), 100);
    assert!(walk.stopped.is_none(), "{:?}", walk.stopped);
    let expected: Vec<Vec<u8>> = (0..5).map(|i| format!("telegram {i}").into_bytes()).collect();
    assert_eq!(payloads(&walk.opened), expected);
    assert_eq!(reader.next_index(), 6);
}

#[test]
fn without_the_side_key_there_is_no_address_and_no_plaintext() {
    let mut rng = rng();
    let mut channel = Channel::create(&mut rng);
    let secret = b"meter 4530303434303037313331363130323137 used 4070.123 kWh";
    let m = channel.publish(secret, &mut rng);
    let bytes = m.to_bytes();
    assert!(!bytes.windows(16).any(|w| secret.windows(16).any(|s| s == w)), "plaintext leaks");

    // Someone who knows the channel key and the index but guesses the side key computes a
    // different address and cannot decrypt.
    let guess = SideKey::generate(&mut rng);
    assert_ne!(guess.address(&channel.public_key(), 0), m.address);
    let mut outsider = Reader::with_side_key(channel.public_key(), 0, 0, guess);
    assert_eq!(outsider.open(&m), Err(MamError::WrongAddress));
    let mut ledger = Ledger::default();
    ledger.store(m.clone());
    let walk = outsider.walk(ledger.fetch(), 10);
    assert!(walk.opened.is_empty() && walk.stopped.is_none(), "nothing found at a guessed address");
}

#[test]
fn every_flipped_bit_is_caught() {
    let mut rng = rng();
    let mut channel = Channel::create(&mut rng);
    let provider = ProviderKeyPair::generate(&mut rng);
    let grant = channel.grant(&provider.public, &mut rng).unwrap();
    let bytes = channel.publish(b"reading", &mut rng).to_bytes();
    let provider_secret = provider.secret_bytes();
    for at in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[at] ^= 0x10;
        let pair = ProviderKeyPair::from_secret_bytes(&provider_secret).unwrap();
        let mut reader = Reader::from_grant(&channel.public_key(), &grant, pair).unwrap();
        let result = SealedMessage::from_bytes(&tampered).and_then(|m| reader.open(&m));
        assert!(result.is_err(), "flipping byte {at} went unnoticed");
    }
    let mut reader = Reader::from_grant(&channel.public_key(), &grant, provider).unwrap();
    assert_eq!(reader.open(&SealedMessage::from_bytes(&bytes).unwrap()).unwrap().payload, b"reading");
}

#[test]
fn reordered_replayed_and_foreign_messages_are_refused() {
    let mut rng = rng();
    let mut channel = Channel::create(&mut rng);
    let mut other = Channel::create(&mut rng);
    let provider = ProviderKeyPair::generate(&mut rng);
    let grant = channel.grant(&provider.public, &mut rng).unwrap();
    let first = channel.publish(b"1", &mut rng);
    let second = channel.publish(b"2", &mut rng);
    let mut reader = Reader::from_grant(&channel.public_key(), &grant, provider).unwrap();
    assert_eq!(reader.open(&second), Err(MamError::OutOfOrder { expected: 0, got: 1 }));
    assert_eq!(reader.open(&other.publish(b"x", &mut rng)), Err(MamError::ForeignChannel));
    reader.open(&first).unwrap();
    assert_eq!(reader.open(&first), Err(MamError::OutOfOrder { expected: 1, got: 0 }));
    reader.open(&second).unwrap();
    // A grant signed by another channel key is refused.
    let stranger = ProviderKeyPair::generate(&mut rng);
    let forged = other.grant(&stranger.public, &mut rng).unwrap();
    assert!(Reader::from_grant(&channel.public_key(), &forged, stranger).is_err());
}

#[test]
fn after_a_rotation_the_removed_provider_is_cut_off_and_the_remaining_one_reads_on() {
    let mut rng = rng();
    let mut channel = Channel::create(&mut rng);
    let mut ledger = Ledger::default();
    let stays = ProviderKeyPair::generate(&mut rng);
    let leaves = ProviderKeyPair::generate(&mut rng);
    let stays_public = stays.public;
    let grant_stays = channel.grant(&stays.public, &mut rng).unwrap();
    let grant_leaves = channel.grant(&leaves.public, &mut rng).unwrap();
    for i in 0..3 {
        ledger.store(channel.publish(format!("old {i}").as_bytes(), &mut rng));
    }
    let old_key = SideKey::from_bytes(hex::decode(channel.state().side_key).unwrap().try_into().unwrap());
    ledger.store(channel.rotate(&[stays_public], &mut rng).unwrap());
    let mut after = Vec::new();
    for i in 0..3 {
        let m = channel.publish(format!("new {i}").as_bytes(), &mut rng);
        after.push(m.clone());
        ledger.store(m);
    }
    assert_eq!(channel.epoch(), 1);

    let mut remaining = Reader::from_grant(&channel.public_key(), &grant_stays, stays).unwrap();
    let walk = remaining.walk(ledger.fetch(), 100);
    assert!(walk.stopped.is_none(), "{:?}", walk.stopped);
    assert_eq!(
        payloads(&walk.opened),
        ["old 0", "old 1", "old 2", "new 0", "new 1", "new 2"].map(|s| s.as_bytes().to_vec())
    );

    let mut removed = Reader::from_grant(&channel.public_key(), &grant_leaves, leaves).unwrap();
    let walk = removed.walk(ledger.fetch(), 100);
    assert_eq!(payloads(&walk.opened).len(), 3, "the removed provider still reads the old epoch");
    assert_eq!(walk.stopped, Some(MamError::Revoked));
    assert_eq!(removed.next_address(), None);

    // Even handed the new messages directly, the old side key neither finds nor opens them.
    for m in &after {
        assert_eq!(m.epoch, 1);
        assert_ne!(old_key.address(&channel.public_key(), m.index), m.address);
        assert_eq!(m.decrypt(&old_key), Err(MamError::Decrypt));
        let mut r = Reader::with_side_key(channel.public_key(), m.index, 1, old_key.clone());
        assert_eq!(r.open(m), Err(MamError::WrongAddress));
    }
}

#[test]
fn batch_verification_gives_each_message_its_own_verdict() {
    let mut rng = rng();
    let mut channels: Vec<Channel> = (0..3).map(|_| Channel::create(&mut rng)).collect();
    let good: Vec<SealedMessage> =
        (0..6).map(|i| channels[i % 3].publish(format!("telegram {i}").as_bytes(), &mut rng)).collect();
    let all: Vec<&SealedMessage> = good.iter().collect();
    assert!(SealedMessage::verify_signatures(&all).iter().all(Result::is_ok));

    let mut flipped = good[4].clone();
    flipped.signature[10] ^= 1;
    // A small-order channel key: the identity point with R = identity and s = 0 satisfies the
    // batch equation for any message, so weak keys must be refused before batching.
    let identity = {
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        bytes
    };
    let mut forged = good[1].clone();
    forged.channel = identity;
    forged.signature = [0; 64];
    forged.signature[..32].copy_from_slice(&identity);
    assert!(forged.verify_signature().is_err());
    let verdicts = SealedMessage::verify_signatures(&[&good[0], &forged, &good[2]]);
    assert_eq!(verdicts.iter().map(Result::is_ok).collect::<Vec<_>>(), [true, false, true]);
    let mixed = [&good[0], &forged, &good[2], &flipped, &good[5]];
    let verdicts = SealedMessage::verify_signatures(&mixed);
    let ok: Vec<bool> = verdicts.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, true, false, true]);
    assert!(matches!(verdicts[1], Err(MamError::BadSignature)));
    assert!(SealedMessage::verify_signatures(&[&forged]).iter().all(Result::is_err));
    assert!(SealedMessage::verify_signatures(&[]).is_empty());
    // Keys handed in must be the messages' own.
    let keys: Vec<_> = [&good[0], &good[1]].iter().map(|m| m.channel_key().unwrap()).collect();
    assert!(SealedMessage::verify_signatures_under(&[&good[0], &good[1]], &keys).iter().all(Result::is_ok));
    let swapped = [keys[1], keys[0]];
    assert!(SealedMessage::verify_signatures_under(&[&good[0], &good[1]], &swapped).iter().all(Result::is_ok));
    let verdicts =
        SealedMessage::verify_signatures_under(&[&good[0], &flipped], &[keys[0], good[4].channel_key().unwrap()]);
    assert_eq!(verdicts.iter().map(Result::is_ok).collect::<Vec<_>>(), [true, false]);
    assert!(forged.channel_key().is_none());
}
