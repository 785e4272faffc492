//! The TrustList aggregate's rules, command by command.

use super::*;
use crate::charging::contact_card::ContactCard;
use crate::charging::crypto::PublicKey;
use crate::charging::TrustListError;
use crate::Decider;
use chrono::TimeZone;
use chrono::Utc;
use ed25519_dalek::SigningKey;

#[test]
fn trusting_then_distrusting_an_authority() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let card = ContactCard::create(&SigningKey::from_bytes(&[5; 32]), "RA", vec![], None).unwrap();
    let uid = card.card.uid.clone();
    let events =
        TrustList::decide(&TrustListState::default(), TrustListCommand::TrustAuthority { card: card.clone(), at })
            .unwrap();
    let state = TrustList::replay(&events);
    assert_eq!(state.0.get(&uid), Some(&card.card.public_key));
    assert_eq!(TrustList::decide(&state, TrustListCommand::TrustAuthority { card, at }), Ok(vec![]));
    let events =
        TrustList::decide(&state, TrustListCommand::DistrustAuthority { authority_uid: uid.clone(), at }).unwrap();
    let state = events.iter().fold(state, TrustList::evolve);
    assert!(state.0.is_empty());
    assert_eq!(
        TrustList::decide(&state, TrustListCommand::DistrustAuthority { authority_uid: uid.clone(), at }),
        Err(TrustListError::NotTrusted(uid))
    );
}

#[test]
fn a_tampered_authority_card_is_refused() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let mut card = ContactCard::create(&SigningKey::from_bytes(&[5; 32]), "RA", vec![], None).unwrap();
    let mut body = card.card.clone().into_parsed();
    body.public_key = PublicKey::of(&SigningKey::from_bytes(&[6; 32]));
    card.card = crate::crypto::Received::of(body).unwrap();
    let result = TrustList::decide(&TrustListState::default(), TrustListCommand::TrustAuthority { card, at });
    assert!(matches!(result, Err(TrustListError::InvalidContactCard(_))));
}
