//! The User aggregate's rules.

use super::commands::UserCommand;
use super::events::UserEvent;
use super::state::{Contact, UserState, UserStatus};
use super::User;
use crate::site::error::{SiteError, SiteResult};
use crate::Decider;

/// Most device keys one user may register: each is a standing credential, so their number is bounded.
pub const MAX_DEVICE_KEYS: usize = 16;

/// CIDs appear in CHIP addresses `cid:agent@host:port` and in stream ids: lower-case letters, digits, `_ . -`.
pub fn check_cid(cid: &str) -> SiteResult<()> {
    let ok = (1..=64).contains(&cid.len())
        && cid.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SiteError::Invalid(format!("CID {cid:?} must be 1..64 of a-z 0-9 _ . -")))
    }
}

fn check_name(name: &str) -> SiteResult<()> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(SiteError::Invalid("name must be 1..200 characters".into()));
    }
    Ok(())
}

fn check_contact(contact: &Contact) -> SiteResult<()> {
    let ok = contact.len() <= 16 && contact.iter().all(|(k, v)| (1..=32).contains(&k.len()) && v.len() <= 200);
    if ok {
        Ok(())
    } else {
        Err(SiteError::Invalid("contact: at most 16 entries, keys 1..32 and values up to 200 characters".into()))
    }
}

impl Decider for User {
    type State = UserState;
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = SiteError;

    fn decide(state: &UserState, command: UserCommand) -> SiteResult<Vec<UserEvent>> {
        if let UserCommand::RegisterUser { cid, name, contact, at } = command {
            if state.registered {
                return Err(SiteError::UserExists);
            }
            check_cid(&cid)?;
            check_name(&name)?;
            check_contact(&contact)?;
            return Ok(vec![UserEvent::UserRegistered { cid, name, contact, at }]);
        }
        if !state.registered {
            return Err(SiteError::UserMissing);
        }
        let closed = state.status == UserStatus::Closed;
        Ok(match command {
            UserCommand::RegisterUser { .. } => unreachable!("handled above"),
            _ if closed => return Err(SiteError::UserNotActive("closed")),
            UserCommand::EditUser { name, contact, at } => {
                let name = name.unwrap_or_else(|| state.name.clone());
                let contact = contact.unwrap_or_else(|| state.contact.clone());
                check_name(&name)?;
                check_contact(&contact)?;
                vec![UserEvent::UserEdited { name, contact, at }]
            }
            UserCommand::LockUser { at } if state.status == UserStatus::Active => {
                vec![UserEvent::UserLocked { at }]
            }
            UserCommand::UnlockUser { at } if state.status == UserStatus::Locked => {
                vec![UserEvent::UserUnlocked { at }]
            }
            UserCommand::LockUser { .. } | UserCommand::UnlockUser { .. } => vec![],
            UserCommand::CloseUser { at } => vec![UserEvent::UserClosed { at }],
            UserCommand::RegisterDeviceKey { key, ticket, at } => {
                key.check()?; // a standing credential: only a valid point is kept
                if state.device_keys.contains(&key) {
                    return Err(SiteError::KeyExists);
                }
                if state.device_keys.len() >= MAX_DEVICE_KEYS {
                    return Err(SiteError::Invalid(format!("at most {MAX_DEVICE_KEYS} device keys")));
                }
                vec![UserEvent::DeviceKeyRegistered { key, ticket, at }]
            }
        })
    }

    /// Every event but the first follows a registration; one that does not means a corrupt stream.
    fn evolve(mut state: UserState, event: &UserEvent) -> UserState {
        assert!(
            state.registered || matches!(event, UserEvent::UserRegistered { .. }),
            "{event:?} before UserRegistered"
        );
        match event {
            UserEvent::UserRegistered { cid, name, contact, .. } => {
                assert!(!state.registered, "a user registers once");
                state.registered = true;
                state.cid = cid.clone();
                state.name = name.clone();
                state.contact = contact.clone();
            }
            UserEvent::UserEdited { name, contact, .. } => {
                state.name = name.clone();
                state.contact = contact.clone();
            }
            UserEvent::UserLocked { .. } => state.status = UserStatus::Locked,
            UserEvent::UserUnlocked { .. } => state.status = UserStatus::Active,
            UserEvent::UserClosed { .. } => state.status = UserStatus::Closed,
            UserEvent::DeviceKeyRegistered { key, .. } => {
                state.device_keys.insert(*key);
            }
        }
        state
    }
}
