//! The provider's list of registration authorities whose certificates it accepts.

use crate::charging::contact_card::{ContactCard, ContactCardError};
use crate::charging::crypto::{PublicKey, Uid};
use crate::{Aggregate, Decider};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// authority uid -> its public key
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedAuthorities(pub BTreeMap<Uid, PublicKey>);

#[derive(Debug, Clone)]
pub enum TrustCommand {
    /// Trust the authority described by its exported contact card.
    TrustAuthority {
        card: Box<ContactCard>,
        now: DateTime<Utc>,
    },
    DistrustAuthority {
        authority_uid: Uid,
        now: DateTime<Utc>,
    },
}

// Events are serialized once, not held in bulk in memory, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr)]
#[serde(tag = "type")]
pub enum TrustEvent {
    AuthorityTrusted { authority_uid: Uid, public_key: PublicKey, alias: String, at: DateTime<Utc> },
    AuthorityDistrusted { authority_uid: Uid, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("invalid contact card: {0}")]
    InvalidContactCard(#[from] ContactCardError),
    #[error("authority {0} is not trusted")]
    NotTrusted(Uid),
}

pub struct TrustDecider;

/// The one stream of this aggregate.
const STREAM: &str = "charging-provider-trust";

impl Aggregate for TrustDecider {
    /// A provider keeps one list.
    type Id = ();

    fn stream_id(_: &()) -> String {
        STREAM.to_owned()
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id == STREAM
    }
}

impl Decider for TrustDecider {
    type State = TrustedAuthorities;
    type Command = TrustCommand;
    type Event = TrustEvent;
    type Error = TrustError;

    fn decide(state: &TrustedAuthorities, command: TrustCommand) -> Result<Vec<TrustEvent>, TrustError> {
        match command {
            TrustCommand::TrustAuthority { card, now } => {
                card.verify()?;
                if state.0.get(&card.card.uid) == Some(&card.card.public_key) {
                    return Ok(vec![]);
                }
                let ContactCard { card, .. } = *card;
                Ok(vec![TrustEvent::AuthorityTrusted {
                    authority_uid: card.uid,
                    public_key: card.public_key,
                    alias: card.alias,
                    at: now,
                }])
            }
            TrustCommand::DistrustAuthority { authority_uid, now } => {
                if !state.0.contains_key(&authority_uid) {
                    return Err(TrustError::NotTrusted(authority_uid));
                }
                Ok(vec![TrustEvent::AuthorityDistrusted { authority_uid, at: now }])
            }
        }
    }

    fn evolve(mut state: TrustedAuthorities, event: &TrustEvent) -> TrustedAuthorities {
        match event {
            TrustEvent::AuthorityTrusted { authority_uid, public_key, .. } => {
                state.0.insert(authority_uid.clone(), *public_key);
            }
            TrustEvent::AuthorityDistrusted { authority_uid, .. } => {
                state.0.remove(authority_uid);
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ed25519_dalek::SigningKey;

    #[test]
    fn trusting_then_distrusting_an_authority() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let card = ContactCard::create(&SigningKey::from_bytes(&[5; 32]), "RA", vec![], None).unwrap();
        let uid = card.card.uid.clone();
        let events = TrustDecider::decide(
            &TrustedAuthorities::default(),
            TrustCommand::TrustAuthority { card: Box::new(card.clone()), now },
        )
        .unwrap();
        let state = TrustDecider::replay(&events);
        assert_eq!(state.0.get(&uid), Some(&card.card.public_key));
        assert_eq!(
            TrustDecider::decide(&state, TrustCommand::TrustAuthority { card: Box::new(card), now }),
            Ok(vec![])
        );
        let events =
            TrustDecider::decide(&state, TrustCommand::DistrustAuthority { authority_uid: uid.clone(), now }).unwrap();
        let state = events.iter().fold(state, TrustDecider::evolve);
        assert!(state.0.is_empty());
        assert_eq!(
            TrustDecider::decide(&state, TrustCommand::DistrustAuthority { authority_uid: uid.clone(), now }),
            Err(TrustError::NotTrusted(uid))
        );
    }

    #[test]
    fn a_tampered_authority_card_is_refused() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let mut card = ContactCard::create(&SigningKey::from_bytes(&[5; 32]), "RA", vec![], None).unwrap();
        card.card.public_key = PublicKey::of(&SigningKey::from_bytes(&[6; 32]));
        let result = TrustDecider::decide(
            &TrustedAuthorities::default(),
            TrustCommand::TrustAuthority { card: Box::new(card), now },
        );
        assert!(matches!(result, Err(TrustError::InvalidContactCard(_))));
    }
}
