//! The User aggregate (stream `user-<cid>`): a CID unique on the site, name, contact data, status and the
//! device keys the user signs commands with.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::{SiteError, SiteResult};
use crate::crypto::PublicKey;
use crate::{Aggregate, Decider};

/// Most device keys one user may register: each is a standing credential, so their number is bounded.
pub const MAX_DEVICE_KEYS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    #[default]
    Active,
    Locked,
    Closed,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Locked => "locked",
            UserStatus::Closed => "closed",
        }
    }
}

/// Contact data as the admin enters it (`email`, `phone`, ...): free-form but bounded.
pub type Contact = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserState {
    pub cid: String,
    pub name: String,
    pub contact: Contact,
    pub status: UserStatus,
    pub device_keys: BTreeSet<PublicKey>,
    pub registered: bool,
}

impl UserState {
    /// Refuses anything but admin work for a user who is not active.
    pub fn require_active(&self) -> SiteResult<()> {
        if !self.registered {
            return Err(SiteError::UserMissing);
        }
        match self.status {
            UserStatus::Active => Ok(()),
            other => Err(SiteError::UserNotActive(other.as_str())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum UserCommand {
    RegisterUser {
        cid: String,
        name: String,
        contact: Contact,
        at: DateTime<Utc>,
    },
    EditUser {
        name: Option<String>,
        contact: Option<Contact>,
        at: DateTime<Utc>,
    },
    LockUser {
        at: DateTime<Utc>,
    },
    UnlockUser {
        at: DateTime<Utc>,
    },
    CloseUser {
        at: DateTime<Utc>,
    },
    /// From a redeemed connection ticket (`ticket` = its token hash) or from a dump being loaded (`ticket` = None).
    RegisterDeviceKey {
        key: PublicKey,
        ticket: Option<String>,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr)]
#[serde(tag = "type")]
pub enum UserEvent {
    UserRegistered { cid: String, name: String, contact: Contact, at: DateTime<Utc> },
    UserEdited { name: String, contact: Contact, at: DateTime<Utc> },
    UserLocked { at: DateTime<Utc> },
    UserUnlocked { at: DateTime<Utc> },
    UserClosed { at: DateTime<Utc> },
    DeviceKeyRegistered { key: PublicKey, ticket: Option<String>, at: DateTime<Utc> },
}

pub struct User;

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

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "user-";

impl Aggregate for User {
    /// A user is named by its CID.
    type Id = str;

    fn stream_id(cid: &str) -> String {
        format!("{STREAM_PREFIX}{cid}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
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

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    #[should_panic(expected = "before UserRegistered")]
    fn an_event_before_the_registration_is_a_corrupt_stream() {
        User::evolve(UserState::default(), &UserEvent::UserLocked { at: at() });
    }

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn run(state: UserState, command: UserCommand) -> SiteResult<UserState> {
        let events = User::decide(&state, command)?;
        Ok(events.iter().fold(state, User::evolve))
    }

    fn alice() -> UserState {
        let contact = Contact::from([("email".to_string(), "alice@example.org".to_string())]);
        run(
            UserState::default(),
            UserCommand::RegisterUser { cid: "alice".into(), name: "Alice".into(), contact, at: at() },
        )
        .unwrap()
    }

    #[test]
    fn register_edit_lock_unlock_close() {
        let state = alice();
        assert_eq!(state.require_active(), Ok(()));
        let again =
            UserCommand::RegisterUser { cid: "alice".into(), name: "A".into(), contact: Contact::new(), at: at() };
        assert_eq!(User::decide(&state, again), Err(SiteError::UserExists));
        let state =
            run(state, UserCommand::EditUser { name: Some("Alice B".into()), contact: None, at: at() }).unwrap();
        assert_eq!(state.name, "Alice B");
        assert_eq!(state.contact["email"], "alice@example.org");
        let state = run(state, UserCommand::LockUser { at: at() }).unwrap();
        assert_eq!(state.require_active(), Err(SiteError::UserNotActive("locked")));
        let state = run(state, UserCommand::UnlockUser { at: at() }).unwrap();
        assert_eq!(state.status, UserStatus::Active);
        let state = run(state, UserCommand::CloseUser { at: at() }).unwrap();
        assert_eq!(User::decide(&state, UserCommand::UnlockUser { at: at() }), Err(SiteError::UserNotActive("closed")));
    }

    #[test]
    fn bad_cids_are_refused() {
        for cid in ["", "Alice", "a b", "a:b", &"x".repeat(65)] {
            let cmd =
                UserCommand::RegisterUser { cid: cid.into(), name: "X".into(), contact: Contact::new(), at: at() };
            assert!(matches!(User::decide(&UserState::default(), cmd), Err(SiteError::Invalid(_))), "{cid}");
        }
    }

    #[test]
    fn device_keys_are_unique() {
        let key = PublicKey::of(&SigningKey::from_bytes(&[3; 32]));
        let cmd = || UserCommand::RegisterDeviceKey { key, ticket: None, at: at() };
        let state = run(alice(), cmd()).unwrap();
        assert!(state.device_keys.contains(&key));
        assert_eq!(User::decide(&state, cmd()), Err(SiteError::KeyExists));
        assert_eq!(User::decide(&UserState::default(), cmd()), Err(SiteError::UserMissing));
    }
}
