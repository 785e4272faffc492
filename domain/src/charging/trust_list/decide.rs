//! The TrustList aggregate's rules.

use super::commands::TrustListCommand;
use super::events::TrustListEvent;
use super::state::TrustListState;
use super::TrustList;
use crate::charging::contact_card::ContactCard;
use crate::charging::error::TrustListError;
use crate::Decider;

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
