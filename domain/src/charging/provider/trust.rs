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
pub struct TrustListState(pub BTreeMap<Uid, PublicKey>);

#[derive(Debug, Clone)]
pub enum TrustListCommand {
    /// Trust the authority described by its exported contact card.
    TrustAuthority {
        card: ContactCard,
        at: DateTime<Utc>,
    },
    DistrustAuthority {
        authority_uid: Uid,
        at: DateTime<Utc>,
    },
}

// Events are serialized once, not held in bulk in memory, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr)]
#[serde(tag = "type")]
pub enum TrustListEvent {
    AuthorityTrusted {
        authority_uid: Uid,
        #[serde(with = "crate::crypto::hex_key")]
        #[schemars(with = "String")]
        public_key: PublicKey,
        alias: String,
        at: DateTime<Utc>,
    },
    AuthorityDistrusted {
        authority_uid: Uid,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustListError {
    #[error("invalid contact card: {0}")]
    InvalidContactCard(#[from] ContactCardError),
    #[error("authority {0} is not trusted")]
    NotTrusted(Uid),
}

pub struct TrustList;

/// The one stream of this aggregate.
const STREAM: &str = "charging-provider-trust";

impl Aggregate for TrustList {
    /// A provider keeps one list.
    type Id = ();

    fn stream_id(_: &()) -> String {
        STREAM.to_owned()
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id == STREAM
    }
}

impl Decider for TrustList {
    type State = TrustListState;
    type Command = TrustListCommand;
    type Event = TrustListEvent;
    type Error = TrustListError;

    fn decide(state: &TrustListState, command: TrustListCommand) -> Result<Vec<TrustListEvent>, TrustListError> {
        match command {
            TrustListCommand::TrustAuthority { card, at } => {
                card.verify()?;
                if state.0.get(&card.card.uid) == Some(&card.card.public_key) {
                    return Ok(vec![]);
                }
                let ContactCard { card, .. } = card;
                let card = card.into_parsed();
                Ok(vec![TrustListEvent::AuthorityTrusted {
                    authority_uid: card.uid,
                    public_key: card.public_key,
                    alias: card.alias,
                    at,
                }])
            }
            TrustListCommand::DistrustAuthority { authority_uid, at } => {
                if !state.0.contains_key(&authority_uid) {
                    return Err(TrustListError::NotTrusted(authority_uid));
                }
                Ok(vec![TrustListEvent::AuthorityDistrusted { authority_uid, at }])
            }
        }
    }

    fn evolve(mut state: TrustListState, event: &TrustListEvent) -> TrustListState {
        match event {
            TrustListEvent::AuthorityTrusted { authority_uid, public_key, .. } => {
                state.0.insert(authority_uid.clone(), *public_key);
            }
            TrustListEvent::AuthorityDistrusted { authority_uid, .. } => {
                let removed = state.0.remove(authority_uid);
                assert!(removed.is_some(), "only a trusted authority is distrusted");
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
}
